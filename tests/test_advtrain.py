"""Tests for freqkit.advtrain: schedule, augmentation, attacks, stopping rules and the training loop."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from freqkit.advtrain import (
    AdvTrainConfig,
    aliasing_stop,
    augment,
    evaluate_robustness,
    learning_rate,
    pgd_attack,
    pgd_stop,
    train_adversarial,
)
from freqkit.resnet import create_cnn


# --------------------------------------------------------------------------- config and schedule


def test_config_defaults_are_wong_et_al():
    cfg = AdvTrainConfig()
    assert cfg.mode == "fgsm" and cfg.batch_size == 128 and cfg.lr_max == 0.2
    assert cfg.momentum == 0.9 and cfg.weight_decay == 5e-4 and cfg.schedule == "cyclic"
    assert math.isclose(cfg.resolved_alpha, 10 / 255) and math.isclose(cfg.epsilon, 8 / 255)
    assert math.isclose(AdvTrainConfig(mode="pgd").resolved_alpha, 2 / 255)
    assert AdvTrainConfig(alpha=0.01).resolved_alpha == 0.01
    assert json.loads(cfg.to_json())["mode"] == "fgsm"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(schedule="cosine"), "schedule='cosine' is not allowed"),
        (dict(epsilon=2.0), r"epsilon=2.0 is not allowed; allowed: a number in \[0, 1\]"),
        (dict(alpha=0.0), r"alpha=0.0 is not allowed"),
        (dict(epochs=0), "epochs=0 is not allowed"),
        (dict(train_steps=True), "train_steps=True is not allowed"),
        (dict(lr_max=-1.0), "lr_max=-1.0 is not allowed"),
        (dict(mode="pgd", epsilon=0.0), "epsilon=0 is not allowed for mode='pgd'"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdvTrainConfig(**kwargs)


def test_cyclic_learning_rate_is_piecewise_linear():
    cfg = AdvTrainConfig(epochs=15, lr_max=0.2)
    assert learning_rate(0, cfg) == 0.0 and learning_rate(15, cfg) == 0.0
    assert math.isclose(learning_rate(6, cfg), 0.2)  # peak at 2/5 of the run
    assert math.isclose(learning_rate(3, cfg), 0.1)
    assert math.isclose(learning_rate(10.5, cfg), 0.2 * 4.5 / 9)
    pw = dataclasses.replace(cfg, schedule="piecewise", epochs=200, lr_max=0.1)
    assert [learning_rate(t, pw) for t in (0, 99.9, 100, 149, 150, 200)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert learning_rate(7, dataclasses.replace(cfg, schedule="constant")) == 0.2
    with pytest.raises(ValueError, match=r"t=16 is not allowed; allowed: 0 <= t <= epochs=15"):
        learning_rate(16, cfg)


# --------------------------------------------------------------------------- augmentation


def test_augment_is_a_shifted_window_of_the_padded_image_or_its_mirror():
    x = torch.rand(32, 3, 6, 6)
    out = augment(x, torch.Generator().manual_seed(1), padding=2)
    padded = F.pad(x, (2, 2, 2, 2))
    flipped = 0
    for a, p in zip(out, padded):
        windows = [(p[:, i : i + 6, j : j + 6], i, j) for i in range(5) for j in range(5)]
        plain = any(torch.equal(a, w) for w, _, _ in windows)
        mirror = any(torch.equal(a, w.flip(-1)) for w, _, _ in windows)
        assert plain or mirror
        flipped += mirror and not plain
    assert 4 <= flipped <= 28  # about half are flipped
    again = augment(x, torch.Generator().manual_seed(1), padding=2)
    assert torch.equal(out, again)


# --------------------------------------------------------------------------- attacks


def test_fgsm_step_on_a_linear_model_matches_the_analytic_gradient_sign():
    """For logits W·x + b, ∇_x CE = Wᵀ(softmax - onehot); one step without random start is α·sign of it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    x = 0.3 + 0.4 * torch.rand(6, 3, 2, 2)  # far from the box edges
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    delta = pgd_attack(model, x, y, epsilon=0.1, alpha=0.05, steps=1, random_start=False)
    w = model[1].weight.detach()
    with torch.no_grad():
        p = F.softmax(model(x), 1) - F.one_hot(y, 4).float()
    expected = 0.05 * torch.sign(p @ w).view_as(x)
    torch.testing.assert_close(delta, expected)


@settings(max_examples=20, deadline=None)
@given(eps=st.floats(0.001, 0.5), alpha_factor=st.floats(0.1, 3.0), steps=st.integers(1, 4), seed=st.integers(0, 1000))
def test_pgd_stays_in_the_ball_and_the_box(eps, alpha_factor, steps, seed):
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(5, 3, 2, 2, generator=g)
    x[0] = 0.0
    x[1] = 1.0
    y = torch.randint(0, 3, (5,), generator=g)
    d = pgd_attack(model, x, y, epsilon=eps, alpha=alpha_factor * eps, steps=steps, generator=g)
    assert float(d.abs().max()) <= eps + 1e-6
    assert float((x + d).min()) >= -1e-7 and float((x + d).max()) <= 1 + 1e-7


def test_pgd_raises_the_loss_and_does_not_touch_parameter_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.rand(20, 3, 4, 4), torch.randint(0, 3, (20,))
    d = pgd_attack(model, x, y, epsilon=0.05, alpha=0.01, steps=10, random_start=False)
    with torch.no_grad():
        assert F.cross_entropy(model(x + d), y) > F.cross_entropy(model(x), y)
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_robustness_on_an_input_independent_model():
    """A model that ignores its input has zero input gradient: every accuracy equals the clean one."""

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.tensor([2.0, 0.0, 0.0]))

        def forward(self, x):
            return self.bias.expand(len(x), 3) + 0 * x.flatten(1).sum(1, keepdim=True)

    model = Constant().train()
    y = torch.tensor([0, 0, 1, 2])
    out = evaluate_robustness(model, torch.rand(4, 3, 2, 2), y, epsilon=0.1, alpha=0.05, steps=3)
    assert model.training  # restored
    assert out["clean_accuracy"] == out["pgd_accuracy"] == out["fgsm_accuracy"] == 0.5
    p = math.exp(2) / (math.exp(2) + 2)
    assert math.isclose(out["confidence_clean"], p, rel_tol=1e-6)
    assert math.isclose(out["confidence_pgd_wrong"], p, rel_tol=1e-6)
    none_wrong = evaluate_robustness(model, torch.rand(2, 3, 2, 2), torch.tensor([0, 0]), epsilon=0.1)
    assert math.isnan(none_wrong["confidence_pgd_wrong"])


# --------------------------------------------------------------------------- stopping rules


def test_pgd_stop_rule():
    assert pgd_stop([0.1, 0.3, 0.4, 0.39, 0.1, 0.0]) == 3
    assert pgd_stop([0.1, 0.3, 0.4, 0.21]) is None  # a drop of exactly 0.19 is not enough
    assert pgd_stop([0.4, 0.1], drop=0.2) == 0
    assert pgd_stop([0.5]) is None
    with pytest.raises(ValueError, match=r"robust_accuracy has a non-finite value nan at index 1"):
        pgd_stop([0.1, float("nan")])
    with pytest.raises(ValueError, match="drop=-0.1 is not allowed"):
        pgd_stop([0.1, 0.2], drop=-0.1)


def test_aliasing_stop_rule_against_a_direct_loop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.uniform(0.5, 1.5, size=rng.integers(1, 15))
        t = float(rng.uniform(0.1, 0.6))
        window = None if rng.random() < 0.5 else int(rng.integers(1, 6))
        expected = None
        for e in range(1, len(a)):
            past = a[:e] if window is None else a[max(0, e - window) : e]
            if a[e] > (1 + t) * statistics.median(past):
                expected = e - 1
                break
        assert aliasing_stop(a, t, window=window) == expected


def test_aliasing_stop_threshold_edges():
    a = [1.0, 1.0, 1.33, 1.0, 1.5]
    assert aliasing_stop(a, 0.33) == 3  # 1.33 is not > 1.33
    assert aliasing_stop(a, 0.32) == 1
    assert aliasing_stop(a, 0.5) is None
    assert aliasing_stop([1.0, 5.0, 1.0], 0.33, min_history=2) is None
    with pytest.raises(ValueError, match="threshold=-1 is not allowed"):
        aliasing_stop(a, -1)
    with pytest.raises(ValueError, match="window=0 is not allowed"):
        aliasing_stop(a, 0.3, window=0)
    with pytest.raises(ValueError, match=r"aliasing must be a 1-D series, got shape \(1, 2\)"):
        aliasing_stop([[1.0, 2.0]])


# --------------------------------------------------------------------------- training loop


def _toy_data(n: int = 64, size: int = 8, seed: int = 0):
    """Two classes: dark vs bright images (learnable in one or two epochs)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = (0.25 + 0.5 * y.float()).view(n, 1, 1, 1) + 0.1 * torch.randn(n, 3, size, size, generator=g)
    return x.clamp(0, 1), y


def test_train_adversarial_logs_every_epoch_and_is_deterministic():
    x, y = _toy_data()
    cfg = AdvTrainConfig(mode="fgsm", epochs=2, batch_size=16, eval_steps=2, check_steps=1, seed=3)
    runs = [
        train_adversarial(create_cnn("preact-resnet18", width=2, num_classes=2, seed=0), cfg, (x, y), (x[:16], y[:16]), x[:5], keep_states=True)
        for _ in range(2)
    ]
    h = runs[0].history
    assert h.epoch.values.tolist() == [0, 1, 2]
    assert h.layer.values.tolist() == [
        "layer2.0.conv1", "layer2.0.shortcut.0", "layer3.0.conv1", "layer3.0.shortcut.0", "layer4.0.conv1", "layer4.0.shortcut.0",
    ]
    assert h.stage.values.tolist() == ["layer2", "layer3", "layer4"]
    np.testing.assert_allclose(
        h.aliasing_stage.sel(stage="layer2"), h.aliasing.sel(layer=["layer2.0.conv1", "layer2.0.shortcut.0"]).mean("layer")
    )
    for name in ("clean_accuracy", "pgd_accuracy", "fgsm_accuracy", "pgd_check_accuracy", "train_loss", "aliasing"):
        np.testing.assert_array_equal(h[name].values, runs[1].history[name].values, err_msg=name)
    assert sorted(runs[0].states) == [0, 1, 2]
    final = runs[0].states[2]
    assert all(torch.equal(final[k], v) for k, v in runs[0].model.state_dict().items())
    assert (h.time_aliasing_check.values > 0).all() and (h.time_pgd_check.values > 0).all()
    assert json.loads(h.attrs["advtrain_config"])["seed"] == 3
    assert not runs[0].model.training


@pytest.mark.parametrize("mode", ["standard", "pgd", "fgsm"])
def test_every_mode_learns_a_separable_task(mode):
    x, y = _toy_data(128)
    cfg = AdvTrainConfig(
        mode=mode, epsilon=2 / 255, epochs=3, batch_size=32, lr_max=0.05, train_steps=2, eval_steps=2, check_steps=1,
        augment=False,
    )
    res = train_adversarial(create_cnn("preact-resnet18", width=4, num_classes=2, seed=0), cfg, (x, y), (x, y), x[:4])
    assert res.history.clean_accuracy.values[-1] >= 0.9, res.history.clean_accuracy.values
    assert res.history.train_loss.values[-1] < res.history.train_loss.values[1]


def test_train_adversarial_bad_input():
    x, y = _toy_data(16)
    cfg = AdvTrainConfig(epochs=1, batch_size=8)
    flat = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(128, 2))
    with pytest.raises(ValueError, match="has no strided convolution"):
        train_adversarial(flat, cfg, (x, y), (x, y), x[:2])
    net = create_cnn("preact-resnet18", width=2, num_classes=2, seed=0)
    with pytest.raises(ValueError, match=r"train labels must have shape \(16,\)"):
        train_adversarial(net, cfg, (x, y[:3]), (x, y), x[:2])
    with pytest.raises(ValueError, match="aliasing images are empty"):
        train_adversarial(net, cfg, (x, y), (x, y), x[:0])
