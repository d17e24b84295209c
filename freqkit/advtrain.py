"""Standard, PGD and FGSM adversarial training with per-epoch robustness and aliasing logs.

Training modes (:class:`AdvTrainConfig`, ``mode``):

``standard``
    Cross-entropy on clean (augmented) images.
``pgd``
    Madry et al. (2018) / Rice et al. (2020): L∞ PGD-``train_steps`` with a
    uniform random start, ``epsilon = 8/255``, step ``alpha = 2/255``.
``fgsm``
    "Fast is better than free" (Wong et al. 2020): FGSM from a uniform random
    start in the ε-ball, one step of size ``alpha`` (10/255 for ε = 8/255),
    projected back onto the ball and the image box.

Defaults are Wong et al.'s CIFAR-10 settings: SGD with momentum 0.9, weight
decay 5e-4, a cyclic learning rate rising linearly from 0 to ``lr_max = 0.2`` at
2/5 of the run and back to 0 at the end (updated every iteration), batch 128,
random crops (zero padding 4) and horizontal flips. Attacks are plain torch
(no foolbox) in pixel space ``[0, 1]``: models normalise their inputs
themselves (:mod:`freqkit.resnet`). During training the adversarial examples
are generated in train mode (batch statistics, as in ``fast_adversarial``);
every evaluation runs in eval mode.

Per epoch (and once for the initial model, epoch 0) :func:`train_adversarial`
logs, on fixed probes that do not change between epochs:

* ``clean_accuracy``, ``fgsm_accuracy`` (for FGSM runs the training attack:
  its start and step ratio α/ε, at the evaluation budget; else α = 1.25 ε) and
  ``pgd_accuracy`` (PGD-``eval_steps``, step 2/255, one random start) on a fixed
  held-out batch, with the mean max-softmax confidences ``confidence_clean``,
  ``confidence_pgd`` and ``confidence_pgd_wrong`` (over the PGD examples that
  are misclassified);
* ``aliasing (epoch, layer)`` of every strided convolution and
  ``aliasing_stage (epoch, stage)`` (the mean over a stage's strided
  convolutions) on ``n_aliasing`` fixed training images
  (:func:`freqkit.aliasing.model_aliasing`), and the time that check took;
* ``pgd_check_accuracy``: Wong et al.'s early-stopping check, PGD-5 (step
  2/255, one restart) on the epoch's first training batch, and its time.

Early stopping is applied afterwards, as pure functions of the logged series,
so both rules are compared on the same runs: :func:`pgd_stop` (Wong et al.:
stop when the check's robust accuracy drops by more than 0.2) and
:func:`aliasing_stop` (Grabinski et al.: stop when the aliasing exceeds the
median of the previous values by more than a threshold ``t``).

Determinism: the model is built by the caller; shuffling, augmentation and
the training attacks' random starts draw from a ``torch.Generator`` seeded from
``(seed, epoch)``; the evaluation attacks use a fixed generator seed, so the
probes see the same random starts every epoch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import Tensor, nn

from freqkit._validate import as_bool, as_int, as_real, check_finite, check_labels
from freqkit.aliasing import model_aliasing, stage_means, strided_convolutions

__all__ = [
    "MODES",
    "SCHEDULES",
    "AdvTrainConfig",
    "AdvTrainResult",
    "aliasing_stop",
    "augment",
    "evaluate_robustness",
    "learning_rate",
    "pgd_attack",
    "pgd_stop",
    "train_adversarial",
]

#: Training modes.
MODES: tuple[str, ...] = ("standard", "pgd", "fgsm")
#: Learning-rate schedules.
SCHEDULES: tuple[str, ...] = ("cyclic", "piecewise", "constant")


@dataclass(frozen=True)
class AdvTrainConfig:
    """Hyper-parameters of one (adversarial) training run; frozen and JSON-serialisable.

    Parameters
    ----------
    mode : {"standard", "pgd", "fgsm"}
    epsilon : float
        L∞ budget of the training attack, pixel units (8/255).
    alpha : float or None
        Step of the training attack; None: 10/255·(ε / (8/255)) = 1.25 ε for FGSM
        (Wong et al.), 2/255·(ε / (8/255)) = ε/4 for PGD.
    train_steps : int
        PGD steps of ``mode="pgd"`` (FGSM is one step).
    random_start : bool
        Uniform random start of the training attacks (False: FGSM/PGD from
        ``delta = 0``, which overfits catastrophically more easily, Wong et al.).
    epochs : int
    batch_size : int
    lr_max : float
        Peak (cyclic) or initial (piecewise, constant) learning rate.
    schedule : {"cyclic", "piecewise", "constant"}
        ``cyclic``: linear 0 → ``lr_max`` at 2/5 of the run → 0 (per iteration);
        ``piecewise``: ``lr_max``, /10 after 50 % and /100 after 75 % of the epochs (Rice et al.).
    momentum, weight_decay : float
    augment : bool
        Random crop (zero padding 4) and horizontal flip.
    eval_epsilon, eval_alpha : float
        Budget and step of the evaluation PGD (8/255, 2/255).
    eval_steps : int
        Steps of the held-out PGD evaluation.
    check_steps : int
        Steps of the early-stopping PGD check on the first batch (Wong et al.: 5).
    seed : int

    Examples
    --------
    >>> cfg = AdvTrainConfig(mode="fgsm", epsilon=16 / 255)
    >>> round(cfg.resolved_alpha * 255, 6)
    20.0
    >>> AdvTrainConfig(mode="free")
    Traceback (most recent call last):
    ...
    ValueError: mode='free' is not allowed; allowed: standard, pgd, fgsm
    """

    mode: str = "fgsm"
    epsilon: float = 8 / 255
    alpha: float | None = None
    train_steps: int = 10
    random_start: bool = True
    epochs: int = 15
    batch_size: int = 128
    lr_max: float = 0.2
    schedule: str = "cyclic"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    eval_epsilon: float = 8 / 255
    eval_alpha: float = 2 / 255
    eval_steps: int = 10
    check_steps: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        # NumPy scalars become Python ones (a valid Python config, and its JSON, is unchanged)
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r} is not allowed; allowed: {', '.join(MODES)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is not allowed; allowed: {', '.join(SCHEDULES)}")
        for name in ("epsilon", "eval_epsilon"):
            value = getattr(self, name)
            if not (_is_real(value) and 0 <= value <= 1):
                raise ValueError(f"{name}={value!r} is not allowed; allowed: a number in [0, 1]")
            object.__setattr__(self, name, _python(value))
        if self.eval_epsilon == 0:
            raise ValueError("eval_epsilon=0 is not allowed; allowed: a number in (0, 1] (the budget of the "
                             "evaluation attacks)")
        for name in ("alpha", "eval_alpha"):
            value = getattr(self, name)
            if value is None and name == "alpha":
                continue
            if not (_is_real(value) and 0 < value <= 1):
                raise ValueError(f"{name}={value!r} is not allowed; allowed: "
                                 f"{'None or ' if name == 'alpha' else ''}a number in (0, 1]")
            object.__setattr__(self, name, _python(value))
        for name in ("train_steps", "epochs", "batch_size", "eval_steps", "check_steps"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; allowed: a positive integer")
            object.__setattr__(self, name, int(value))
        for name in ("lr_max", "momentum", "weight_decay"):
            value = getattr(self, name)
            if not (_is_real(value) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name}={value!r} is not allowed; allowed: a finite number >= 0")
            object.__setattr__(self, name, _python(value))
        for name in ("random_start", "augment"):
            object.__setattr__(self, name, as_bool(getattr(self, name), name))
        object.__setattr__(self, "seed", as_int(self.seed, "seed", minimum=0))
        if self.mode != "standard" and self.epsilon == 0:
            raise ValueError(f"epsilon=0 is not allowed for mode={self.mode!r}; allowed: epsilon > 0")

    @property
    def resolved_alpha(self) -> float:
        """``alpha``, or its mode's default scaled with ε (1.25 ε for FGSM, ε/4 for PGD)."""
        if self.alpha is not None:
            return float(self.alpha)
        return self.epsilon * (1.25 if self.mode == "fgsm" else 0.25)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _is_real(value: Any) -> bool:
    """A Python/NumPy int or float (not bool)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def _python(value: Any) -> int | float:
    """A Python int/float unchanged, a NumPy scalar as the Python one."""
    if type(value) in (int, float):
        return value
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _check_images(x: Any, name: str) -> Tensor:
    """Images ``(N, C, H, W)``: a finite floating tensor with values in ``[0, 1]``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a (N, C, H, W) tensor of images in [0, 1], got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be a (N, C, H, W) tensor of images in [0, 1], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {str(x.dtype).replace('torch.', '')}; allowed: floating images in "
                         "[0, 1]")
    check_finite(x, name)
    if x.numel():
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} has values in [{lo:g}, {hi:g}]; allowed: pixels in [0, 1] (divide "
                             "0..255 images by 255)")
    return x


def _check_targets(y: Any, name: str, x: Tensor, logits: Tensor | None = None) -> None:
    """Integer labels, one per image of ``x`` (and below the number of logits when given)."""
    check_labels(y, name, length=len(x), num_classes=None if logits is None else logits.shape[1])


@dataclass
class AdvTrainResult:
    """What :func:`train_adversarial` returns.

    Attributes
    ----------
    model : nn.Module
        The trained model (last epoch, eval mode).
    history : xarray.Dataset
        Per-epoch log, dims ``epoch`` (0 = initial model), ``layer``, ``stage``.
    states : dict of int to dict
        CPU copies of the state dict after each epoch (``keep_states=True``), else empty.
    """

    model: nn.Module
    history: xr.Dataset
    states: dict[int, dict[str, Tensor]]


# --------------------------------------------------------------------------- pure pieces


def learning_rate(t: float, config: AdvTrainConfig) -> float:
    """Learning rate at fractional epoch ``t`` in ``[0, epochs]``.

    Examples
    --------
    >>> cfg = AdvTrainConfig(epochs=10, lr_max=0.2)
    >>> [round(learning_rate(t, cfg), 3) for t in (0, 2, 4, 7, 10)]
    [0.0, 0.1, 0.2, 0.1, 0.0]
    >>> learning_rate(8, dataclasses.replace(cfg, schedule="piecewise"))
    0.002
    """
    if not isinstance(config, AdvTrainConfig):
        raise ValueError(f"config must be an AdvTrainConfig, got {type(config).__name__}")
    if not _is_real(t) or not 0 <= t <= config.epochs:
        raise ValueError(f"t={t!r} is not allowed; allowed: 0 <= t <= epochs={config.epochs}")
    e, lr = config.epochs, config.lr_max
    if config.schedule == "cyclic":
        return float(np.interp(t, [0.0, 0.4 * e, e], [0.0, lr, 0.0]))
    if config.schedule == "piecewise":
        return lr if t < 0.5 * e else lr / 10 if t < 0.75 * e else lr / 100
    return lr


def augment(x: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """Random crop of the zero-padded images (``padding`` pixels) and random horizontal flip, per image.

    Examples
    --------
    >>> x = torch.rand(8, 3, 6, 6)
    >>> y = augment(x, torch.Generator().manual_seed(0), padding=0)  # flips only
    >>> all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(x, y))
    True
    """
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (N, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)!r}"
                         if not isinstance(x, Tensor) else f"x must be a (N, C, H, W) tensor, got shape "
                         f"{tuple(x.shape)}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator={generator!r} is not allowed; allowed: a torch.Generator")
    padding = as_int(padding, "padding", minimum=0)
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (oy[:, None] + torch.arange(h)).to(x.device)  # (n, h)
    cols = ox[:, None] + torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(1), cols).to(x.device)  # (n, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def _check_attack_args(model: Any, x: Any, y: Any, epsilon: Any, alpha: Any, steps: Any
                       ) -> tuple[torch.Tensor, float, float, int]:
    """The checks :func:`pgd_attack` and :func:`evaluate_robustness` share: ``(x, epsilon, alpha, steps)``."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    x = _check_images(x, "x")
    _check_targets(y, "y", x)
    return (x, as_real(epsilon, "epsilon", minimum=0, maximum=1),
            as_real(alpha, "alpha", minimum=0, min_open=True), as_int(steps, "steps", minimum=1))


def pgd_attack(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epsilon: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """L∞ PGD in pixel space ``[0, 1]``: the perturbation ``delta`` (``x + delta`` in the box).

    ``delta_0 ~ U(-ε, ε)`` (clipped to the box) if ``random_start``, then ``steps``
    times ``delta <- clip_ε(delta + alpha·sign(∇_delta CE(model(x + delta), y)))``,
    clipped to the box. ``steps=1``, ``alpha=1.25 ε`` is Wong et al.'s FGSM with
    random start. Runs in the model's current mode; only ``delta`` gets gradients.
    ``x`` must be finite images in ``[0, 1]``, ``y`` integer labels below the
    number of logits; ``epsilon`` in ``[0, 1]``, ``alpha > 0``, ``steps >= 1``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> x, y = torch.rand(5, 3, 2, 2), torch.tensor([0, 1, 2, 0, 1])
    >>> d = pgd_attack(model, x, y, epsilon=0.1, alpha=0.05, steps=3)
    >>> bool(d.abs().max() <= 0.1 + 1e-7), bool(((x + d) >= 0).all() and ((x + d) <= 1).all())
    (True, True)
    """
    x, epsilon, alpha, steps = _check_attack_args(model, x, y, epsilon, alpha, steps)
    random_start = as_bool(random_start, "random_start")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator={generator!r} is not allowed; allowed: None or a torch.Generator")
    if random_start:
        delta = (torch.rand(x.shape, generator=generator, device="cpu").to(x) * 2 - 1) * epsilon
        delta = (x + delta).clamp_(0, 1) - x
    else:
        delta = torch.zeros_like(x)
    for step in range(steps):
        delta.requires_grad_(True)
        logits = model(x + delta)
        if step == 0:
            _check_targets(y, "y", x, logits)
        loss = F.cross_entropy(logits, y)
        (grad,) = torch.autograd.grad(loss, [delta])
        with torch.no_grad():
            delta = (delta + alpha * grad.sign()).clamp_(-epsilon, epsilon)
            delta = (x + delta).clamp_(0, 1) - x
    return delta.detach()


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    probs = F.softmax(model(x), dim=1)
    conf, pred = probs.max(1)
    return pred, conf


def evaluate_robustness(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epsilon: float = 8 / 255,
    alpha: float = 2 / 255,
    steps: int = 10,
    fgsm_alpha: float | None = None,
    fgsm_random_start: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """Clean, FGSM (step ``fgsm_alpha``, default 1.25 ε) and PGD accuracy and confidences, eval mode.

    The PGD attack starts at a uniform random point of the ε-ball; the FGSM
    attack does if ``fgsm_random_start``.

    Returns
    -------
    dict
        ``clean_accuracy``, ``fgsm_accuracy``, ``pgd_accuracy``, ``confidence_clean``,
        ``confidence_pgd``, ``confidence_pgd_wrong`` (NaN when no PGD example is wrong).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> out = evaluate_robustness(model, torch.rand(6, 3, 2, 2), torch.zeros(6, dtype=torch.long), epsilon=0.5, alpha=0.2)
    >>> out["pgd_accuracy"] <= out["clean_accuracy"], 0 < out["confidence_clean"] <= 1
    (True, True)
    """
    x, epsilon, alpha, steps = _check_attack_args(model, x, y, epsilon, alpha, steps)
    fgsm_alpha = as_real(fgsm_alpha, "fgsm_alpha", minimum=0, min_open=True, allow_none=True)
    fgsm_random_start = as_bool(fgsm_random_start, "fgsm_random_start")
    seed = as_int(seed, "seed", minimum=0)
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator().manual_seed(seed)
        pred, conf = _predict(model, x)
        fgsm = pgd_attack(
            model, x, y, epsilon=epsilon, alpha=fgsm_alpha if fgsm_alpha is not None else 1.25 * epsilon, steps=1,
            random_start=fgsm_random_start, generator=gen,
        )
        pred_fgsm, _ = _predict(model, x + fgsm)
        delta = pgd_attack(model, x, y, epsilon=epsilon, alpha=alpha, steps=steps, generator=gen)
        pred_adv, conf_adv = _predict(model, x + delta)
    finally:
        model.train(was_training)
    wrong = pred_adv != y
    return {
        "clean_accuracy": float((pred == y).float().mean()),
        "fgsm_accuracy": float((pred_fgsm == y).float().mean()),
        "pgd_accuracy": float((pred_adv == y).float().mean()),
        "confidence_clean": float(conf.mean()),
        "confidence_pgd": float(conf_adv.mean()),
        "confidence_pgd_wrong": float(conf_adv[wrong].mean()) if bool(wrong.any()) else math.nan,
    }


@torch.no_grad()
def _predict_classes(model: nn.Module, x: Tensor) -> int:
    """Number of logits of ``model`` (one forward pass on ``x``)."""
    return int(model(x).shape[1])


def _check_series(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value {float(arr[bad])} at index {bad}")
    return arr


def pgd_stop(robust_accuracy: Sequence[float] | np.ndarray, drop: float = 0.2) -> int | None:
    """Wong et al. (2020): index of the kept epoch when robust accuracy first drops by more than ``drop``.

    Returns ``e - 1`` for the first ``e >= 1`` with ``acc[e] - acc[e-1] < -drop``
    (training stops at ``e`` and the previous model is kept), or None.

    Examples
    --------
    >>> pgd_stop([0.2, 0.3, 0.35, 0.05, 0.0])
    2
    >>> pgd_stop([0.2, 0.3, 0.35]) is None
    True
    """
    acc = _check_series(robust_accuracy, "robust_accuracy")
    drop = as_real(drop, "drop", minimum=0)
    falls = np.flatnonzero(np.diff(acc) < -drop)
    return int(falls[0]) if len(falls) else None


def aliasing_stop(
    aliasing: Sequence[float] | np.ndarray,
    threshold: float = 0.33,
    *,
    window: int | None = None,
    min_history: int = 1,
) -> int | None:
    """Grabinski et al. (2022): index of the kept epoch when aliasing rises above its running median.

    At each ``e`` with at least ``min_history`` earlier values, the reference is
    the median of the previous values (the last ``window`` of them, or all);
    the first ``e`` with ``aliasing[e] > (1 + threshold) · median`` stops
    training and ``e - 1`` is returned (None if it never happens).

    Examples
    --------
    >>> aliasing_stop([1.0, 1.1, 0.9, 1.05, 1.6, 2.0], threshold=0.33)
    3
    >>> aliasing_stop([1.0, 1.1, 0.9, 1.05, 1.6, 2.0], threshold=1.0) is None
    True
    """
    a = _check_series(aliasing, "aliasing")
    threshold = as_real(threshold, "threshold", minimum=0)
    window = as_int(window, "window", minimum=1, allow_none=True)
    min_history = as_int(min_history, "min_history", minimum=1)
    for e in range(min_history, len(a)):
        past = a[:e] if window is None else a[max(0, e - window) : e]
        if a[e] > (1 + threshold) * np.median(past):
            return e - 1
    return None


# --------------------------------------------------------------------------- training


def _check_data(name: str, x: Tensor, y: Tensor | None = None, num_classes: int | None = None) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} images must be a (N, C, H, W) tensor, got {type(x).__name__}"
                         + (f" of shape {tuple(x.shape)}" if hasattr(x, "shape") else ""))
    if x.ndim != 4:
        raise ValueError(f"{name} images must be a (N, C, H, W) tensor, got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError(f"{name} images are empty; allowed: at least one image")
    _check_images(x, f"{name} images")
    if y is not None and (not isinstance(y, Tensor) or y.shape != x.shape[:1]):
        raise ValueError(f"{name} labels must have shape ({len(x)},), got {getattr(y, 'shape', type(y).__name__)}")
    if y is not None:
        check_labels(y, f"{name} labels", length=len(x), num_classes=num_classes)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


def _probe(
    model: nn.Module,
    config: AdvTrainConfig,
    eval_xy: tuple[Tensor, Tensor],
    alias_x: Tensor,
    check_xy: tuple[Tensor, Tensor],
    layers: list[str],
) -> dict[str, Any]:
    record: dict[str, Any] = evaluate_robustness(
        model,
        *eval_xy,
        epsilon=config.eval_epsilon,
        alpha=config.eval_alpha,
        steps=config.eval_steps,
        fgsm_alpha=config.resolved_alpha * config.eval_epsilon / config.epsilon if config.mode == "fgsm" else None,
        fgsm_random_start=config.random_start,
        seed=config.seed,
    )
    start = time.perf_counter()
    values = model_aliasing(model, alias_x)
    record["time_aliasing_check"] = time.perf_counter() - start
    per_layer = {name: float(values[name].mean()) for name in layers}
    record["aliasing"] = [per_layer[name] for name in layers]
    record["aliasing_stage"] = list(stage_means(per_layer).values())

    # Wong et al.'s check: PGD-5 on the first training batch of the epoch (eval mode here)
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    xc, yc = check_xy
    delta = pgd_attack(
        model, xc, yc, epsilon=config.eval_epsilon, alpha=config.eval_alpha, steps=config.check_steps,
        generator=torch.Generator().manual_seed(config.seed),
    )
    pred, _ = _predict(model, xc + delta)
    record["time_pgd_check"] = time.perf_counter() - start
    record["pgd_check_accuracy"] = float((pred == yc).float().mean())
    model.train(was_training)
    return record


def train_adversarial(
    model: nn.Module,
    config: AdvTrainConfig,
    train_xy: tuple[Tensor, Tensor],
    eval_xy: tuple[Tensor, Tensor],
    alias_x: Tensor,
    *,
    keep_states: bool = False,
    callback: Callable[[int, nn.Module, dict[str, Any]], None] | None = None,
    progress: bool = False,
) -> AdvTrainResult:
    """Train ``model`` in ``config.mode`` and log robustness and aliasing every epoch.

    Parameters
    ----------
    model : nn.Module
        Takes images in ``[0, 1]`` (normalises itself) and has strided convolutions.
    config : AdvTrainConfig
    train_xy : (Tensor, Tensor)
        Training images ``(N, C, H, W)`` in ``[0, 1]`` and labels.
    eval_xy : (Tensor, Tensor)
        The fixed held-out batch for clean/FGSM/PGD accuracy and confidences.
    alias_x : Tensor
        The fixed images on which aliasing is measured (e.g. 100 training images).
    keep_states : bool
        Keep a CPU copy of the weights after every epoch in ``result.states``.
    callback : callable, optional
        ``callback(epoch, model, record)`` after each epoch's log (epoch 0 included).
    progress : bool
        Print one line per epoch.

    Returns
    -------
    AdvTrainResult

    Examples
    --------
    >>> from freqkit.resnet import create_cnn
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 10, (16,))
    >>> cfg = AdvTrainConfig(mode="fgsm", epochs=2, batch_size=8, eval_steps=2, check_steps=1)
    >>> res = train_adversarial(create_cnn("preact-resnet18", width=2, seed=0), cfg, (x, y), (x, y), x[:4])
    >>> res.history.pgd_accuracy.dims, res.history.sizes["epoch"], res.history.sizes["stage"]
    (('epoch',), 3, 3)
    """
    if not isinstance(config, AdvTrainConfig):
        raise ValueError(f"config must be an AdvTrainConfig, got {type(config).__name__}")
    keep_states, progress = as_bool(keep_states, "keep_states"), as_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback={callback!r} is not allowed; allowed: None or a function (epoch, model, record)")
    for name, xy in (("train", train_xy), ("eval", eval_xy)):
        if not isinstance(xy, (tuple, list)) or len(xy) != 2:
            raise ValueError(f"{name}_xy must be an (images, labels) pair, got {type(xy).__name__}")
    layers = list(strided_convolutions(model))
    _check_data("train", *train_xy)
    _check_data("eval", *eval_xy)
    _check_data("aliasing", alias_x)
    was_training = model.training
    model.eval()
    try:
        num_classes = _predict_classes(model, eval_xy[0][:1].to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    _check_data("train", *train_xy, num_classes=num_classes)
    _check_data("eval", *eval_xy, num_classes=num_classes)
    stages = list(stage_means({name: 0.0 for name in layers}))
    x_train, y_train = train_xy
    device = next(model.parameters()).device
    x_train, y_train = x_train.to(device), y_train.to(device)
    eval_xy = (eval_xy[0].to(device), eval_xy[1].to(device))
    alias_x = alias_x.to(device)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    opt = torch.optim.SGD(
        model.parameters(), lr=0.0, momentum=config.momentum, weight_decay=config.weight_decay
    )
    alpha = config.resolved_alpha
    records: list[dict[str, Any]] = []
    states: dict[int, dict[str, Tensor]] = {}

    def finish_epoch(epoch: int, record: dict[str, Any], check_xy: tuple[Tensor, Tensor]) -> None:
        record.update(_probe(model, config, eval_xy, alias_x, check_xy, layers))
        record["epoch"] = epoch
        records.append(record)
        if keep_states:
            states[epoch] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if callback is not None:
            callback(epoch, model, record)
        if progress:
            print(
                f"epoch {epoch:3d} loss {record['train_loss']:.3f} clean {record['clean_accuracy']:.3f} "
                f"pgd {record['pgd_accuracy']:.3f} fgsm {record['fgsm_accuracy']:.3f} "
                f"check {record['pgd_check_accuracy']:.3f} aliasing "
                + " ".join(f"{v:.4f}" for v in record["aliasing_stage"])
                + f" ({record['time_train']:.1f}s)",
                flush=True,
            )

    model.train()
    first = torch.randperm(n, generator=_epoch_generator(config.seed, 0))[: config.batch_size]
    finish_epoch(
        0,
        {"lr": 0.0, "train_loss": math.nan, "train_accuracy": math.nan, "time_train": 0.0},
        (x_train[first], y_train[first]),
    )
    for epoch in range(1, config.epochs + 1):
        gen = _epoch_generator(config.seed, epoch)
        order = torch.randperm(n, generator=gen).to(device)
        model.train()
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        check_xy: tuple[Tensor, Tensor] | None = None
        lr = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * config.batch_size : (i + 1) * config.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if check_xy is None:
                check_xy = (xb, yb)  # un-augmented first batch for the PGD check
            if config.augment:
                xb = augment(xb, gen)
            lr = learning_rate((epoch - 1) + (i + 1) / steps_per_epoch, config)
            for group in opt.param_groups:
                group["lr"] = lr
            if config.mode == "fgsm":
                xb = xb + pgd_attack(
                    model, xb, yb, epsilon=config.epsilon, alpha=alpha, steps=1,
                    random_start=config.random_start, generator=gen,
                )
            elif config.mode == "pgd":
                xb = xb + pgd_attack(
                    model, xb, yb, epsilon=config.epsilon, alpha=alpha, steps=config.train_steps,
                    random_start=config.random_start, generator=gen,
                )
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at epoch {epoch}, step {i}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(yb)
        record = {
            "lr": lr,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "time_train": time.perf_counter() - start,
        }
        assert check_xy is not None
        finish_epoch(epoch, record, check_xy)
    model.eval()
    return AdvTrainResult(model, _history(records, layers, stages, config), states)


_UNITS = {
    "lr": "1",
    "time_train": "s",
    "time_aliasing_check": "s",
    "time_pgd_check": "s",
}


def _history(
    records: list[dict[str, Any]], layers: list[str], stages: list[str], config: AdvTrainConfig
) -> xr.Dataset:
    epochs = [r["epoch"] for r in records]
    scalars = [k for k in records[0] if k not in ("epoch", "aliasing", "aliasing_stage")]
    data: dict[str, Any] = {k: (("epoch",), np.array([r[k] for r in records], dtype=float)) for k in scalars}
    data["aliasing"] = (("epoch", "layer"), np.array([r["aliasing"] for r in records], dtype=float))
    data["aliasing_stage"] = (("epoch", "stage"), np.array([r["aliasing_stage"] for r in records], dtype=float))
    ds = xr.Dataset(data, coords={"epoch": epochs, "layer": layers, "stage": stages})
    for name, unit in _UNITS.items():
        ds[name].attrs["units"] = unit
    ds["aliasing"].attrs["long_name"] = "aliasing (Fourier L1, norm=forward) on the fixed aliasing images"
    ds.attrs["advtrain_config"] = config.to_json()
    return ds

