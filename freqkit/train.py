"""SGD training with the paper's cyclic learning-rate schedule and failure retries.

Caro et al. (2024) train every network with plain SGD, cross-entropy loss, "a
linearly decaying learning rate with a 0.3 factor per epoch, reset to the
maximum after >= 20 epochs", keep the weights of the best validation epoch, and
retry a run whose loss diverges or whose accuracy stays at chance with the
learning rate adjusted "x10, then /10, then /50".  This module implements that
recipe for any ``nn.Module`` factory and any ``(x, y)`` tensors:

- :class:`TrainConfig` - frozen, JSON-serialisable hyper-parameters;
- :func:`learning_rate` - the schedule as a pure function of the step;
- :func:`evaluate` - batched top-1 accuracy;
- :func:`train_model` - the training loop with best-epoch selection, failure
  retries and resumable per-epoch checkpoints.

Determinism: model initialisation happens right after
``torch.manual_seed(config.seed)``; each epoch re-seeds the global generator
(dropout etc.) and draws its shuffling permutation from a fresh
``torch.Generator`` seeded from ``(seed, epoch)``, so an epoch's randomness
does not depend on what ran before it: a resumed run is bit-identical to an
uninterrupted one, a retry differs from a direct run at its learning rate in
nothing, and stopping after ``k`` epochs gives the weights of epoch ``k`` of a
longer run.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from freqkit._validate import as_bool, as_int, as_real, check_finite, check_labels

__all__ = [
    "TrainConfig",
    "TrainResult",
    "learning_rate",
    "evaluate",
    "train_model",
]

_HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_accuracy", "val_accuracy")


class _Split(Protocol):
    x: torch.Tensor
    y: torch.Tensor


class _Splits(Protocol):
    train: _Split
    val: _Split
    test: _Split


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (frozen, JSON-serialisable via ``asdict``).

    Parameters
    ----------
    epochs : int
        Number of passes over the training set (per attempt).
    batch_size : int
        Mini-batch size; the last, smaller batch of an epoch is kept.
    lr : float
        Base (maximum) learning rate of the first attempt; the paper uses 0.1.
    momentum : float
        SGD momentum. Default 0.0: the paper says plain "SGD" and reports no
        momentum, so none is used unless asked for.
    weight_decay : float
        L2 penalty passed to ``torch.optim.SGD`` (default 0.0, none in the paper).
    lr_decay : float
        Factor by which the learning rate falls per epoch within a cycle,
        in ``(0, 1]`` (paper: 0.3; 1.0 gives a constant learning rate).
    lr_floor : float
        Lower bound of the learning rate as a fraction of the maximum, in ``[0, 1]``.
    cycle_epochs : int
        Length of a schedule cycle in epochs; the learning rate restarts at its
        maximum at the start of every cycle (paper: ">= 20").
    seed : int
        Seed of initialisation, shuffling and any other randomness.
    lr_retry_factors : tuple of float
        Learning rate of attempt ``i`` is ``lr * lr_retry_factors[i]``. The
        default ``(1, 10, 0.1, 0.02)`` reads the paper's "x10, then /10, then
        /50" as adjustments relative to the *base* rate: 0.1, 1.0, 0.01, 0.002.
    max_retries : int
        Retries after the first attempt; there are
        ``min(max_retries + 1, len(lr_retry_factors))`` attempts at most.
    chance_patience : int
        If the best validation accuracy after this many epochs is still within
        ``chance_margin`` of chance, the attempt has failed; 0 disables the check.
    divergence_factor : float
        From epoch ``divergence_patience`` on, an epoch whose mean training
        loss exceeds ``divergence_factor · ln K`` (``ln K`` is the cross-entropy
        of a uniform prediction over ``K`` classes) has diverged: the attempt
        has failed even though every loss was finite (a deep linear net on raw
        CIFAR-10 pixels at rate 0.1 sits at losses ~1e18 without overflowing).
        ``inf`` disables the check.
    divergence_patience : int
        First epoch (1-based) at which the divergence check applies, so that a
        run whose loss spikes in its first epoch and then recovers is not
        failed.
    chance_margin : float
        Margin above chance accuracy. "Chance" is the accuracy of always
        predicting the most frequent validation label (``1/K`` when balanced).
    eval_batch_size : int
        Batch size of :func:`evaluate`.
    num_threads : int or None
        If given, ``torch.set_num_threads`` during training (restored afterwards).

    Examples
    --------
    >>> import dataclasses, json
    >>> config = TrainConfig(epochs=2, batch_size=32)
    >>> json.loads(json.dumps(dataclasses.asdict(config)))["lr_retry_factors"]
    [1.0, 10.0, 0.1, 0.02]
    >>> TrainConfig(lr_decay=1.5)
    Traceback (most recent call last):
    ...
    ValueError: lr_decay must be in (0, 1], got 1.5
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_decay: float = 0.3
    lr_floor: float = 0.01
    cycle_epochs: int = 20
    seed: int = 0
    lr_retry_factors: tuple[float, ...] = (1.0, 10.0, 0.1, 0.02)
    max_retries: int = 3
    chance_patience: int = 3
    chance_margin: float = 0.02
    divergence_factor: float = 10.0
    divergence_patience: int = 2
    eval_batch_size: int = 1024
    num_threads: int | None = None

    def __post_init__(self) -> None:
        # NumPy scalars are accepted and stored as Python int/float (so asdict -> JSON works);
        # Python values are stored unchanged (a valid config's JSON, hence its run key, is as before).
        def setattr_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        def integer(name: str, minimum: int, message: str) -> None:
            try:
                setattr_(name, as_int(getattr(self, name), name, minimum=minimum))
            except ValueError:
                raise ValueError(f"{name} must be {message}, got {getattr(self, name)!r}") from None

        def real(name: str, message: str, **bounds: Any) -> None:
            try:
                setattr_(name, as_real(getattr(self, name), name, **bounds))
            except ValueError:
                raise ValueError(f"{name} must be {message}, got {getattr(self, name)!r}") from None

        factors = self.lr_retry_factors
        if isinstance(factors, (str, bytes)) or not isinstance(factors, Iterable):
            raise ValueError(f"lr_retry_factors must be non-empty finite positive floats, got {factors!r}")
        try:
            factors = tuple(float(as_real(f, "lr_retry_factors", minimum=0, min_open=True)) for f in factors)
        except ValueError:
            raise ValueError(
                f"lr_retry_factors must be non-empty finite positive floats, got {self.lr_retry_factors!r}"
            ) from None
        if not factors:
            raise ValueError(f"lr_retry_factors must be non-empty finite positive floats, got {factors!r}")
        setattr_("lr_retry_factors", factors)
        for name in ("epochs", "batch_size", "cycle_epochs", "eval_batch_size"):
            integer(name, 1, "a positive int")
        real("lr", "a finite positive float", minimum=0, min_open=True)
        real("momentum", "in [0, 1)", minimum=0, maximum=1, max_open=True)
        real("weight_decay", "a finite number >= 0", minimum=0)
        real("lr_decay", "in (0, 1]", minimum=0, maximum=1, min_open=True)
        real("lr_floor", "in [0, 1]", minimum=0, maximum=1)
        integer("seed", 0, "an int >= 0 (a non-negative integer seed)")
        integer("max_retries", 0, "an int >= 0")
        integer("chance_patience", 0, "an int >= 0")
        integer("divergence_patience", 1, "an int >= 1")
        real("divergence_factor", "> 1 (inf disables the check)", minimum=1, min_open=True, finite=False)
        real("chance_margin", "in [0, 1)", minimum=0, maximum=1, max_open=True)
        if self.num_threads is not None:
            integer("num_threads", 1, "None or a positive int")

    @property
    def attempt_lrs(self) -> tuple[float, ...]:
        """Maximum learning rate of each allowed attempt, in order."""
        return tuple(self.lr * f for f in self.lr_retry_factors[: self.max_retries + 1])


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes
    ----------
    model : nn.Module
        The model of the last attempt with its best-validation-epoch weights
        restored (its initial weights if no epoch of that attempt completed).
    history : dict of str to list
        Per-epoch ``epoch`` (1-based), ``lr`` (at the epoch's first step),
        ``train_loss`` and ``train_accuracy`` (running means over the epoch's
        batches, in train mode) and ``val_accuracy`` of the last attempt.
    best_epoch : int
        1-based epoch whose weights were kept (earliest on ties; 0 if none).
    val_accuracy, test_accuracy : float
        Accuracies of the selected weights; both NaN when every attempt failed
        before completing an epoch (the returned model is then untrained, and
        its accuracy is no result of the run).
    lrs_tried : list of float
        Maximum learning rate of every attempt, in order.
    failed : bool
        True when the last attempt failed too (its best weights are still returned).
    train_seconds : float
        Wall-clock seconds spent in training and validation, over all attempts
        and resumed sessions.
    """

    model: nn.Module
    history: dict[str, list[float]]
    best_epoch: int
    val_accuracy: float
    test_accuracy: float
    lrs_tried: list[float]
    failed: bool
    train_seconds: float
    failure_reasons: list[str] = field(default_factory=list)


def learning_rate(step: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """Learning rate at optimiser step ``step`` (0-based) of the cyclic schedule.

    Reading of the paper's "linearly decaying learning rate with a 0.3 factor
    per epoch, reset to the maximum after >= 20 epochs": let
    ``t = (step mod (cycle_epochs * steps_per_epoch)) / steps_per_epoch`` be the
    (fractional) epoch within the current cycle, ``e = floor(t)``,
    ``u = t - e`` and ``d = lr_decay``. At every epoch boundary the rate is
    ``lr * d**e`` (a factor ``d`` per epoch) and within an epoch it decays
    *linearly* per step between the two boundary values::

        lr(step) = max(lr * ((1 - u) * d**e + u * d**(e + 1)), lr * lr_floor)

    Every ``cycle_epochs`` epochs it restarts at ``lr``.

    Parameters
    ----------
    step : int
        Global optimiser step, counted from 0 over the whole training.
    steps_per_epoch : int
        Optimiser steps per epoch (``ceil(n_train / batch_size)``).
    config : TrainConfig
        Uses ``lr``, ``lr_decay``, ``lr_floor`` and ``cycle_epochs``.

    Returns
    -------
    float

    Examples
    --------
    >>> config = TrainConfig(lr=0.1, lr_decay=0.3, lr_floor=0.0, cycle_epochs=2)
    >>> [round(learning_rate(s, 10, config), 6) for s in (0, 5, 10, 15, 20)]
    [0.1, 0.065, 0.03, 0.0195, 0.1]
    """
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if isinstance(steps_per_epoch, (bool, np.bool_)) or not isinstance(steps_per_epoch, (int, np.integer)) \
            or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    step_in_cycle = int(step) % (config.cycle_epochs * int(steps_per_epoch))
    epoch_in_cycle, step_in_epoch = divmod(step_in_cycle, int(steps_per_epoch))
    u = step_in_epoch / steps_per_epoch
    d = config.lr_decay
    factor = (1.0 - u) * d**epoch_in_cycle + u * d ** (epoch_in_cycle + 1)
    return config.lr * max(factor, config.lr_floor)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` (no gradients, eval mode).

    The model's previous train/eval mode is restored afterwards.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, ...)`` inputs to ``(B, num_classes)`` logits.
    x : Tensor
        Inputs ``(N, ...)``.
    y : Tensor
        Integer labels ``(N,)``.
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    float
        Fraction of correctly classified samples (``nan`` if ``N == 0``).

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> _ = model.weight.data.copy_(torch.eye(2))
    >>> evaluate(model, torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]), torch.tensor([0, 1, 1]))
    0.6666666666666666
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same length, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    check_labels(y, "y")
    try:
        batch_size = as_int(batch_size, "batch_size", minimum=1)
    except ValueError:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}") from None
    if x.shape[0] == 0:
        return float("nan")
    label_max = int(y.max())
    was_training = model.training
    model.eval()
    device = _model_device(model, x.device)
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                xb = x[start : start + batch_size].to(device)
                yb = y[start : start + batch_size].to(device)
                logits = model(xb)
                if start == 0:
                    _check_logits(logits, label_max, "y")
                correct += int((logits.argmax(dim=1) == yb).sum())
    finally:
        model.train(was_training)
    return correct / x.shape[0]


def train_model(
    model_factory: Callable[[], nn.Module],
    splits: _Splits,
    config: TrainConfig,
    *,
    progress: bool = True,
    checkpoint_path: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a fresh ``model_factory()`` with SGD, retrying failed attempts.

    Each attempt builds a new model right after ``torch.manual_seed(config.seed)``
    (so attempts differ only in their learning rate), trains for
    ``config.epochs`` epochs with cross-entropy loss and the schedule of
    :func:`learning_rate`, evaluates on ``splits.val`` after every epoch and
    keeps a copy of the weights of the best validation epoch. An attempt fails
    as soon as a training loss is NaN/inf, when an epoch's mean training loss
    exceeds ``divergence_factor · ln K`` from epoch ``divergence_patience`` on
    (diverging but still finite), or if after ``chance_patience``
    epochs its best validation accuracy is still at most chance +
    ``chance_margin``; the next attempt then uses the next learning rate of
    ``config.attempt_lrs``. At the end the best weights are restored and
    evaluated on ``splits.test``.

    Parameters
    ----------
    model_factory : callable
        ``model_factory() -> nn.Module`` mapping ``splits.train.x[:B]`` to logits.
    splits : object
        ``.train``, ``.val`` and ``.test`` each with tensors ``.x`` and ``.y``
        (e.g. :class:`freqkit.data.DatasetSplits`).
    config : TrainConfig
    progress : bool
        Show a tqdm bar over epochs.
    checkpoint_path : path or None
        If given, the full training state is written there atomically (temp file
        + ``os.replace``) after every epoch and every failed attempt; if the file
        exists when training starts, training resumes from it (the checkpoint's
        config must equal ``config`` and its data fingerprint, a sha256 of every
        split's tensors, must equal that of ``splits``; an unreadable file is a
        ``ValueError`` naming it). The file is left in place at the end, so
        calling again returns the finished result without retraining.

    Raises
    ------
    ValueError
        For bad splits (tensors of different lengths, non-floating or
        non-finite images, labels that are not 1-D non-negative integers or
        that do not index the model's logits), a ``model_factory`` that is not
        a factory of ``nn.Module``, or a checkpoint of another config or data.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import torch, types
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(200) % 2
    >>> x = torch.randn(200, 2, generator=g) + 3.0 * (2.0 * y[:, None] - 1.0)
    >>> split = types.SimpleNamespace(x=x, y=y)
    >>> splits = types.SimpleNamespace(train=split, val=split, test=split)
    >>> result = train_model(lambda: torch.nn.Linear(2, 2), splits,
    ...                      TrainConfig(epochs=2, batch_size=20), progress=False)
    >>> result.test_accuracy > 0.95, result.lrs_tried, result.failed
    (True, [0.1], False)
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not callable(model_factory) or isinstance(model_factory, nn.Module):
        raise ValueError(
            f"model_factory must be a callable taking no arguments that returns a new nn.Module, "
            f"got {type(model_factory).__name__}"
        )
    for name in ("train", "val", "test"):
        split = getattr(splits, name, None)
        if split is None or not hasattr(split, "x") or not hasattr(split, "y"):
            raise ValueError(f"splits.{name} must have tensors .x and .y, got {split!r}")
        if not isinstance(split.x, torch.Tensor) or not isinstance(split.y, torch.Tensor):
            raise ValueError(f"splits.{name}.x and .y must be torch tensors, got "
                             f"{type(split.x).__name__} and {type(split.y).__name__}")
        if split.x.ndim == 0 or split.y.ndim == 0 or split.x.shape[0] != split.y.shape[0]:
            raise ValueError(
                f"splits.{name}.x and .y must have the same length, got shapes "
                f"{tuple(split.x.shape)} and {tuple(split.y.shape)}"
            )
        if not split.x.is_floating_point():
            raise ValueError(f"splits.{name}.x has dtype {split.x.dtype}; allowed: a floating dtype "
                             "(convert images with x.float() / 255 first)")
        check_labels(split.y, f"splits.{name}.y")
        check_finite(split.x, f"splits.{name}.x")
    if splits.train.x.shape[0] == 0 or splits.val.x.shape[0] == 0:
        raise ValueError("splits.train and splits.val must be non-empty")
    progress = as_bool(progress, "progress")
    if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
        raise ValueError(f"checkpoint_path={checkpoint_path!r} is not allowed; allowed: None or a path")

    previous_threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        return _train_with_retries(model_factory, splits, config, progress, checkpoint_path)
    finally:
        torch.set_num_threads(previous_threads)


# --------------------------------------------------------------------------- internals


def _model_device(model: nn.Module, default: torch.device) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return default


def _check_logits(logits: torch.Tensor, label_max: int, labels: str) -> None:
    """Labels must index the model's logits: ``(B, K)`` with every label ``< K``."""
    if logits.ndim != 2:
        raise ValueError(f"the model returned logits of shape {tuple(logits.shape)}; allowed: (B, num_classes)")
    if label_max >= logits.shape[1]:
        raise ValueError(
            f"{labels} has labels up to {label_max} but the model returns {logits.shape[1]} logits; "
            f"allowed: labels 0..{logits.shape[1] - 1}"
        )


def _data_fingerprint(splits: _Splits) -> str:
    """sha256 of the shapes, dtypes and bytes of every split's ``x`` and ``y`` (the data's identity)."""
    h = hashlib.sha256()
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        for t in (split.x, split.y):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
            if t.numel():
                h.update(memoryview(t.view(torch.uint8).numpy()))
    return "sha256:" + h.hexdigest()


def _chance_accuracy(y: torch.Tensor) -> float:
    """Accuracy of always predicting the most frequent label."""
    counts = torch.bincount(y.reshape(-1).long().cpu())
    return float(counts.max()) / y.numel()


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _clone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _fresh_state(config: TrainConfig, data: str | None = None) -> dict[str, Any]:
    return {
        "config": dataclasses.asdict(config),
        "data": data,
        "attempt": 0,
        "lrs_tried": [],
        "failure_reasons": [],
        "epochs_done": 0,
        "finished": False,
        "failed": False,
        "model": None,
        "optimizer": None,
        "best_state": None,
        "best_epoch": 0,
        "best_val": -math.inf,
        "history": {k: [] for k in _HISTORY_KEYS},
        "train_seconds": 0.0,
    }


def _save_checkpoint(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _load_checkpoint(path: Path, config: TrainConfig, data: str | None = None) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated, not a zip, unpickling error, ...
        raise ValueError(
            f"checkpoint {str(path)!r} is not a readable training checkpoint "
            f"({type(err).__name__}: {err}); delete it or pass another checkpoint_path"
        ) from None
    if not isinstance(state, dict) or "config" not in state or "attempt" not in state:
        raise ValueError(
            f"checkpoint {str(path)!r} is not a freqkit training checkpoint (no config/attempt entries); "
            "delete it or pass another checkpoint_path"
        )
    saved = state.get("config")
    expected = dataclasses.asdict(config)
    # tuples are stored as lists by torch.save's weights-only format
    if saved is None or {k: list(v) if isinstance(v, tuple) else v for k, v in saved.items()} != {
        k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()
    }:
        raise ValueError(
            f"checkpoint {str(path)!r} was written for config {saved!r}, not for {expected!r}; "
            "delete it or pass another checkpoint_path"
        )
    saved_data = state.get("data")
    if data is not None and saved_data is None:
        warnings.warn(
            f"checkpoint {str(path)!r} has no data fingerprint (written by an older freqkit): "
            "resuming it without checking that it was trained on these splits",
            stacklevel=4,
        )
        state["data"] = data
    elif data is not None and saved_data != data:
        raise ValueError(
            f"checkpoint {str(path)!r} was written for other data (fingerprint {saved_data}, "
            f"these splits are {data}) with the same config; delete it or pass another checkpoint_path"
        )
    return state


def _train_with_retries(
    model_factory: Callable[[], nn.Module],
    splits: _Splits,
    config: TrainConfig,
    progress: bool,
    checkpoint_path: str | os.PathLike[str] | None,
) -> TrainResult:
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    data = _data_fingerprint(splits) if path is not None else None
    state = (_load_checkpoint(path, config, data) if path is not None and path.exists()
             else _fresh_state(config, data))

    x_train, y_train = splits.train.x, splits.train.y
    if y_train.dtype != torch.int64:
        y_train = y_train.long()  # cross-entropy needs int64 class indices; same values
    label_max = {name: int(getattr(splits, name).y.max()) for name in ("train", "val", "test")
                 if getattr(splits, name).y.numel()}
    labels_checked = False
    n_train = x_train.shape[0]
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    chance = _chance_accuracy(splits.val.y)
    attempt_lrs = config.attempt_lrs
    loss_fn = nn.CrossEntropyLoss()

    while True:
        attempt = state["attempt"]
        lr_max = attempt_lrs[attempt]
        attempt_config = dataclasses.replace(config, lr=lr_max)
        if len(state["lrs_tried"]) <= attempt:
            state["lrs_tried"].append(lr_max)

        torch.manual_seed(config.seed)
        model = model_factory()
        if not isinstance(model, nn.Module):
            raise ValueError(f"model_factory() must return an nn.Module, got {type(model).__name__}")
        device = _model_device(model, x_train.device)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=lr_max, momentum=config.momentum, weight_decay=config.weight_decay
        )
        if state["model"] is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        if state["finished"]:
            break

        failure: str | None = None
        bar = tqdm(
            total=config.epochs,
            initial=state["epochs_done"],
            disable=not progress,
            desc=f"train lr={lr_max:g}",
            unit="epoch",
            leave=False,
        )
        try:
            for epoch in range(state["epochs_done"], config.epochs):
                started = time.perf_counter()
                epoch_seed = _epoch_seed(config.seed, epoch)
                torch.manual_seed(epoch_seed)
                order = torch.randperm(n_train, generator=torch.Generator().manual_seed(epoch_seed))
                model.train()
                loss_sum = torch.zeros((), dtype=torch.float64)
                correct = torch.zeros((), dtype=torch.int64)
                epoch_lr = learning_rate(epoch * steps_per_epoch, steps_per_epoch, attempt_config)
                for batch in range(steps_per_epoch):
                    lr = learning_rate(epoch * steps_per_epoch + batch, steps_per_epoch, attempt_config)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
                    xb, yb = x_train[index].to(device), y_train[index].to(device)
                    logits = model(xb)
                    if not labels_checked:
                        for name, top in label_max.items():
                            _check_logits(logits, top, f"splits.{name}.y")
                        labels_checked = True
                    loss = loss_fn(logits, yb)
                    if not torch.isfinite(loss):
                        failure = f"non-finite loss {float(loss.detach())} at epoch {epoch + 1} batch {batch + 1}"
                        break
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    loss_sum += loss.detach().double().cpu() * yb.shape[0]
                    correct += (logits.detach().argmax(dim=1) == yb).sum().cpu()
                if failure is not None:
                    state["train_seconds"] += time.perf_counter() - started
                    break
                mean_loss = float(loss_sum) / n_train
                uniform_loss = math.log(logits.shape[1])
                if epoch + 1 >= config.divergence_patience and mean_loss > config.divergence_factor * uniform_loss:
                    failure = (
                        f"diverged: mean training loss {mean_loss:.4g} at epoch {epoch + 1} exceeds "
                        f"{config.divergence_factor:g} x ln(K) = {config.divergence_factor * uniform_loss:.4g}"
                    )
                    state["train_seconds"] += time.perf_counter() - started
                    break
                val_acc = evaluate(model, splits.val.x, splits.val.y, config.eval_batch_size)
                history = state["history"]
                history["epoch"].append(epoch + 1)
                history["lr"].append(epoch_lr)
                history["train_loss"].append(mean_loss)
                history["train_accuracy"].append(int(correct) / n_train)
                history["val_accuracy"].append(val_acc)
                if val_acc > state["best_val"]:
                    state["best_val"] = val_acc
                    state["best_epoch"] = epoch + 1
                    state["best_state"] = _clone_state(model)
                state["epochs_done"] = epoch + 1
                state["model"] = _clone_state(model)
                state["optimizer"] = copy.deepcopy(optimizer.state_dict())
                state["train_seconds"] += time.perf_counter() - started
                if (
                    config.chance_patience > 0
                    and epoch + 1 >= config.chance_patience
                    and state["best_val"] <= chance + config.chance_margin
                ):
                    failure = (
                        f"validation accuracy {state['best_val']:.4f} still at chance "
                        f"({chance:.4f} + margin {config.chance_margin}) after {epoch + 1} epochs"
                    )
                if failure is None and path is not None:
                    _save_checkpoint(state, path)
                bar.update(1)
                bar.set_postfix(loss=history["train_loss"][-1], val=val_acc, lr=epoch_lr)
                if failure is not None:
                    break
        finally:
            bar.close()

        if failure is None:
            state["finished"] = True
        else:
            state["failure_reasons"].append(failure)
            if attempt + 1 < len(attempt_lrs):
                retry = _fresh_state(config, data)
                retry.update(
                    attempt=attempt + 1,
                    lrs_tried=state["lrs_tried"],
                    failure_reasons=state["failure_reasons"],
                    train_seconds=state["train_seconds"],
                )
                state = retry
                if path is not None:
                    _save_checkpoint(state, path)
                continue
            state["finished"] = True
            state["failed"] = True
        if path is not None:
            _save_checkpoint(state, path)
        break

    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    else:  # no epoch completed: return the initial weights (as a resumed run would)
        torch.manual_seed(config.seed)
        model = model_factory()
    if state["best_state"] is not None:
        val_accuracy = state["best_val"]
        test_accuracy = evaluate(model, splits.test.x, splits.test.y, config.eval_batch_size)
    else:  # nothing was trained: the initial weights' accuracy is no result of this run
        val_accuracy = test_accuracy = float("nan")
    return TrainResult(
        model=model,
        history={k: list(v) for k, v in state["history"].items()},
        best_epoch=state["best_epoch"],
        val_accuracy=float(val_accuracy),
        test_accuracy=test_accuracy,
        lrs_tried=list(state["lrs_tried"]),
        failed=bool(state["failed"]),
        train_seconds=float(state["train_seconds"]),
        failure_reasons=list(state["failure_reasons"]),
    )
