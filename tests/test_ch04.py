"""Chapter 4 (steganographic shortcuts): run configs, grid, one run on synthetic data,
gain / table-1 / claims / verdict arithmetic and the figures.

The generic checks (presets, smoke run, resume, other grids' files, notebook at
smoke) are in tests/test_chapters.py.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import xarray as xr

from freqkit import data, spectra, stego, sweep
from freqkit.experiments import ch04, common, scaffold
from freqkit.figures import ch04 as figs
from freqkit.train import TrainConfig


# --------------------------------------------------------------------------- configs and grid
def test_presets_keep_the_paper_grid() -> None:
    cpu, paper = ch04.get_preset("cpu"), ch04.get_preset("paper")
    assert cpu.bands == paper.bands == ("clean", "low", "mid", "high")
    assert len(paper.seeds) == 5 and paper.train.epochs == 40 and paper.n_train is None
    for p in ch04.PRESETS.values():
        assert [m.name for m in p.models] == ["fkc", "lc", "lkc"]
        assert p.datasets[0] == "cifar10" and "clean" in p.bands


def test_configs_use_the_first_available_dataset_of_the_preset() -> None:
    p = ch04.get_preset("cpu")
    assert {c.dataset for c in ch04.configs(p, available=("fashion-mnist", "cifar10"))} \
        == {"cifar10"}  # preset order, not the order of `available`
    assert {c.dataset for c in ch04.configs(p, available=("fashion-mnist",))} == {"fashion-mnist"}
    assert ch04.configs(p, available=("svhn",)) == []
    assert ch04.CHAPTER.check_data is scaffold.check_first_available


def test_configs_grid_is_models_x_bands_x_seeds() -> None:
    p = ch04.get_preset("cpu")
    cs = ch04.configs(p, available=("fashion-mnist",))
    shortcut = sum(b != "clean" for b in p.bands)
    assert p.equal_psnr_db is not None  # every shortcut band twice: fixed ε and equal PSNR
    assert len(cs) == len(p.models) * (1 + 2 * shortcut) * len(p.seeds) * len(p.nonlinearities)
    assert len({tuple(c.grid_values().values()) for c in cs}) == len(cs)
    assert {c.nonlinearity for c in cs} == {"linear", "relu"}
    # one feature set for every run; clean runs carry no feature and run once
    assert {c.feature_seed for c in cs} == {p.feature_seed}
    assert {c.epsilon for c in cs if c.band == "clean"} == {0.0}
    assert {c.psnr_db for c in cs if c.band == "clean"} == {None}
    assert {c.epsilon for c in cs if c.band != "clean"} == {p.epsilon}
    assert {c.psnr_db for c in cs if c.band != "clean"} == {None, p.equal_psnr_db}
    # the fixed-ε runs keep the keys they had before equal-PSNR runs existed
    assert all("psnr_db" not in c.to_dict() for c in cs if c.psnr_db is None)
    for c in cs:
        if c.band != "clean":
            assert (c.band_lo, c.band_hi) == ch04.BAND_EDGES[c.band]


@pytest.mark.parametrize("n", [28, 32])
def test_band_edges_give_the_masks_of_spectra_bands(n: int) -> None:
    masks = []
    for name, (lo, hi) in ch04.BAND_EDGES.items():
        mask = spectra.band_mask(n, lo, hi)
        np.testing.assert_array_equal(mask, spectra.band_mask(n, *spectra.BANDS[name]))
        masks.append(mask)
    # the three bands tile the spectrum
    np.testing.assert_array_equal(np.sum(masks, axis=0), np.ones((n, n)))


@pytest.mark.parametrize("kwargs, match", [
    ({"band": "ultra"}, "band='ultra'"),
    ({"band": "high", "band_lo": 0.3, "band_hi": 0.2, "epsilon": 1.0}, "band_lo=0.3"),
    ({"band": "high", "band_lo": 0.25, "band_hi": math.inf, "epsilon": 1.0},
     "band_hi=inf"),
    ({"band": "mid", "band_lo": 0.1, "band_hi": 0.2, "epsilon": 0.0}, "epsilon=0.0"),
    ({"n_examples": -1}, "n_examples=-1"),
    ({"train": {"epochs": 1}}, "train="),
])
def test_run_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ch04.StegoRunConfig(**kwargs)


def test_run_config_json_is_the_canonical_one_and_round_trips() -> None:
    for cfg in ch04.configs("cpu"):
        assert cfg.to_json() == sweep.config_json(cfg)
        assert ch04.StegoRunConfig.from_dict(cfg.to_dict()) == cfg
        assert sweep.run_key(cfg.to_dict()) == sweep.run_key(cfg)
    assert json.loads(ch04.configs("cpu")[0].to_json())["train"]["epochs"] == 6


def test_example_indices_pick_one_image_per_class() -> None:
    y = np.array([2, 2, 0, 1, 0, 3, 1])
    idx = ch04._example_indices(y, 4)
    assert idx.tolist() == [2, 3, 0, 5]
    assert sorted(y[idx].tolist()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- one run (synthetic)
def _synthetic_splits(n: int = 8, k: int = 4) -> data.DatasetSplits:
    gen = torch.Generator().manual_seed(0)

    def part(size: int) -> data.TensorData:
        return data.TensorData(torch.rand((size, 1, n, n), generator=gen),
                               torch.arange(size) % k)

    return data.DatasetSplits(
        train=part(64), val=part(16), test=part(24), num_classes=k,
        classes=tuple(f"c{i}" for i in range(k)), image_shape=(1, n, n), name="synthetic",
        source="synthetic:test", checksum="sha256-uint8:0", seed=0, grayscale=True,
        indices=data.SplitIndices(np.arange(64), np.arange(16), np.arange(24)))


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> data.DatasetSplits:
    splits = _synthetic_splits()
    monkeypatch.setattr(common, "load_splits", lambda *args, **kwargs: splits)
    return splits


def _cfg(band: str, **kw) -> ch04.StegoRunConfig:
    lo, hi = ch04.BAND_EDGES.get(band, (0.0, 0.0))
    return ch04.StegoRunConfig(
        dataset="synthetic", model="lkc", channels=2, kernel_size=3, band=band, band_lo=lo,
        band_hi=hi, epsilon=0.5 if band != "clean" else 0.0, n_examples=3,
        train=TrainConfig(epochs=2, batch_size=16, chance_patience=0, max_retries=0), **kw)


def test_run_one_stores_the_band_limited_feature_psnr_and_learning_curve(synthetic) -> None:
    cfg = _cfg("high")
    ds = ch04.run_one(cfg)
    assert ds.sizes["model"] == ds.sizes["band"] == ds.sizes["seed"] == 1
    one = ds.isel(model=0, band=0, seed=0, nonlinearity=0, scaling=0)
    feats = stego.class_features(4, (1, 8, 8), (cfg.band_lo, cfg.band_hi), cfg.epsilon,
                                 cfg.feature_seed).numpy()
    labels = one.example_label.values
    # the stored feature is the class's feature and the difference of the stored images
    np.testing.assert_allclose(one.example_feature.values, feats[labels], atol=1e-6)
    np.testing.assert_allclose(one.example_modified - one.example_clean,
                               one.example_feature, atol=1e-6)
    # ... and it is band-limited: no power outside [band_lo, band_hi)
    power = np.abs(np.fft.fftshift(np.fft.fft2(one.example_feature.values), axes=(-2, -1))) ** 2
    outside = ~spectra.band_mask(8, cfg.band_lo, cfg.band_hi).astype(bool)
    assert power[..., outside].max() < 1e-9 * power.max()
    # PSNR of x + f_y vs x (no clipping) is -10 log10(mean f_y^2), averaged over test images
    y = synthetic.test.y.numpy()
    expected = np.mean(-10 * np.log10((feats[y] ** 2).mean(axis=(1, 2, 3))))
    assert float(one.psnr_db) == pytest.approx(expected, rel=1e-5)
    assert float(one.feature_rms) == pytest.approx(float(np.sqrt((feats ** 2).mean())), rel=1e-5)
    # swap test: "true class" and "feature's class" are different classes
    assert 0 <= float(one.shortcut_rate) + float(one.swapped_accuracy) <= 1
    # learning curve of the kept attempt, and the attempt record
    assert one.epoch.values.tolist() == [1, 2]
    best = int(one.best_epoch)
    assert float(one.curve_val_accuracy.sel(epoch=best)) == pytest.approx(float(one.val_accuracy))
    lrs, reasons = json.loads(ds.attrs["lrs_tried"]), json.loads(ds.attrs["failure_reasons"])
    assert lrs == [pytest.approx(float(one.lr))]  # max_retries=0: one attempt
    assert len(reasons) == len(lrs) - (0 if int(one.failed) else 1)
    assert json.loads(ds.attrs["config"]) == cfg.to_dict()


@pytest.mark.parametrize("band", ["low", "high"])
def test_run_one_at_equal_psnr_scales_the_feature_to_the_target(synthetic, band: str) -> None:
    cfg = _cfg(band, psnr_db=30.0)
    one = ch04.run_one(cfg).isel(model=0, band=0, seed=0, nonlinearity=0, scaling=0)
    assert str(one.scaling.values) == "psnr"
    feats = stego.class_features(4, (1, 8, 8), (cfg.band_lo, cfg.band_hi), cfg.epsilon,
                                 cfg.feature_seed).numpy().astype(np.float64)
    feats *= 10 ** (-30 / 20) / np.sqrt((feats ** 2).mean(axis=(1, 2, 3), keepdims=True))  # by hand
    np.testing.assert_allclose(one.example_feature.values, feats[one.example_label.values], atol=1e-6)
    # the same direction as the fixed-ε feature of the class, only its size changed
    assert float(one.feature_rms) == pytest.approx(10 ** (-30 / 20), rel=1e-5)
    assert float(one.psnr_db) == pytest.approx(30.0, abs=1e-4)  # every image exactly at the target


def test_at_scaling_fills_the_clean_baseline_and_pairs_gains_with_it() -> None:
    acc_eps = np.array([[[0.40, 0.50], [0.60, 0.70]]])      # (model, band, seed)
    acc_psnr = np.array([[[np.nan, np.nan], [0.90, 0.80]]])  # clean runs only once
    eps = _fake_results(acc_eps, models=("lkc",), bands=("clean", "low"))
    psnr = _fake_results(acc_psnr, models=("lkc",), bands=("clean", "low"))
    both = xr.concat([eps.expand_dims(scaling=["epsilon"]), psnr.expand_dims(scaling=["psnr"])], "scaling")
    sel = ch04.at_scaling(both, "psnr")
    assert "scaling" not in sel.dims
    np.testing.assert_allclose(sel.test_accuracy.values, [[[0.40, 0.50], [0.90, 0.80]]])
    g = ch04.gain_summary(sel).gain_mean.sel(model="lkc", band="low")
    assert float(g) == pytest.approx(np.mean([0.50, 0.30]))
    xr.testing.assert_identical(ch04.at_scaling(both, "epsilon").test_accuracy, eps.test_accuracy)
    with pytest.raises(ValueError, match="pick one with ch04.at_scaling"):
        ch04.gain_summary(both)
    with pytest.raises(ValueError, match="scaling='psnr' is not allowed"):
        ch04.at_scaling(eps, "psnr")


def test_claims_count_the_seeds_in_which_the_gain_order_holds() -> None:
    # seed 0 follows FKC < LC < LKC, seed 1 reverses LC and LKC
    clean = [0.3, 0.3]
    acc = np.array([[clean, [0.31, 0.31]], [clean, [0.40, 0.50]], [clean, [0.50, 0.40]]])
    c = ch04.claims_table(_fake_results(acc, bands=("clean", "high")))
    row = c[c.claim.str.startswith("high-band gain orders")].iloc[0]
    assert row.measured.endswith("; in 1 of 2 seeds")
    assert row.holds == "no"  # seed means: LC +15.0 = LKC +15.0


def test_run_one_clean_baseline_adds_nothing(synthetic) -> None:
    one = ch04.run_one(_cfg("clean")).isel(model=0, band=0, seed=0, nonlinearity=0, scaling=0)
    assert math.isnan(float(one.psnr_db)) and math.isnan(float(one.shortcut_rate))
    np.testing.assert_array_equal(one.example_feature.values, 0.0)
    np.testing.assert_array_equal(one.example_modified.values, one.example_clean.values)
    assert float(one.feature_rms) == 0.0


# --------------------------------------------------------------------------- gain, table 1, claims
def _fake_results(acc: np.ndarray, psnr: float = 35.0,
                  models: tuple[str, ...] = ("fkc", "lc", "lkc"),
                  bands: tuple[str, ...] = ("clean", "low", "mid", "high"),
                  rms: dict[str, float] | None = None) -> xr.Dataset:
    dims = ("model", "band", "seed")
    clean = np.array(bands)[None, :, None] == "clean"
    rms = rms or {"low": 0.01, "mid": 0.02, "high": 0.04}
    feature_rms = np.array([rms.get(b, 0.0) for b in bands])[None, :, None] * np.ones(acc.shape)
    return xr.Dataset(
        {"test_accuracy": (dims, acc),
         "psnr_db": (dims, np.where(clean, np.nan, psnr) * np.ones(acc.shape)),
         "feature_rms": (dims, feature_rms),
         "shortcut_rate": (dims, np.where(clean, np.nan, 0.12) * np.ones(acc.shape)),
         "swapped_accuracy": (dims, np.where(clean, np.nan, 0.2) * np.ones(acc.shape))},
        coords={"model": list(models), "band": list(bands), "seed": np.arange(acc.shape[-1])},
        attrs={"class_names": json.dumps([str(i) for i in range(10)])},
    )


def test_gain_is_paired_by_seed() -> None:
    # seed 0: clean 0.40 -> high 0.70; seed 1: clean 0.50 -> high 0.70
    acc = np.array([[[0.40, 0.50], [0.70, 0.70]]])
    s = ch04.gain_summary(_fake_results(acc, models=("lkc",), bands=("clean", "high")))
    g = s.sel(model="lkc", band="high")
    assert float(g.gain_mean) == pytest.approx(0.25)
    assert float(g.gain_std) == pytest.approx(np.std([0.30, 0.20], ddof=1))
    assert float(g.accuracy_mean) == pytest.approx(0.70) and float(g.accuracy_std) == 0.0
    assert float(s.gain_mean.sel(model="lkc", band="clean")) == 0.0
    assert int(g.n_seeds) == 2 and float(g.psnr_db_mean) == 35.0


def test_single_seed_std_is_nan_and_left_out_of_table1() -> None:
    acc = np.array([[[0.4], [0.6]]])
    ds = _fake_results(acc, models=("lkc",), bands=("clean", "high"))
    assert np.isnan(float(ch04.gain_summary(ds).gain_std.sel(model="lkc", band="high")))
    assert ch04.table1(ds)["gain (pts)"].tolist() == ["", "+20.0"]


def _paper_like() -> np.ndarray:
    clean = np.array([0.40, 0.45, 0.50])
    rows = []
    for c, g in zip(clean, (0.015, 0.13, 0.31)):
        rows.append([[c, c], [1.0, 0.99], [c + g, c + g], [c + g + 0.01, c + g + 0.01]])
    return np.array(rows)


def test_table1_matches_a_by_hand_computation_and_names_the_paper() -> None:
    acc = _paper_like()
    acc[2, 3] = [0.80, 0.86]  # LKC high: gains 0.30 and 0.36 over clean 0.50
    t = ch04.table1(_fake_results(acc)).set_index(["model", "band"])
    gains = acc[2, 3] - acc[2, 0]
    assert t.loc[("LKC", "high"), "gain (pts)"] == \
        f"{100 * gains.mean():+.1f} ± {100 * np.std(gains, ddof=1):.1f}"
    assert t.loc[("LKC", "high"), "accuracy (%)"] == "83.0 ± 4.2"
    assert t.loc[("LKC", "high"), "paper"] == "gain ≈ +31 pts"
    assert t.loc[("FKC", "low"), "paper"] == "≈100 % accuracy"
    assert t.loc[("LC", "clean"), "PSNR (dB)"] == "" and t.loc[("LC", "mid"), "PSNR (dB)"] == "35.0"
    assert len(t) == 3 * 4


def test_claims_hold_on_the_paper_table() -> None:
    claims = ch04.claims_table(_fake_results(_paper_like()))
    assert claims.holds.tolist() == ["yes"] * 6
    assert "LKC +31.0" in claims.measured[1]
    assert claims.paper[1] == "1.5 < 13 < 31 points"
    assert claims.measured.iloc[-1] == "low 35.0 dB, mid 35.0 dB, high 35.0 dB"
    assert ch04.verdict(_fake_results(_paper_like())).startswith(
        "**Verdict: reproduced** — 6 of 6 claims hold")


def test_claims_fail_when_gains_reverse_and_psnr_is_low() -> None:
    acc = _paper_like()[::-1].copy()  # model order reversed: FKC now gains most
    acc[:, 1] = 0.5                   # low band no longer ≈100 %
    ds = _fake_results(acc, psnr=20.0)
    claims = ch04.claims_table(ds)
    assert claims.holds.tolist() == ["no"] * 6
    text = ch04.verdict(ds, claims)
    assert text.startswith("**Verdict: not reproduced** — 0 of 6 claims hold")
    assert text.count("(paper ") == 6


def test_verdict_names_failing_claims_and_the_feature_strength_from_the_data() -> None:
    acc = _paper_like()
    acc[:, 1] = acc[:, 0] + 0.01   # low band: no model near 100 %
    ds = _fake_results(acc, rms={"low": 0.01, "mid": 0.02, "high": 0.04})
    text = ch04.verdict(ds)
    assert text.startswith("**Verdict: partly reproduced** — 5 of 6 claims hold")
    assert "Not reproduced here: low-band shortcut" in text
    assert "low-band feature has an RMS of 0.0100 against 0.0400 in the high band " \
           "(4.0× weaker, 16× less energy)" in text
    assert "shortcut rate is 0.12" in text and "chance 0.10" in text


def test_swap_table_means_over_seeds_and_chance_from_the_classes() -> None:
    ds = _fake_results(_paper_like())
    ds["shortcut_rate"] = ds.shortcut_rate.where(ds.seed == 0, 0.32)
    t = ch04.swap_table(ds)
    assert len(t) == 3 * 3 and set(t.band) == {"low", "mid", "high"}
    np.testing.assert_allclose(t["shortcut rate"], 0.22)
    np.testing.assert_allclose(t["chance"], 0.1)


# --------------------------------------------------------------------------- figures
def test_fig_gains_bars_are_the_summary_and_diamonds_sit_on_their_bars() -> None:
    s = ch04.gain_summary(_fake_results(_paper_like()))
    fig = figs.fig_gains(s)
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    np.testing.assert_allclose(bars["LC"].y, 100 * s.gain_mean.sel(model="lc",
                                                                    band=["low", "mid", "high"]))
    diamonds = fig.data[-1]
    positions = list(zip(*diamonds.x))
    assert positions == [("mid", "FKC"), ("mid", "LC"), ("mid", "LKC"),
                         ("high", "FKC"), ("high", "LC"), ("high", "LKC")]
    assert all(p in set(zip(*bars[p[1]].x)) for p in positions)
    assert list(diamonds.y) == [1.5, 13.0, 31.0] * 2


def test_fig_examples_titles_give_the_psnr_of_the_stored_images() -> None:
    ds = ch04._toy_results()
    fig = figs.fig_examples(ds, model="fkc", n_examples=1)
    one = ds.sel(model="fkc", seed=0, band="high").isel(example=0)
    psnr = float(stego.psnr(one.example_clean.values, one.example_modified.values))
    assert fig.layout.annotations[1].text == f"high: modified ({psnr:.1f} dB)"
    with pytest.raises(ValueError, match="no shortcut band"):
        figs.fig_examples(ds.sel(band=["clean"]))


def test_scaling_table_pairs_both_scalings_with_the_same_clean_runs() -> None:
    acc_eps = np.array([[[0.40, 0.50], [0.45, 0.55]]])
    acc_psnr = np.array([[[np.nan, np.nan], [0.80, 0.70]]])
    both = xr.concat([_fake_results(a, models=("lkc",), bands=("clean", "low")).expand_dims(scaling=[sc])
                      for a, sc in ((acc_eps, "epsilon"), (acc_psnr, "psnr"))], "scaling")
    row = ch04.scaling_table(both).iloc[0]
    assert (row["gain at fixed ε (pts)"], row["gain at equal PSNR (pts)"]) == ("+5.0 ± 0.0", "+30.0 ± 14.1")


def test_runs_without_examples_combine_with_the_one_that_stores_them(synthetic, tmp_path) -> None:
    from freqkit import results

    bare = ch04.run_one(dataclasses.replace(_cfg("high", seed=1), n_examples=0))
    assert not [v for v in bare.data_vars if v.startswith("example")] and "example" not in bare.dims
    full = ch04.run_one(_cfg("high", seed=0))
    paths = [results.save_results(d, tmp_path / f"{i}.nc") for i, d in enumerate((full, bare))]
    ds = results.load_sweep(paths).isel(model=0, nonlinearity=0, scaling=0, band=0)
    assert ds.example_clean.sel(seed=0).notnull().all() and ds.example_clean.sel(seed=1).isnull().all()
    assert float(ds.test_accuracy.sel(seed=1)) == float(bare.test_accuracy.squeeze())
