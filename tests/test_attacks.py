"""Tests for freqkit.attacks: budgets, success bookkeeping, preprocessing, seeding."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from freqkit.attacks import ATTACKS, AttackSpec, foolbox_model, perturbation_spectra, run_attack

EPSILONS = {
    "pgd-linf": [0.05, 0.15, 0.3],
    "pgd-l2": [0.5, 2.0, 6.0],
    "pgd-l1": [5.0, 30.0, 100.0],
    "bb-linf": [0.1, 0.3, math.inf],
    "bb-l2": [1.0, 3.0, math.inf],
}
NORM_VAR = {"linf": "norm_linf", "l2": "norm_l2", "l1": "norm_l1"}
TORCH_ORD = {"linf": math.inf, "l2": 2, "l1": 1}


def _foolbox_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """foolbox's 20 shipped MNIST samples (freqkit.data.foolbox_samples if it exists)."""
    try:
        from freqkit.data import foolbox_samples

        return foolbox_samples("mnist", 20)
    except (ImportError, AttributeError):
        import foolbox
        from PIL import Image

        root = Path(foolbox.__file__).parent / "data"
        files = sorted(p for p in os.listdir(root) if p.startswith("mnist_"))
        x = np.stack([np.asarray(Image.open(root / f), dtype=np.float32) / 255.0 for f in files])
        y = [int(f.split(".")[0].split("_")[-1]) for f in files]
        return torch.from_numpy(x)[:, None], torch.tensor(y)


@pytest.fixture(scope="module")
def mnist() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _foolbox_mnist()
    assert x.shape == (20, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    return x.float(), y.long()


def _train_softmax(
    x: torch.Tensor, y: torch.Tensor, *, mean=0.0, std=1.0, hidden: int = 0
) -> torch.nn.Module:
    """Softmax classifier (linear, or one tanh hidden layer) trained on (x - mean) / std."""
    torch.manual_seed(0)
    d = x[0].numel()
    if hidden:
        body = [torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 10)]
    else:
        body = [torch.nn.Linear(d, 10)]
    model = torch.nn.Sequential(torch.nn.Flatten(), *body)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xn = (x - mean) / std
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xn), y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def model(mnist) -> torch.nn.Module:
    x, y = mnist
    m = _train_softmax(x, y)
    assert (m(x).argmax(1) == y).float().mean() == 1.0
    return m


def _fast(spec: AttackSpec) -> AttackSpec:
    if spec.kind == "minimisation":
        return dataclasses.replace(spec, steps=20)
    return spec


def test_registry_contents_and_json_roundtrip():
    assert ATTACKS.names() == ["bb-l2", "bb-linf", "pgd-l1", "pgd-l2", "pgd-linf"]
    for name in ATTACKS:
        spec = ATTACKS.get(name)
        assert spec.name == name
        assert AttackSpec(**json.loads(spec.to_json())) == spec
    with pytest.raises(ValueError, match="'pgd-l7'"):
        ATTACKS.get("pgd-l7")


# Brendel-Bethge: numba compiles foolbox's optimiser on first use (~40 s per norm).
SLOW_BB = pytest.mark.slow


@pytest.mark.parametrize(
    "name",
    [
        "pgd-linf",
        "pgd-l2",
        "pgd-l1",
        pytest.param("bb-linf", marks=SLOW_BB),
        pytest.param("bb-l2", marks=SLOW_BB),
    ],
)
def test_attack_respects_budget_and_flips_model(name, model, mnist):
    x, y = mnist
    spec = _fast(ATTACKS.get(name))
    eps = EPSILONS[name]
    ds = run_attack(model, x, y, spec, eps, seed=1)

    assert ds.delta.dims == ("epsilon", "sample", "channel", "row", "col")
    assert ds.delta.shape == (3, 20, 1, 28, 28)
    success = ds.success.values
    delta = torch.from_numpy(ds.delta.values)
    # NaN exactly where the attack failed
    assert np.array_equal(np.isnan(ds.delta.values).all(axis=(2, 3, 4)), ~success)
    assert not np.isnan(ds.delta.values[success]).any()
    assert np.all((ds.success_rate >= 0) & (ds.success_rate <= 1))
    np.testing.assert_allclose(ds.success_rate, success.sum(1) / ds.clean_correct.sum().item())

    # norms recomputed independently with torch.linalg.vector_norm
    flat = delta.flatten(2)
    for norm, var in NORM_VAR.items():
        ref = torch.linalg.vector_norm(flat, ord=TORCH_ORD[norm], dim=-1).numpy()
        np.testing.assert_allclose(ds[var].values, ref, rtol=1e-5, equal_nan=True)

    # every perturbed input is inside the box and misclassified by the torch model
    x_adv = x.unsqueeze(0) + torch.nan_to_num(delta)
    assert x_adv.min() >= -1e-6 and x_adv.max() <= 1 + 1e-6
    with torch.no_grad():
        pred = model(x_adv.flatten(0, 1)).argmax(1).view(3, 20)
    assert torch.all(pred[torch.from_numpy(success)] != y.expand(3, 20)[torch.from_numpy(success)])

    norms = ds[NORM_VAR[spec.norm]].values
    epsilon = np.asarray(eps)[:, None]
    assert np.all(norms[success] > 0)
    assert np.all(np.isfinite(norms[success]))
    if spec.kind == "fixed-epsilon":
        tol = 1e-5 * max(1.0, max(eps))
        assert np.all((norms <= epsilon + tol)[success])
    else:
        assert np.all((norms <= epsilon * (1 + 1e-5))[success])
    # the largest budget flips most of a linear model on MNIST
    assert ds.success_rate.values[-1] >= 0.9
    # success is monotone in epsilon for the nested (minimisation) clipping
    if spec.kind == "minimisation":
        assert np.all(np.diff(success.astype(int), axis=0) >= 0)


@SLOW_BB
def test_minimisation_attack_is_smaller_than_its_start(model, mnist):
    """BB refines the PGD start: its L2 perturbation is below the start's."""
    x, y = mnist
    bb = run_attack(model, x[:8], y[:8], _fast(ATTACKS.get("bb-l2")), [math.inf], seed=0)
    start = run_attack(model, x[:8], y[:8], "pgd-l2", [28.0], seed=0)
    ok = bb.success.values[0] & start.success.values[0]
    assert ok.sum() >= 6
    assert np.all(bb.norm_l2.values[0][ok] < 0.8 * start.norm_l2.values[0][ok])


def test_clean_accuracy_matches_torch_and_only_correct_samples_attacked(mnist):
    x, y = mnist
    # a deliberately weak model: trained on half the data only
    weak = _train_softmax(x[:10], y[:10])
    with torch.no_grad():
        correct = (weak(x).argmax(1) == y).numpy()
    assert 0 < correct.mean() < 1
    ds = run_attack(weak, x, y, "pgd-linf", [0.3])
    assert ds.attrs["clean_accuracy"] == pytest.approx(correct.mean())
    assert np.array_equal(ds.clean_correct.values, correct)
    assert not ds.success.values[0][~correct].any()
    assert np.isnan(ds.delta.values[0][~correct]).all()
    np.testing.assert_allclose(ds.success_rate.values, ds.success.values.sum(1) / correct.sum())


def test_no_double_preprocessing(mnist):
    x, y = mnist
    mean, std = 0.2, 0.3
    # a tanh hidden layer so that a second normalisation changes predictions
    model = _train_softmax(x[:12], y[:12], mean=mean, std=std, hidden=32)
    with torch.no_grad():
        by_hand = (model((x - mean) / std).argmax(1) == y).numpy()
        twice = (model(((x - mean) / std - mean) / std).argmax(1) == y).numpy()
        never = (model(x).argmax(1) == y).numpy()
    # the test can tell the three apart
    assert not np.array_equal(by_hand, twice) and not np.array_equal(by_hand, never)
    pre = dict(mean=[mean], std=[std], axis=-3)
    with torch.no_grad():
        fb_logits = foolbox_model(model, preprocessing=pre)(x)
        torch.testing.assert_close(fb_logits, model((x - mean) / std))
    ds = run_attack(model, x, y, "pgd-linf", [0.1], preprocessing=pre)
    assert np.array_equal(ds.clean_correct.values, by_hand)
    assert ds.attrs["clean_accuracy"] == pytest.approx(by_hand.mean())
    # delta lives in raw pixel space: x + delta fools the model applied to normalised input
    ok = ds.success.values[0]
    assert ok.any()
    x_adv = x[ok] + torch.from_numpy(ds.delta.values[0][ok])
    with torch.no_grad():
        assert torch.all(model((x_adv - mean) / std).argmax(1) != y[ok])
    assert json.loads(ds.attrs["attack_config"])["preprocessing"]["std"] == [std]


@pytest.mark.parametrize("name", ["pgd-linf", "pgd-l2"])
def test_same_seed_identical_delta_other_seed_differs(name, model, mnist):
    x, y = mnist
    eps = EPSILONS[name][-1:]
    torch.manual_seed(123)
    before = torch.rand(3)
    a = run_attack(model, x, y, name, eps, seed=7, batch_size=8)
    b = run_attack(model, x, y, name, eps, seed=7, batch_size=8)
    c = run_attack(model, x, y, name, eps, seed=8, batch_size=8)
    np.testing.assert_array_equal(a.delta.values, b.delta.values)
    both = a.success.values & c.success.values
    assert both.any()
    assert not np.allclose(a.delta.values[both], c.delta.values[both])
    # the caller's RNG stream is not disturbed
    torch.manual_seed(123)
    assert torch.equal(before, torch.rand(3))


def test_batched_equals_unbatched_without_random_start(model, mnist):
    x, y = mnist
    spec = dataclasses.replace(ATTACKS.get("pgd-l2"), random_start=False)
    full = run_attack(model, x, y, spec, [1.0, 2.0])
    batched = run_attack(model, x, y, spec, [1.0, 2.0], batch_size=6)
    np.testing.assert_array_equal(full.success.values, batched.success.values)
    np.testing.assert_allclose(full.delta.values, batched.delta.values, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(attack="pgd-l9", epsilons=[0.1]), "'pgd-l9'"),
        (dict(attack="pgd-linf", epsilons=[-0.1]), "-0.1"),
        (dict(attack="pgd-linf", epsilons=[math.inf]), "inf"),
        (dict(attack="pgd-linf", epsilons=[]), "epsilons"),
        (dict(attack="pgd-linf", epsilons=[0.1], bounds=(1, 0)), "bounds"),
        (dict(attack="pgd-linf", epsilons=[0.1], batch_size=0), "batch_size=0"),
        (dict(attack="pgd-linf", epsilons=[0.1], preprocessing=dict(scale=2)), "scale"),
    ],
)
def test_bad_input_raises(kwargs, match, model, mnist):
    x, y = mnist
    with pytest.raises(ValueError, match=match):
        run_attack(model, x[:2], y[:2], **kwargs)


def test_input_outside_bounds_raises(model, mnist):
    x, y = mnist
    with pytest.raises(ValueError, match="bounds"):
        run_attack(model, x[:2] * 2, y[:2], "pgd-linf", [0.1])


def _centred_power(d: np.ndarray) -> np.ndarray:
    """Channel-summed centred orthonormal power spectrum, independent of freqkit.spectra."""
    p = np.abs(np.fft.fftshift(np.fft.fft2(d, norm="ortho"), axes=(-2, -1))) ** 2
    return p.sum(axis=-3)


def test_perturbation_spectra_against_independent_fft(model, mnist):
    x, y = mnist
    ds = perturbation_spectra(run_attack(model, x, y, "pgd-l2", [2.0, 6.0], seed=0), ks=[3, 7])
    success = ds.success.values
    assert 0 < success[0].sum() < success[1].sum()
    assert np.array_equal(np.isnan(ds.f50.values), ~success)
    assert np.array_equal(np.isnan(ds.kappa_high.values), np.broadcast_to(~success, (2, 2, 20)))
    assert np.all((ds.f50.values[success] >= 0) & (ds.f50.values[success] <= 0.5 * np.sqrt(2)))

    delta = ds.delta.values
    power = _centred_power(np.nan_to_num(delta.astype(np.float64)))  # (E, S, 28, 28)
    m = np.fft.fftshift(np.fft.fftfreq(28, d=1 / 28))  # integer indices
    for i, k in enumerate([3, 7]):
        box = (np.abs(m)[:, None] <= k / 2) & (np.abs(m)[None, :] <= k / 2)
        with np.errstate(invalid="ignore"):  # failed samples have zero power
            ref = 1 - (power * box).sum((-2, -1)) / power.sum((-2, -1))
        np.testing.assert_allclose(ds.kappa_high.values[i][success], ref[success], rtol=1e-6)
    for e in range(2):
        ok = success[e]
        np.testing.assert_allclose(ds.mean_power.values[e], power[e][ok].mean(0), rtol=1e-6)
        mean_delta = delta[e][ok].astype(np.float64).mean(0)
        # Parseval: energy of the spectrum of the mean perturbation
        np.testing.assert_allclose(ds.power_of_mean.values[e].sum(), (mean_delta**2).sum(), rtol=1e-6)
    np.testing.assert_allclose(ds.fx.values, np.fft.fftshift(np.fft.fftfreq(28)))


@pytest.mark.parametrize("f0_index", [2, 5, 9])
def test_perturbation_spectra_f50_of_a_cosine(f0_index):
    n = 32
    cos = np.cos(2 * np.pi * f0_index * np.arange(n) / n)[None, :].repeat(n, 0)
    delta = np.stack([cos, np.full((n, n), np.nan)])[None, :, None]  # (1, 2, 1, n, n)
    ds = xr.Dataset(
        {
            "delta": (("epsilon", "sample", "channel", "row", "col"), delta),
            "success": (("epsilon", "sample"), [[True, False]]),
        },
        coords={"epsilon": [1.0]},
    )
    out = perturbation_spectra(ds, ks=[2 * f0_index, 2 * f0_index - 1])
    assert out.f50.values[0, 0] == pytest.approx(f0_index / n)
    assert np.isnan(out.f50.values[0, 1])
    # |m| = f0_index is inside the k = 2 f0 box and outside the k = 2 f0 - 1 box
    np.testing.assert_allclose(out.kappa_high.values[:, 0, 0], [0.0, 1.0], atol=1e-12)
    assert out.f50_mean_power.values[0] == pytest.approx(f0_index / n)
