"""Chapter 1 (FC vs FKC norms): presets, grid, claim computation, and the notebook at smoke."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from freqkit import sweep
from freqkit.experiments import ch01

def test_presets_are_valid() -> None:
    for p in ch01.PRESETS.values():
        assert p.epsilon_main in p.epsilons
        assert set(p.models) == {"fc", "fkc"}
    assert ch01.PRESETS["paper"].train.epochs == 40
    assert len(ch01.PRESETS["paper"].seeds) == 5
    assert "cifar10" in ch01.PRESETS["paper"].datasets


@pytest.mark.parametrize("preset", ["smoke", "cpu", "paper"])
def test_configs_cover_the_grid_once(preset: str) -> None:
    p = ch01.get_preset(preset)
    cs = ch01.configs(preset)
    expected = len(p.datasets) * len(p.models) * len(p.depths) * len(p.nonlinearities) * len(p.seeds)
    assert len(cs) == expected
    assert len({sweep.run_key(c) for c in cs}) == expected
    grid = {(c.dataset, c.model, c.depth, c.nonlinearity, c.seed) for c in cs}
    assert grid == set(itertools.product(p.datasets, p.models, p.depths, p.nonlinearities, p.seeds))
    assert all(c.kernel_size is None and c.train == p.train for c in cs)
    assert ch01.configs(preset, available=()) == []


def _fake_results(sparsity_fc: float, sparsity_fkc: list[float], *, l2_fkc: float = 2.0,
                  seeds: tuple[int, ...] = (0, 1)) -> xr.Dataset:
    """Hand-made combined results: ‖β‖₂ = 1 (FC) or ``l2_fkc``, ‖β̂‖₁ = sparsity·‖β‖₂, margin 1."""
    runs = []
    for model, depth, nl, seed in itertools.product(("fc", "fkc"), (1, 2, 3), ("linear",), seeds):
        sp = sparsity_fc if model == "fc" else sparsity_fkc[depth - 1]
        l2 = l2_fkc if model == "fkc" else 1.0
        run = xr.Dataset({
            "beta_l1_hat": ((), sp * l2), "beta_l2_hat": ((), l2), "beta_l2": ((), l2),
            "margin_median": ((), 1.0), "failed": ((), 0),
            "delta_avg_l1_hat": (("epsilon",), [sp * 0.5]), "delta_avg_l2_hat": (("epsilon",), [0.5]),
        }, coords={"epsilon": [1.0]})
        runs.append(sweep.expand_run_dims(run, {"model": model, "dataset": "toy", "depth": depth,
                                                "nonlinearity": nl, "kernel_size": 0, "seed": seed}))
    return xr.combine_by_coords(runs, join="outer")


def test_norm_summary_max_normalises_over_models_and_depths() -> None:
    ds = _fake_results(30.0, [30.0, 20.0, 10.0])
    s = ch01.norm_summary(ds, 1.0)
    m = s.beta_l1_hat_maxnorm.mean("seed").sel(dataset="toy", nonlinearity="linear")
    assert float(m.max()) == pytest.approx(1.0)
    # fkc depth 1: l1_hat = 30 * 2 = 60 is the largest; fc: 30
    assert float(m.sel(model="fc", depth=1)) == pytest.approx(0.5)
    np.testing.assert_allclose(s.beta_sparsity.sel(model="fkc").mean("seed").values.ravel(),
                               [30.0, 20.0, 10.0])
    np.testing.assert_allclose(s.beta_l2_per_margin.sel(model="fkc").values, 2.0)


def test_claims_table_says_yes_when_fkc_is_sparser_and_no_otherwise() -> None:
    good = ch01.claims_table(_fake_results(30.0, [30.0, 20.0, 10.0]), 1.0)
    assert list(good.claim.str[:3]) == ["FKC", "FKC", "FKC", "FC "]
    assert list(good.holds) == ["yes", "yes", "yes", "yes"]  # FC ‖β‖₂/margin 1 < FKC 2
    assert "L=3: 10" in good.measured[1]
    bad = ch01.claims_table(_fake_results(10.0, [30.0, 40.0, 50.0], l2_fkc=0.5), 1.0)
    assert list(bad.holds) == ["no", "no", "no", "no"]


def test_failed_runs_are_left_out() -> None:
    ds = _fake_results(30.0, [30.0, 20.0, 10.0])
    ds["beta_l1_hat"] = ds.beta_l1_hat.where(~((ds.model == "fkc") & (ds.depth == 3) & (ds.seed == 1)), 1e9)
    ds["failed"] = xr.where((ds.model == "fkc") & (ds.depth == 3) & (ds.seed == 1), 1, ds.failed)
    s = ch01.norm_summary(ds, 1.0)
    assert s.beta_sparsity.sel(model="fkc", depth=3).mean("seed").item() == pytest.approx(10.0)


def test_claims_count_the_seeds_in_which_each_claim_holds() -> None:
    ds = ch01._toy_results()
    # sparsity = l1/l2: FKC at depth 2 sparser than FC in seed 0 only (by 3 vs 10 and 12 vs 10)
    l1 = ds.beta_l1_hat.copy()
    l1.loc[{"model": "fkc", "depth": 2, "seed": 0}] = 3.0 * ds.beta_l2_hat.sel(model="fkc", depth=2, seed=0)
    l1.loc[{"model": "fkc", "depth": 2, "seed": 1}] = 12.0 * ds.beta_l2_hat.sel(model="fkc", depth=2, seed=1)
    c = ch01.claims_table(ds.assign(beta_l1_hat=l1), 1.0).set_index("claim")
    row = c.loc["FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)"]
    assert (row.holds, row.seeds) == ("yes", "1 of 2")  # mean 7.5 < 10, but one seed of two
    # a failed run leaves its seed out of the count
    failed = ds.failed.copy()
    failed.loc[{"model": "fc", "depth": 2, "seed": 1}] = 1
    c = ch01.claims_table(ds.assign(beta_l1_hat=l1, failed=failed), 1.0).set_index("claim")
    assert c.loc["FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)"].seeds == "1 of 1"


def test_a_claim_without_its_values_is_not_judged() -> None:
    ds = ch01._toy_results()
    failed = ds.failed.copy()
    failed.loc[{"model": "fkc", "depth": 2}] = 1  # every seed of FKC at depth 2 failed
    c = ch01.claims_table(ds.assign(failed=failed), 1.0).set_index("claim")
    assert (c.loc["FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)", ["holds", "seeds"]] == ["n/a", "0 of 0"]).all()


def test_trained_only_leaves_out_the_runs_whose_curve_still_climbs() -> None:
    ds = ch01._toy_results()
    dims = (*ds.failed.dims, "epoch")
    flat = np.broadcast_to(np.array([0.5, 0.6, 0.6, 0.6, 0.6]), (*ds.failed.shape, 5)).copy()
    climbing = flat.copy()
    idx = tuple(ds.failed.get_axis_num(d) for d in ("model", "depth", "seed"))
    sel = [slice(None)] * ds.failed.ndim
    sel[idx[0]], sel[idx[1]], sel[idx[2]] = 1, 1, 0  # FKC, depth 2, seed 0
    climbing[tuple(sel)] = [0.2, 0.3, 0.4, 0.5, 0.6]
    with_curves = ds.assign(curve_val_accuracy=(dims, climbing)).assign_coords(epoch=np.arange(1, 6))
    s = ch01.norm_summary(with_curves, 1.0, trained_only=True)
    assert np.isnan(float(s.beta_sparsity.sel(model="fkc", depth=2, seed=0).squeeze()))
    assert int(s.beta_sparsity.notnull().sum()) == int(ch01.norm_summary(ds, 1.0).beta_sparsity.notnull().sum()) - 1
    seeds = ch01.claims_table(with_curves, 1.0, trained_only=True).set_index("claim").seeds
    assert seeds["FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)"].endswith("of 1")  # seed 0 left out
    with pytest.raises(ValueError, match="curve_val_accuracy"):
        ch01.norm_summary(ds, 1.0, trained_only=True)
