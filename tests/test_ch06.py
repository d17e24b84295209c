"""Chapter 6 (aliasing, robust overfitting, early stopping): presets, grid, measurements and pure analysis."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr

from freqkit import spectra, sweep
from freqkit.experiments import ch06


# --------------------------------------------------------------------------- presets and grid


def test_presets_are_valid():
    cpu, paper = ch06.get_preset("cpu"), ch06.get_preset("paper")
    assert [r.label for r in cpu.runs] == ["standard", "pgd", "fgsm", "fgsm-co", "fgsm-co-zero"]
    assert ("preact-resnet18", 64, None) in paper.models and ("wide-resnet", 10, 28) in paper.models
    assert paper.epochs == 200 and paper.n_train is None
    for p in ch06.PRESETS.values():
        assert p.n_eval <= p.n_val and p.datasets == ("cifar10",)


@pytest.mark.parametrize("preset", ["smoke", "cpu", "paper"])
def test_configs_cover_the_grid_once(preset):
    p = ch06.get_preset(preset)
    cs = ch06.configs(preset)
    assert len(cs) == len(p.models) * len(p.runs) * len(p.seeds)
    assert len({sweep.run_key(c) for c in cs}) == len(cs)
    assert all(math.isclose(c.train.eval_epsilon, 8 / 255) for c in cs)
    fgsm = [c for c in cs if c.label == "fgsm"]
    for c in fgsm:  # Wong et al.'s defaults
        assert math.isclose(c.train.resolved_alpha, 10 / 255) and c.train.lr_max == 0.2
    assert ch06.configs(preset, available=()) == []


# --------------------------------------------------------------------------- kernel smoothness


def test_kernel_smoothness_of_a_delta_kernel_has_a_closed_form():
    """A centred delta has a flat spectrum: the high-energy fraction is the share of grid points outside radius 8."""
    w = torch.zeros(2, 3, 3, 3)
    w[:, :, 1, 1] = 1.0
    out = ch06.kernel_smoothness(w, size=32, k=16)
    my, mx = spectra.frequency_index(32)
    expected = float(((my**2 + mx**2) > 64).mean())
    assert math.isclose(out["high_energy"], expected, rel_tol=1e-9)
    assert math.isclose(out["total_variation"], 4.0)  # four unit steps around the centre, |w|₁ = 1


def test_kernel_smoothness_is_scale_free_and_orders_smooth_before_rough():
    g = torch.Generator().manual_seed(0)
    rough = torch.randn(4, 3, 3, 3, generator=g)
    smooth = torch.ones(4, 3, 3, 3) + 0.05 * rough
    a, b = ch06.kernel_smoothness(rough), ch06.kernel_smoothness(8.0 * rough)  # exact in float32
    assert math.isclose(a["high_energy"], b["high_energy"], rel_tol=1e-9)
    assert math.isclose(a["total_variation"], b["total_variation"], rel_tol=1e-9)
    s = ch06.kernel_smoothness(smooth)
    assert s["high_energy"] < a["high_energy"] and s["total_variation"] < a["total_variation"]
    with pytest.raises(ValueError, match="all-zero kernel"):
        ch06.kernel_smoothness(torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"weight must be a \(C_out, C_in, h, w\) tensor"):
        ch06.kernel_smoothness(torch.zeros(3, 3))


# --------------------------------------------------------------------------- pure analysis


def test_collapse_epoch():
    assert ch06.collapse_epoch([0.1, 0.3, 0.32, 0.31, 0.1, 0.0]) == 4
    assert ch06.collapse_epoch([0.1, 0.3, 0.2]) is None  # 0.2 is not below half of 0.3
    assert ch06.collapse_epoch([0.1, 0.12, 0.05]) is None  # a drop of 0.07 < min_drop
    assert ch06.collapse_epoch([0.4]) is None


def _fake_results():
    """standard aliases most; pgd least (more so in layer2); fgsm-co collapses at epoch 6 with an aliasing jump."""
    return ch06._toy_results()


def test_stopping_table_finds_both_rules_on_the_same_run():
    st = ch06.stopping_table(_fake_results(), thresholds=(0.3, 0.33, 0.95))
    co = st[st.run == "fgsm-co"].set_index("threshold")
    assert (co.pgd_epoch == 5).all() and co.pgd_triggered.all()
    assert co.loc[0.33, "aliasing_epoch"] == 5 and co.loc[0.33, "epochs_apart"] == 0
    assert not co.loc[0.95, "aliasing_triggered"] and math.isnan(co.loc[0.95, "epochs_apart"])
    assert co.loc[0.95, "aliasing_epoch"] == 8  # never triggered: the last epoch
    assert math.isclose(co.loc[0.33, "pgd_at_pgd_stop"], 0.38)
    assert math.isclose(co.loc[0.33, "cost_ratio"], 0.1)
    std = st[st.run == "standard"]
    assert not std.pgd_triggered.any() and not std.aliasing_triggered.any()


def test_overfitting_table_correlation_and_jump():
    over = ch06.overfitting_table(_fake_results()).set_index("run")
    assert over.loc["fgsm-co", "collapse_epoch"] == 6 and over.loc["fgsm-co", "aliasing_jump_epoch"] == 6
    assert over.loc["fgsm-co", "pearson"] < -0.9
    assert math.isclose(over.loc["fgsm-co", "aliasing_before"], 1.0)
    assert over.loc["pgd", "collapse_epoch"] is None or pd_isna(over.loc["pgd", "collapse_epoch"])
    assert math.isnan(over.loc["standard", "pearson"])  # constant series


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_claims_table_on_hand_made_results():
    claims = ch06.claims_table(_fake_results()).set_index(ch06.claims_table(_fake_results()).claim.str[:3])
    assert claims.loc["1. ", "holds"] == "yes"
    assert claims.loc["2. ", "holds"] == "yes"  # pgd: layer2 -50 %, layer3 -20 %
    assert "layer2 +50%" in claims.loc["2. ", "measured"]
    assert claims.loc["3. ", "holds"] == "yes"
    assert claims.loc["4. ", "holds"] == "yes"
    assert claims.loc["4b.", "holds"] == "yes"
    assert claims.loc["5a.", "holds"] == "yes" and claims.loc["5b.", "holds"] == "yes"


def test_claims_table_says_no_when_aliasing_does_not_move():
    ds = _fake_results()
    ds["aliasing_stage"] = ds.aliasing_stage.where(ds.run != "fgsm-co", 1.0)
    claims = ch06.claims_table(ds)
    row3 = claims[claims.claim.str.startswith("3.")].iloc[0]
    assert row3.holds == "no" and "aliasing jump at None" in row3.measured
    row4 = claims[claims.claim.str.startswith("4.")].iloc[0]
    assert row4.holds == "no"


# --------------------------------------------------------------------------- the run, end to end


@pytest.mark.slow
def test_smoke_run_end_to_end(shared_data, tmp_path):
    ds = ch06.run("smoke", tmp_path, progress=False, device="cpu")
    assert set(ds.run.values) == {"standard", "fgsm-co"}
    assert ds.sizes["epoch"] == 3 and ds.sizes["layer"] == 6
    assert bool((ds.aliasing.sel(epoch=0) > 0).all())
    assert set(ds.checkpoint.values) == set(ch06.CHECKPOINTS)
    assert len(ch06.claims_table(ds)) >= 4
    again = ch06.run("smoke", tmp_path, progress=False, device="cpu")  # resumes: nothing recomputed
    xr.testing.assert_identical(ds.drop_attrs(), again.drop_attrs())
