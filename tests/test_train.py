"""Tests of freqkit.train: exact schedule values, training, selection, retries, resume."""

from __future__ import annotations

import dataclasses
import json
import math
import types

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from freqkit.train import TrainConfig, evaluate, learning_rate, train_model


# ----------------------------------------------------------------------------- helpers


def blobs(n: int, seed: int, *, scale: float = 1.0, separation: float = 1.5) -> types.SimpleNamespace:
    """Two Gaussian blobs in 1x4x4 at +-separation along the all-ones direction."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    sign = (2.0 * y - 1.0)[:, None, None, None]
    x = (torch.randn(n, 1, 4, 4, generator=g) + separation * sign) * scale
    return types.SimpleNamespace(x=x, y=y)


def make_splits(scale: float = 1.0, n: int = 256) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        train=blobs(n, 0, scale=scale), val=blobs(n // 2, 1, scale=scale), test=blobs(n // 2, 2, scale=scale)
    )


def linear_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def deep_linear_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 16), nn.Linear(16, 2))


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


FAST = TrainConfig(epochs=3, batch_size=32, lr=0.1, cycle_epochs=20, chance_patience=0)


# ----------------------------------------------------------------------------- schedule


def test_learning_rate_exact_values_including_reset_and_floor() -> None:
    config = TrainConfig(lr=0.1, lr_decay=0.3, lr_floor=0.05, cycle_epochs=3)
    steps_per_epoch = 4
    # epoch boundaries: 0.1, 0.03, 0.009 -> floored at 0.005; in between linear per step
    expected = {
        0: 0.1,
        1: 0.1 * (0.75 + 0.25 * 0.3),  # 0.0825
        2: 0.1 * (0.5 + 0.5 * 0.3),  # 0.065
        4: 0.03,
        6: 0.1 * (0.5 * 0.3 + 0.5 * 0.09),  # 0.0195
        8: 0.1 * 0.09,
        9: 0.1 * max(0.75 * 0.09 + 0.25 * 0.027, 0.05),  # 0.00843...
        11: 0.1 * 0.05,  # floor: 0.25*0.09 + 0.75*0.027 = 0.04275 < 0.05
        12: 0.1,  # reset after cycle_epochs * steps_per_epoch steps
        13: 0.0825,
        24: 0.1,
    }
    for step, value in expected.items():
        assert learning_rate(step, steps_per_epoch, config) == pytest.approx(value, rel=1e-12, abs=0), step


def test_learning_rate_constant_when_no_decay() -> None:
    config = TrainConfig(lr=0.25, lr_decay=1.0)
    assert {learning_rate(s, 7, config) for s in range(0, 500, 13)} == {0.25}


@settings(max_examples=60, deadline=None)
@given(
    step=st.integers(0, 10_000),
    steps_per_epoch=st.integers(1, 50),
    cycle=st.integers(1, 25),
    decay=st.floats(0.05, 1.0),
    floor=st.floats(0.0, 1.0),
)
def test_learning_rate_properties(step: int, steps_per_epoch: int, cycle: int, decay: float, floor: float) -> None:
    config = TrainConfig(lr=0.1, lr_decay=decay, lr_floor=floor, cycle_epochs=cycle)
    lr = learning_rate(step, steps_per_epoch, config)
    assert 0.1 * floor - 1e-15 <= lr <= 0.1 + 1e-15
    # periodic with the cycle and non-increasing inside it
    assert lr == learning_rate(step + cycle * steps_per_epoch, steps_per_epoch, config)
    if (step + 1) % (cycle * steps_per_epoch) != 0:
        assert learning_rate(step + 1, steps_per_epoch, config) <= lr + 1e-15


def test_learning_rate_rejects_bad_step() -> None:
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        learning_rate(-1, 10, TrainConfig())
    with pytest.raises(ValueError, match="steps_per_epoch"):
        learning_rate(0, 0, TrainConfig())


# ----------------------------------------------------------------------------- config / evaluate


def test_config_json_roundtrip_and_validation() -> None:
    config = TrainConfig(epochs=5, lr_retry_factors=[1, 10])
    assert config.lr_retry_factors == (1.0, 10.0)
    assert TrainConfig(**json.loads(json.dumps(dataclasses.asdict(config)))) == config
    assert TrainConfig().attempt_lrs == pytest.approx((0.1, 1.0, 0.01, 0.002))
    assert TrainConfig(max_retries=1).attempt_lrs == pytest.approx((0.1, 1.0))
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be a finite positive float"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(momentum=1.0)


def test_evaluate_exact_accuracy_and_restores_mode() -> None:
    model = nn.Linear(2, 3, bias=False)
    model.weight.data = torch.eye(3, 2)  # logits = (x0, x1, 0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 3.0], [3.0, 2.0]])
    y = torch.tensor([0, 1, 2, 0, 0])
    model.train()
    assert evaluate(model, x, y, batch_size=2) == pytest.approx(4 / 5)
    assert model.training
    with pytest.raises(ValueError, match="same length"):
        evaluate(model, x, y[:3])


# ----------------------------------------------------------------------------- training


def test_learns_separable_blobs() -> None:
    result = train_model(linear_model, make_splits(), FAST, progress=False)
    assert result.test_accuracy > 0.95
    assert result.val_accuracy == max(result.history["val_accuracy"])
    assert result.lrs_tried == [0.1] and not result.failed and result.failure_reasons == []
    assert result.history["epoch"] == [1, 2, 3]
    assert result.history["lr"] == pytest.approx([0.1, 0.03, 0.009])
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.train_seconds > 0


def test_same_seed_identical_and_other_seed_different() -> None:
    splits = make_splits()
    a = train_model(deep_linear_model, splits, FAST, progress=False)
    b = train_model(deep_linear_model, splits, FAST, progress=False)
    assert_same_weights(a.model, b.model)
    assert a.history == b.history
    c = train_model(deep_linear_model, splits, dataclasses.replace(FAST, seed=1), progress=False)
    assert not torch.equal(weights(a.model)["1.weight"], weights(c.model)["1.weight"])


def rotating_splits() -> types.SimpleNamespace:
    """Training labels sign(x1); validation/test labels sign(x1 - x0) (pixels x0, x1)."""

    def split(n: int, seed: int, train: bool) -> types.SimpleNamespace:
        x = torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))
        x0, x1 = x[:, 0, 0, 0], x[:, 0, 0, 1]
        return types.SimpleNamespace(x=x, y=((x1 > 0) if train else (x1 - x0 > 0)).long())

    return types.SimpleNamespace(train=split(512, 0, True), val=split(512, 1, False), test=split(256, 2, False))


def rotating_model() -> nn.Module:
    """Starts predicting sign(-x0); training rotates it towards sign(x1), past sign(x1 - x0)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2, bias=False))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0, 0], model[1].weight[1, 0] = 1.0, -1.0
    return model


def test_best_epoch_weights_are_restored() -> None:
    # The decision direction rotates from -x0 to x1 during training, so the
    # validation accuracy (labels sign(x1 - x0)) rises, peaks mid-training and falls.
    splits = rotating_splits()
    config = dataclasses.replace(FAST, epochs=6, lr=0.03, lr_decay=1.0)
    result = train_model(rotating_model, splits, config, progress=False)
    val = result.history["val_accuracy"]
    assert result.best_epoch == 1 + val.index(max(val))
    assert 1 < result.best_epoch < 6 and val[-1] < max(val) - 0.02 and val[0] < max(val) - 0.02
    assert evaluate(result.model, splits.val.x, splits.val.y) == result.val_accuracy == max(val)
    # the schedule and shuffling depend only on (seed, epoch), so the restored weights
    # equal those of a run that simply stops at the best epoch
    short = train_model(rotating_model, splits, dataclasses.replace(config, epochs=result.best_epoch),
                        progress=False)
    assert_same_weights(result.model, short.model)
    assert result.test_accuracy == evaluate(short.model, splits.test.x, splits.test.y)


def test_nan_loss_triggers_retry_with_next_lr() -> None:
    splits = make_splits(scale=1e3)  # unnormalised inputs: lr 1e6 diverges to NaN/inf
    config = dataclasses.replace(FAST, lr=1e6, lr_retry_factors=(1.0, 1e-9, 1e-10))
    result = train_model(deep_linear_model, splits, config, progress=False)
    assert result.lrs_tried == [1e6, 1e6 * 1e-9]
    assert not result.failed
    assert "non-finite loss" in result.failure_reasons[0] and len(result.failure_reasons) == 1
    assert result.test_accuracy > 0.95
    # the retry starts from a fresh model: identical to training with lr 1e-3 directly
    direct = train_model(deep_linear_model, splits,
                         dataclasses.replace(config, lr=1e6 * 1e-9, lr_retry_factors=(1.0,)),
                         progress=False)
    assert_same_weights(result.model, direct.model)
    assert result.history == direct.history


def random_label_splits(scale: float) -> types.SimpleNamespace:
    """Uniform pixels with random labels: not separable, so a diverging run cannot recover."""

    def part(n: int, seed: int) -> types.SimpleNamespace:
        g = torch.Generator().manual_seed(seed)
        return types.SimpleNamespace(x=torch.rand(n, 1, 4, 4, generator=g) * scale,
                                     y=torch.randint(0, 2, (n,), generator=g))

    return types.SimpleNamespace(train=part(256, 0), val=part(128, 1), test=part(128, 2))


def test_finite_but_diverging_loss_triggers_retry() -> None:
    splits = random_label_splits(scale=10.0)  # lr 1 blows the loss up to ~1e21, still finite
    config = dataclasses.replace(FAST, lr=1.0, lr_retry_factors=(1.0, 1e-4))
    result = train_model(deep_linear_model, splits, config, progress=False)
    assert result.lrs_tried == [1.0, 1e-4]
    assert len(result.failure_reasons) == 1 and result.failure_reasons[0].startswith("diverged")
    assert max(result.history["train_loss"]) < 10 * math.log(2)  # the retry's history
    # the same run with the check disabled keeps its astronomically large (finite) loss
    unchecked = train_model(deep_linear_model, splits,
                            dataclasses.replace(config, divergence_factor=math.inf), progress=False)
    assert unchecked.lrs_tried == [1.0]
    assert 1e6 < unchecked.history["train_loss"][1] < math.inf


def test_loss_spike_in_first_epoch_is_not_divergence() -> None:
    # separable blobs: epoch 1 loss ~1e17, then 0; divergence_patience=2 lets it recover
    result = train_model(deep_linear_model, make_splits(scale=10.0),
                         dataclasses.replace(FAST, lr=1.0), progress=False)
    assert result.history["train_loss"][0] > 1e6
    assert result.lrs_tried == [1.0] and result.test_accuracy == 1.0


def test_all_attempts_fail_is_reported() -> None:
    splits = make_splits(scale=1e3)
    config = dataclasses.replace(FAST, lr=1e6, lr_retry_factors=(1.0, 10.0), max_retries=5)
    result = train_model(deep_linear_model, splits, config, progress=False)
    assert result.failed
    assert result.lrs_tried == pytest.approx([1e6, 1e7])
    assert result.best_epoch == 0 and math.isnan(result.val_accuracy)
    assert len(result.failure_reasons) == 2


class ConstantLogits(nn.Module):
    """Ignores its input: always predicts class 0 (chance accuracy on balanced data)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], 2) * 1.0


def test_chance_accuracy_triggers_retry_from_fresh_model() -> None:
    calls = []

    def factory() -> nn.Module:
        calls.append(1)
        return ConstantLogits() if len(calls) == 1 else linear_model()

    config = dataclasses.replace(FAST, lr=1e-3, lr_retry_factors=(1.0, 100.0), chance_patience=2)
    # a lr of 1e-3 cannot move the constant model's bias enough in 2 epochs to change class
    result = train_model(factory, make_splits(), config, progress=False)
    assert len(calls) == 2
    assert result.lrs_tried == pytest.approx([1e-3, 0.1])
    assert "chance" in result.failure_reasons[0] and "after 2 epochs" in result.failure_reasons[0]
    assert not result.failed and result.test_accuracy > 0.95


class InterruptedLinear(nn.Linear):
    """An nn.Linear that raises KeyboardInterrupt on its ``stop_at``-th training forward."""

    def __init__(self, stop_at: int) -> None:
        super().__init__(16, 2)
        self.calls, self.stop_at = 0, stop_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.stop_at:
                raise KeyboardInterrupt("simulated kill")
        return super().forward(x)


def test_resume_from_checkpoint_matches_uninterrupted(tmp_path) -> None:
    splits = make_splits()
    config = dataclasses.replace(FAST, epochs=4, momentum=0.9, lr=0.01)
    full = train_model(lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), splits, config, progress=False)

    checkpoint = tmp_path / "run.pt"
    steps_per_epoch = 256 // 32
    with pytest.raises(KeyboardInterrupt):  # killed in the middle of epoch 3
        train_model(lambda: nn.Sequential(nn.Flatten(), InterruptedLinear(2 * steps_per_epoch + 3)), splits,
                    config, progress=False, checkpoint_path=checkpoint)
    assert torch.load(checkpoint, weights_only=True)["epochs_done"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temp files left

    counters: list[InterruptedLinear] = []

    def counting_model() -> nn.Module:
        counters.append(InterruptedLinear(stop_at=-1))
        return nn.Sequential(nn.Flatten(), counters[-1])

    resumed = train_model(counting_model, splits, config, progress=False, checkpoint_path=checkpoint)
    assert counters[-1].calls == 2 * steps_per_epoch  # only epochs 3 and 4 were trained
    assert_same_weights(full.model, resumed.model)
    assert resumed.history == full.history and resumed.best_epoch == full.best_epoch
    assert resumed.test_accuracy == full.test_accuracy

    # a finished checkpoint returns the same result without training; another config is refused
    again = train_model(counting_model, splits, config, progress=False, checkpoint_path=checkpoint)
    assert counters[-1].calls == 0
    assert_same_weights(full.model, again.model)
    with pytest.raises(ValueError, match="was written for config"):
        train_model(linear_model, splits, dataclasses.replace(config, seed=3), progress=False,
                    checkpoint_path=checkpoint)


def test_bad_splits_raise() -> None:
    with pytest.raises(ValueError, match="splits.val"):
        train_model(linear_model, types.SimpleNamespace(train=blobs(8, 0), test=blobs(8, 0)), FAST, progress=False)
