"""Chapter 3 (κ_high vs kernel size): presets, overrides, linear theory, analysis and figures.

The generic checks (grids, smoke run, resume, notebook at smoke) are in tests/test_chapters.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import spectra, sweep
from freqkit.experiments import ch03
from freqkit.figures import ch03 as figs

KS = [3, 11, 32]


# --------------------------------------------------------------------------- presets and grid
def test_presets_sizes() -> None:
    smoke, cpu, paper = (ch03.get_preset(n) for n in ("smoke", "cpu", "paper"))
    assert smoke.train.epochs == 1 and len(smoke.seeds) == 1 and smoke.n_train <= 1024
    assert len(ch03.configs(smoke)) <= 4
    assert cpu.kernel_sizes == paper.kernel_sizes == (3, 7, 9, 11, 15, 21, 32)
    assert cpu.depths == paper.depths == (1, 3)
    assert len(paper.seeds) == 5 and paper.train.epochs == 40 and paper.n_train is None
    for p in ch03.PRESETS.values():
        assert p.kappa_k == 15 and p.grayscale and p.epsilon_main in p.epsilons


@pytest.mark.parametrize("dataset, pad_to", [("cifar10", None), ("fashion-mnist", 32)])
def test_configs_grid(dataset: str, pad_to: int | None) -> None:
    p = ch03.get_preset("cpu")
    cs = ch03.configs(p, available=(dataset,))
    assert len(cs) == len(p.kernel_sizes) * len(p.depths) * len(p.seeds)
    assert {(c.model, c.grayscale, c.pad_to, c.dataset, c.kappa_k) for c in cs} == {
        ("lkc", True, pad_to, dataset, 15)}
    assert len({(c.depth, c.kernel_size, c.seed) for c in cs}) == len(cs)
    assert len({sweep.run_key(c) for c in cs}) == len(cs)  # one result file per run
    assert {c.train for c in cs} == {p.train}


def test_configs_overrides() -> None:
    # the first preferred dataset that is available; fixed_lr: one rate, no retries
    cs = ch03.configs("cpu", available=("mnist", "fashion-mnist"),
                      datasets=("svhn", "fashion-mnist", "mnist"), fixed_lr=0.02)
    assert {c.dataset for c in cs} == {"fashion-mnist"}
    assert {(c.train.lr, c.train.max_retries) for c in cs} == {(0.02, 0)}
    assert ch03.configs("cpu", available=("cifar10",), datasets="mnist") == []
    assert ch03.CHAPTER.overrides == ("datasets", "fixed_lr", "lr_rule")
    assert {c.lr_grid for c in cs} == {()}  # a fixed rate is not selected


def test_lr_rule_selects_from_the_preset_grid_and_keeps_the_retry_keys() -> None:
    p = ch03.get_preset("cpu")
    select, retry = (ch03.configs(p, available=("cifar10",), lr_rule=r) for r in ("select", "retry"))
    assert ch03.configs(p, available=("cifar10",)) == select  # the preset's rule: it has an lr_grid
    assert {c.lr_grid for c in select} == {p.lr_grid} and {c.lr_grid for c in retry} == {()}
    assert [c.grid_values() for c in select] == [c.grid_values() for c in retry]
    assert not {sweep.run_key(c) for c in select} & {sweep.run_key(c) for c in retry}
    # the retry-rule runs' JSON has no trace of the selection fields (keys as before they existed)
    assert all("lr_grid" not in json.loads(c.to_json()) for c in retry)
    with pytest.raises(ValueError, match="lr_rule='select' is not allowed with fixed_lr=0.01"):
        ch03.configs(p, lr_rule="select", fixed_lr=0.01)
    no_grid = dataclasses.replace(ch03.get_preset("smoke"), lr_grid=())
    with pytest.raises(ValueError, match="it has no lr_grid"):
        ch03.configs(no_grid, lr_rule="select")
    with pytest.raises(ValueError, match=r"lr_rule='best' is not allowed; use one of \('retry', 'select'\)"):
        ch03.configs(p, lr_rule="best")


@pytest.mark.parametrize("bad", [(), ("imagenet",), ["mnist", "cifar-10"]])
def test_run_rejects_bad_datasets_naming_them(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"datasets=.*not allowed"):
        ch03.run("smoke", tmp_path, datasets=bad, progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.01", True])
def test_run_rejects_bad_fixed_lr_naming_it(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"fixed_lr=.*not allowed"):
        ch03.run("smoke", tmp_path, fixed_lr=bad, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_run_overrides_combine_only_their_own_runs(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    fixed = ch03.run("smoke", tmp_path, datasets=("mnist", "fashion-mnist"), fixed_lr=0.02,
                     progress=False)
    assert fixed.dataset.values.tolist() == ["mnist"]  # the first that loads
    np.testing.assert_allclose(fixed.lr.values, 0.02)
    assert np.all(fixed.n_lr_tries.values == 1)
    base = ch03.run("smoke", tmp_path, datasets="mnist", progress=False)  # other files
    n = len(ch03.configs("smoke", datasets="mnist"))
    assert len(list(tmp_path.glob("*.nc"))) == 2 * n and base.attrs["n_runs"] == n
    assert np.all(base.lr.values == ch03.get_preset("smoke").train.lr)
    assert "curve_val_accuracy" in base and base.sizes["epoch"] == 1


# --------------------------------------------------------------------------- linear theory
def _self_convolved_box_power(k: int, n: int, depth: int) -> np.ndarray:
    """Power spectrum of the depth-fold circular self-convolution, computed in space."""
    box = np.zeros((n, n))
    box[:k, :k] = 1.0
    out = box.copy()
    for _ in range(depth - 1):  # circular convolution via explicit shifts (independent of FFT)
        acc = np.zeros((n, n))
        for i, j in zip(*np.nonzero(box)):
            acc += np.roll(np.roll(out, i, axis=0), j, axis=1)
        out = acc
    return spectra.power_spectrum(out)


@pytest.mark.parametrize("k, depth", [(3, 1), (3, 2), (5, 3), (15, 1), (9, 2), (32, 1)])
def test_box_kappa_matches_explicit_self_convolution(k: int, depth: int) -> None:
    n = 32
    expected = float(spectra.kappa_high(_self_convolved_box_power(k, n, depth), 15))
    assert ch03.box_kappa_high(k, n, 15, depth) == pytest.approx(expected, abs=1e-10)


def test_box_kappa_matches_spectra_closed_form() -> None:
    for k in (3, 7, 15):  # spectra's closed form uses band = kernel size
        assert ch03.box_kappa_high(k, 32, k) == pytest.approx(
            spectra.kappa_high_box_closed_form(k, 32), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(s=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_uncertainty_bound_is_a_lower_bound(s: int, seed: int) -> None:
    n = 32
    kernel = np.random.default_rng(seed).normal(size=(s, s))
    kappa = float(spectra.kappa_high(spectra.power_spectrum(kernel, size=n), 15))
    assert kappa >= ch03.uncertainty_kappa_bound(s, n, 15) - 1e-10


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_uncertainty_bound_is_attained_by_the_slepian_kernel(s: int) -> None:
    n, b = 32, 7
    d = np.subtract.outer(np.arange(s), np.arange(s)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(d == 0, (2 * b + 1) / n,
                     np.sin(np.pi * (2 * b + 1) * d / n) / (n * np.sin(np.pi * d / n)))
    v = np.linalg.eigh(a)[1][:, -1]
    kernel = np.outer(v, v)
    kappa = float(spectra.kappa_high(spectra.power_spectrum(kernel, size=n), 15))
    assert kappa == pytest.approx(ch03.uncertainty_kappa_bound(s, n, 15), abs=1e-10)
    if s == 1:
        assert kappa == pytest.approx(ch03.flat_kappa_high(32, 15))


def test_random_kernels_have_flat_expected_spectrum() -> None:
    flat = 1 - (15 / 32) ** 2
    assert ch03.flat_kappa_high(32, 15) == pytest.approx(flat)
    # a flat spectrum measured with spectra.kappa_high gives the same number
    assert float(spectra.kappa_high(np.ones((32, 32)), 15)) == pytest.approx(flat)
    for k, depth in ((3, 1), (11, 1), (7, 3)):
        mean, std = ch03.random_kernel_kappa_high(k, 32, 15, depth, draws=400, seed=1)
        assert abs(mean - flat) < 4 * std / np.sqrt(400) + 0.01
    # small kernels scatter more around the flat value than large ones
    assert ch03.random_kernel_kappa_high(3, 32, 15)[1] > ch03.random_kernel_kappa_high(21, 32, 15)[1]


def test_theory_curves_trends_and_notes() -> None:
    th = ch03.theory_curves(list(ch03.PAPER_KERNEL_SIZES), [1, 3], draws=64)
    assert th.box.dims == ("depth", "kernel_size")
    assert bool((th.box.sel(depth=1).diff("kernel_size") < 0).all())
    assert float(th.box.sel(depth=1, kernel_size=32)) == 0.0
    assert bool((th.bound <= th.box + 1e-12).all())
    # stacking identical boxes makes the product MORE low-pass, not less
    assert bool((th.box.sel(depth=3) <= th.box.sel(depth=1)).all())
    notes = ch03.theory_notes(th)
    assert notes["box"] == f"κ_high(15) = {ch03.box_kappa_high(3, 32, 15):.3f} at k = 3 and 0.000 at k = 32"
    assert notes["box_depth"].startswith("A stack of 3 identical boxes is more low-pass")
    assert "from k = 7 on" in notes["bound"]  # k = 3 at depth 1: 0.129 > 1e-3
    assert "above" in ch03.theory_notes(th.sel(kernel_size=[3]))["bound"]
    assert "Only one depth" in ch03.theory_notes(th.sel(depth=[1]))["box_depth"]


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0, "n": 32, "kappa_k": 15}, "k=0"),
    ({"k": 33, "n": 32, "kappa_k": 15}, "k=33"),
    ({"k": 3, "n": 32, "kappa_k": 40}, "kappa_k=40"),
    ({"k": 3, "n": 32, "kappa_k": 15, "depth": 0}, "depth=0"),
])
def test_box_kappa_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ch03.box_kappa_high(**kwargs)


# --------------------------------------------------------------------------- analysis
def test_claims_hold_on_a_paper_like_result() -> None:
    kb = np.array([[[0.80, 0.82], [0.50, 0.52], [0.10, 0.12]],
                   [[0.90, 0.92], [0.70, 0.71], [0.20, 0.30]]])
    claims = ch03.claims_table(ch03._toy_results(kb, kb * 0.9))
    assert len(claims) == 6 and set(claims.holds) == {"yes"}
    assert "0.810 → k=32: 0.110; Spearman ρ = -1.00; monotone" in claims.measured["falls-beta-L1"]
    assert claims.measured["depth-beta"] == "depth 1: 0.477, depth 3: 0.622"  # seed means


def test_claims_fail_when_kappa_rises_or_depth_lowers_it() -> None:
    kb = np.array([[[0.1] * 2, [0.5] * 2, [0.8] * 2], [[0.05] * 2, [0.3] * 2, [0.6] * 2]])
    th = ch03.theory_curves(KS, [1, 3], draws=8)
    claims = ch03.claims_table(ch03._toy_results(kb, kb), theory=th)
    assert claims.holds.tolist() == ["no"] * 6 + ["yes", "no"]
    assert claims.source.tolist()[-2:] == ["linear theory"] * 2
    s = ch03.kappa_summary(ch03._toy_results(kb, kb))
    text = ch03.verdict(claims, ch03.training_facts(s))
    assert text.startswith("**Verdict: not reproduced at this preset** (0 of 6 claim rows hold")
    assert "does not fall with kernel size at depth 1 and depth 3" in text
    assert "for neither β̂ nor δ̂, as the linear theory predicts" in text


def test_missing_values_make_a_claim_undetermined_not_false() -> None:
    kd = ch03._toy_results().delta_kappa_high.isel(model=0, dataset=0, nonlinearity=0,
                                                   epsilon=0).values.copy()
    kd[0, -1, :] = np.nan  # no successful attack at depth 1, k = 32
    claims = ch03.claims_table(ch03._toy_results(kd=kd))
    assert claims.holds["falls-delta-L1"] == "n/a" and "k=32: n/a" in claims.measured["falls-delta-L1"]
    assert claims.holds["falls-delta-L3"] == "yes"
    text = ch03.verdict(claims, {"preset": "cpu", "dataset": "x"})
    assert "(5 of 5 claim rows hold, 1 cannot be judged" in text
    assert "κ_high of δ̂ falls with kernel size at depth 3; cannot be judged at depth 1" in text


def test_failed_runs_are_left_out_of_kappa() -> None:
    ds = ch03._toy_results()
    ds["failed"] = xr.where((ds.depth == 1) & (ds.kernel_size == 3) & (ds.seed == 1), 1, ds.failed)
    ds["beta_kappa_high"] = xr.where(ds.failed == 1, 1e9, ds.beta_kappa_high)
    s = ch03.kappa_summary(ds)
    assert float(s.beta_kappa_high.sel(depth=1, kernel_size=3).mean()) == pytest.approx(0.8)
    assert ch03.training_facts(s)["n_failed"] == 1
    assert "0.800 → k=32" in ch03.claims_table(ds).measured["falls-beta-L1"]


def test_kappa_summary_rejects_several_models() -> None:
    ds = ch03._toy_results()
    two = xr.concat([ds, ds.assign_coords(model=["fc"])], dim="model")
    with pytest.raises(ValueError, match="2 values along 'model'"):
        ch03.kappa_summary(two)


def test_spearman_agrees_with_ranks_by_hand() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.permutation(9).astype(float), rng.normal(size=9)  # no ties
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    by_hand = 1 - 6 * np.sum((rx - ry) ** 2) / (9 * (9**2 - 1))
    assert ch03._rho(x, y) == pytest.approx(by_hand)
    assert ch03._rho(np.r_[x, np.nan], np.r_[y, 5.0]) == pytest.approx(by_hand)  # NaN pair dropped
    assert np.isnan(ch03._rho([1, 2, 3], [4, 4, 4])) and np.isnan(ch03._rho([1], [2]))


def test_learning_rate_confound_tables_and_control_rows() -> None:
    # depth 1: k=3 kept 0.1, k=11 and 32 kept 0.01; depth 3: k=32 seeds differ (0.1 / 0.01)
    lr = np.array([[0.1, 0.01, 0.01], [0.1, 0.1, 0.1]])
    ds = ch03._toy_results(lr=lr, kernel_sizes=[3, 11, 32])
    ds["lr"] = xr.where((ds.depth == 3) & (ds.kernel_size == 32) & (ds.seed == 1), 0.01, ds.lr)
    s = ch03.kappa_summary(ds)
    assert ch03.lr_table(s).values.tolist() == [["L = 1", "0.1", "0.01", "0.01"],
                                                ["L = 3", "0.1", "0.1", "0.1/0.01"]]
    facts = ch03.training_facts(s)
    assert facts["rates"] == [0.1, 0.01] and facts["rate_depends_on_k"]
    assert facts["n_retried"] == 4  # toy: n_lr_tries = 3 where `lr` (before the edit) < 0.1
    trends = ch03.same_rate_trends(s)
    assert trends[["depth", "lr", "kernel sizes"]].values.tolist() == [[1, 0.01, "11, 32"],
                                                                       [3, 0.1, "3, 11"]]
    np.testing.assert_allclose(trends["ρ(β̂, k)"], [-1.0, -1.0])
    # control rows need three kernel sizes at one rate: none here
    claims = ch03.claims_table(ds)
    assert not claims.index.str.startswith("control-").any()
    assert "the confound cannot be controlled here" in ch03.verdict(claims, facts)
    wide = ch03._toy_results(lr=np.array([[0.1, 0.01, 0.01, 0.01]] * 2), kernel_sizes=[3, 9, 21, 32])
    claims = ch03.claims_table(wide)
    assert claims.index[-2:].tolist() == ["control-L1", "control-L3"]
    assert claims.holds[-2:].tolist() == ["yes", "yes"]
    text = ch03.verdict(claims, ch03.training_facts(ch03.kappa_summary(wide)))
    assert "kept learning rate (0.1/0.01) depends on the kernel size" in text
    assert "falls with k for both β̂ and δ̂ (control rows: depth 1 and depth 3)" in text
    # no control row where the rate does not depend on k (depth 3 all at 0.1)
    half = ch03._toy_results(lr=np.array([[0.1, 0.01, 0.01, 0.01], [0.1] * 4]),
                             kernel_sizes=[3, 9, 21, 32])
    assert ch03.claims_table(half).index[-1] == "control-L1"


def test_training_facts_accuracy_and_correlation() -> None:
    s = ch03.kappa_summary(ch03._toy_results())
    f = ch03.training_facts(s)
    acc = s.test_accuracy.values.ravel()
    assert (f["n_runs"], f["acc_min"], f["acc_max"]) == (12, acc.min(), acc.max())
    assert f["rho_acc_kappa"] < -0.5  # toy: accuracy rises with k, κ falls
    assert f["train_minutes"] == pytest.approx(12 * 30 / 60)
    few = ch03.training_facts(s.isel(depth=[0], kernel_size=[0, 1]))  # 4 runs: too few
    assert np.isnan(few["rho_acc_kappa"]) and few["n_runs"] < ch03.MIN_CORRELATION_RUNS


def test_grid_and_settings_tables() -> None:
    s = ch03.kappa_summary(ch03._toy_results())
    t = ch03.grid_table(s, "test_accuracy", lambda v: f"{100 * v.mean():.1f} %")
    assert t.columns.tolist() == ["depth", "k = 3", "k = 11", "k = 32"]
    assert t.values.tolist()[0] == ["L = 1", "20.5 %", "30.5 %", "40.5 %"]
    retry = ch03.settings_table("cpu", "cifar10", lr_rule="retry").set_index("setting").value
    assert retry["learning rate"] == "0.1, retried at ×10, ×0.1, ×0.02 on failure (the paper's rule)"
    cpu = ch03.settings_table("cpu", "cifar10").set_index("setting").value
    assert cpu["learning rate"] == ("per run: the best validation accuracy of 0.1, 0.03, 0.01 after 1 epoch(s) "
                                    "of training at each; then retried at ×10, ×0.1, ×0.02 on failure "
                                    "(the paper's rule)")
    assert cpu["images"] == "cifar10, grayscale"
    assert cpu["kernel sizes"] == "3, 7, 9, 11, 15, 21, 32"


# --------------------------------------------------------------------------- figures
def test_fig_kappa_measured_and_theory_lines() -> None:
    s = ch03.kappa_summary(ch03._toy_results())
    th = ch03.theory_curves(KS, [1, 3], draws=8)
    fig = figs.fig_kappa(s, th, "delta_kappa_high")
    measured = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in measured] == ["LKC L = 1 (measured)", "LKC L = 3 (measured)"]
    np.testing.assert_allclose(measured[1].y, s.delta_kappa_high.sel(depth=3).mean("seed"))
    theory = [t for t in fig.data if t.name.endswith("(theory)")]
    assert len(theory) == 6
    np.testing.assert_allclose(theory[3].y, th.box.sel(depth=3).values)
    assert theory[3].line.color == measured[1].line.color  # a depth's theory in its colour
    assert "ε = 1" in fig.layout.title.text


def test_fig_learning_curves_one_colour_per_kernel_size() -> None:
    ds = ch03._toy_results(kernel_sizes=[3, 7, 11, 15, 21, 32, 5, 9, 13],
                           kb=np.full((2, 9, 2), 0.5))
    fig = figs.fig_learning_curves(ds)
    colors = {t.name: t.line.color for t in fig.data}
    assert len(colors) == 9 and len(set(colors.values())) == 9
    assert len(fig.data) == 3 * ds.sizes["depth"] * 9 * 2  # panels × depths × sizes × seeds
    assert fig.layout.annotations[-1].text == "L = 3"  # one row per depth


def test_fig_kappa_vs_accuracy_points() -> None:
    s = ch03.kappa_summary(ch03._toy_results())
    fig = figs.fig_kappa_vs_accuracy(s)
    np.testing.assert_allclose(fig.data[1].x, 100 * s.test_accuracy.sel(depth=3).values.ravel())
    np.testing.assert_allclose(fig.data[1].y, s.beta_kappa_high.sel(depth=3).values.ravel())
    line = fig.layout.shapes[0]
    assert line.y0 == pytest.approx(ch03.flat_kappa_high(32, 15))
    assert line.line.width > 0  # the book's template draws shapes with width 0 by default


def test_falls_rows_count_the_seeds_and_give_the_accuracy_spread() -> None:
    # seed 0 falls with k, seed 1 rises: the seed means still fall
    kb = np.array([[[0.9, 0.3], [0.5, 0.35], [0.1, 0.4]]] * 2)  # (depth, kernel_size, seed)
    c = ch03.claims_table(ch03._toy_results(kb=kb))
    row = c.loc["falls-beta-L1"]
    assert row.holds == "yes" and "falls in 1 of 2 seeds" in row.measured
    acc = ch03.kappa_summary(ch03._toy_results(kb=kb)).test_accuracy.sel(depth=1).mean("seed")
    assert row.measured.endswith(f"accuracy {100 * float(acc.min()):.1f}–{100 * float(acc.max()):.1f} % over k")


def test_rule_table_puts_each_rules_rates_next_to_its_accuracy() -> None:
    a = ch03.kappa_summary(ch03._toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.01]]))
    b = ch03.kappa_summary(ch03._toy_results(lr=[[0.03, 0.03, 0.03], [0.03, 0.03, 0.03]]))
    t = ch03.rule_table({"select": a, "retry": b})
    assert t[["rule", "depth"]].values.tolist() == [["select", "L = 1"], ["select", "L = 3"],
                                                   ["retry", "L = 1"], ["retry", "L = 3"]]
    acc = float(a.test_accuracy.sel(depth=3, kernel_size=11).mean())
    assert t.loc[1, "k = 11"] == f"0.1 · {100 * acc:.1f} %"
    assert set(t.loc[2:, "k = 3"].str.split(" · ").str[0]) == {"0.03"}
    with pytest.raises(ValueError, match="summaries=.*not allowed"):
        ch03.rule_table({})


def test_verdict_names_the_rule_that_ties_the_rate_to_k() -> None:
    ds = ch03._toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.01]])
    s = ch03.kappa_summary(ds)
    assert s.attrs["lr_rule"] == "retry"
    assert "Under the retry rule the kept" in ch03.verdict(ch03.claims_table(ds), ch03.training_facts(s))
    sel = ds.assign(lr_selected=ds.lr)
    s_sel = ch03.kappa_summary(sel)
    assert s_sel.attrs["lr_rule"] == "select"
    assert "Under per-run selection the chosen" in ch03.verdict(ch03.claims_table(sel), ch03.training_facts(s_sel))
