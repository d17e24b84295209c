"""Chapter 6: aliasing in strided convolutions, robust overfitting and aliasing-based early stopping.

Reproduces Grabinski et al. (2022), "Aliasing and adversarial robust
generalization of CNNs" (PreAct ResNet-18 and WRN-28-10 on CIFAR-10):

1. strided down-sampling in CNNs aliases;
2. adversarially trained models alias less than standard ones, most in the
   earlier layers;
3. during FGSM adversarial training, catastrophic overfitting (PGD accuracy
   collapsing) coincides with a sudden rise of aliasing, and the overfitted
   model's perturbations move to higher frequencies;
4. an early-stopping rule on the aliasing of the first down-sampling stage
   (stop when a new value exceeds the median of the earlier ones by more than
   33 %) finds the PGD-based stopping point of Wong et al. (2020) and is
   cheaper (903 ms vs 1,316 ms per epoch in the paper);
5. extensions: robust CNNs learn smoother first-layer kernels; accuracy of
   standard vs robust models on the low- and high-frequency components of
   test images (Wang et al. 2020).

Every run of the grid (:func:`configs`: one per training recipe × model ×
seed) trains with :func:`freqkit.advtrain.train_adversarial` (per-epoch clean,
FGSM and PGD accuracy on a fixed held-out batch, aliasing of every strided
convolution on fixed training images, both stopping checks and their cost),
keeps the weights at the PGD rule's stopping point, and measures the final
and the early-stopped model on test images (:func:`run_one`). The analysis
(:func:`stopping_table`, :func:`overfitting_table`, :func:`aliasing_table`,
:func:`checkpoint_table`, :func:`claims_table`) is pure.

Data: CIFAR-10 from the JPEG (quality 75) copy in ``shared/data`` unless the
PNG-exact data is provided (``$FREQKIT_DATA``); JPEG re-encoding removes and
distorts high frequencies of the images, which is where aliasing and
high-frequency perturbations live, so absolute aliasing values and f50 are
not those of the original CIFAR-10.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import Tensor, nn

from freqkit import sweep
from freqkit._validate import as_bool, as_int, as_real
from freqkit.advtrain import (
    AdvTrainConfig,
    aliasing_stop,
    pgd_attack,
    pgd_stop,
    train_adversarial,
)
from freqkit.experiments.scaffold import (
    Chapter,
    _set_fields,
    _short,
    as_ints,
    as_names,
    register,
    takes_results,
)

__all__ = [
    "CHAPTER",
    "CHECKPOINTS",
    "PRESETS",
    "Preset",
    "RunConfig",
    "RunSpec",
    "aliasing_table",
    "checkpoint_table",
    "claims_table",
    "collapse_epoch",
    "configs",
    "get_preset",
    "kernel_smoothness",
    "overfitting_table",
    "run",
    "run_one",
    "stopping_table",
    "summary_table",
]

#: The model states measured at the end of every run: the last epoch, and the
#: state kept by the PGD stopping rule (the last epoch if it never triggers).
CHECKPOINTS: tuple[str, ...] = ("final", "pgd_stop")
#: Aliasing-rule thresholds of the paper's sweep (it reports 0.30-0.35 as matching the PGD rule).
THRESHOLDS: tuple[float, ...] = (0.2, 0.25, 0.3, 0.33, 0.35, 0.4, 0.45, 0.5)
#: Wong et al.'s drop of the PGD check's accuracy that stops training.
PGD_DROP = 0.2


@dataclass(frozen=True)
class RunSpec:
    """One training recipe of the chapter.

    Parameters
    ----------
    label : str
        Grid coordinate ``run`` (``standard``, ``pgd``, ``fgsm``, ``fgsm-co``, ...).
    mode : {"standard", "pgd", "fgsm"}
    epsilon : float
        Training budget (pixel units); the evaluation budget is 8/255 for every run.
    alpha : float or None
        Training step (None: 1.25 ε for FGSM, ε/4 for PGD).
    random_start : bool
    train_steps : int
        PGD-k of ``mode="pgd"``.
    epochs : int or None
        None: the preset's ``epochs``.
    """

    label: str
    mode: str
    epsilon: float = 8 / 255
    alpha: float | None = None
    random_start: bool = True
    train_steps: int = 10
    epochs: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"label={_short(self.label)} is not allowed; use a non-empty str")
        if self.mode not in ("standard", "pgd", "fgsm"):
            raise ValueError(f"mode={_short(self.mode)} is not allowed; use 'standard', 'pgd' or 'fgsm'")
        _set_fields(self, epsilon=as_real(self.epsilon, "epsilon", minimum=0, min_open=True),
                    alpha=as_real(self.alpha, "alpha", minimum=0, min_open=True, allow_none=True),
                    random_start=as_bool(self.random_start, "random_start"),
                    train_steps=as_int(self.train_steps, "train_steps", minimum=1),
                    epochs=as_int(self.epochs, "epochs", minimum=1, allow_none=True))


def _radii(values: Any) -> tuple[float, ...]:
    try:
        out = tuple(as_real(r, "radii", minimum=0, min_open=True) for r in values)
    except (TypeError, ValueError):
        out = ()
    if not out:
        raise ValueError(f"radii={_short(values)} is not allowed; use a non-empty tuple of index radii > 0")
    return out


@dataclass(frozen=True)
class RunConfig:
    """One run of the chapter-6 grid (frozen, JSON-serialisable through :func:`freqkit.sweep.config_json`).

    Examples
    --------
    >>> cfg = configs("smoke")[0]
    >>> cfg.model_label, cfg.label, cfg.train.mode
    ('prn18-w2', 'standard', 'standard')
    """

    dataset: str
    n_train: int | None
    n_val: int
    n_test: int | None
    data_seed: int
    model: str
    width: int
    depth: int | None
    label: str
    train: AdvTrainConfig
    n_eval: int
    n_aliasing: int
    n_attack: int
    attack_steps: int
    radii: tuple[float, ...]
    seed: int

    def __post_init__(self) -> None:
        from freqkit.resnet import CNNS

        if not isinstance(self.dataset, str) or not self.dataset:  # its data are looked up at run time
            raise ValueError(f"dataset={_short(self.dataset)} is not allowed; use a dataset name (str)")
        if self.model not in CNNS.names():
            raise ValueError(f"model={_short(self.model)} is not allowed; use one of {CNNS.names()}")
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"label={_short(self.label)} is not allowed; use a non-empty str")
        if not isinstance(self.train, AdvTrainConfig):
            raise ValueError(f"train={_short(self.train)} is not allowed; use a freqkit.advtrain.AdvTrainConfig")
        _set_fields(self, width=as_int(self.width, "width", minimum=1),
                    depth=as_int(self.depth, "depth", minimum=1, allow_none=True),
                    radii=_radii(self.radii),
                    **{a: as_int(getattr(self, a), a, minimum=0) for a in ("data_seed", "seed")},
                    **{a: as_int(getattr(self, a), a, minimum=1, allow_none=True) for a in ("n_train", "n_test")},
                    **{a: as_int(getattr(self, a), a, minimum=1)
                       for a in ("n_val", "n_eval", "n_aliasing", "n_attack", "attack_steps")})

    @property
    def model_label(self) -> str:
        """``prn18-w<width>`` or ``wrn-<depth>-<width>``."""
        if self.model == "preact-resnet18":
            return f"prn18-w{self.width}"
        return f"wrn-{self.depth}-{self.width}"


@dataclass(frozen=True, kw_only=True)
class Preset:
    """Size of the chapter-6 grid: runs × models × seeds.

    ``models`` are ``(cnn name, width, depth)`` triples of :func:`freqkit.resnet.create_cnn`.
    The fixed held-out batch (per-epoch PGD) is the first ``n_eval`` validation
    images; aliasing is measured on the first ``n_aliasing`` training images;
    the end-of-run measurements use the test split (``n_test``) and attack its
    first ``n_attack`` images for the perturbation spectra.
    """

    name: str
    runs: tuple[RunSpec, ...]
    models: tuple[tuple[str, int, int | None], ...]
    epochs: int
    n_train: int | None
    n_val: int
    n_test: int | None
    n_eval: int
    seeds: tuple[int, ...] = (0,)
    datasets: tuple[str, ...] = ("cifar10",)
    grayscale: bool = False
    n_aliasing: int = 100
    batch_size: int = 128
    lr_max: float = 0.2
    schedule: str = "cyclic"
    eval_steps: int = 10
    check_steps: int = 5
    n_attack: int = 100
    attack_steps: int = 10
    radii: tuple[float, ...] = (4.0, 8.0, 12.0)
    thresholds: tuple[float, ...] = THRESHOLDS
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        from freqkit.data import DATASETS
        from freqkit.resnet import CNNS

        if not isinstance(self.runs, (list, tuple)) or not self.runs or not all(
                isinstance(r, RunSpec) for r in self.runs):
            raise ValueError(f"runs={_short(self.runs)} is not allowed; use a non-empty tuple of RunSpec")
        ok = isinstance(self.models, (list, tuple)) and bool(self.models)
        for m in (self.models if ok else ()):
            ok = ok and isinstance(m, tuple) and len(m) == 3 and m[0] in CNNS.names()
        if not ok:
            raise ValueError(f"models={_short(self.models)} is not allowed; use (name, width, depth) triples "
                             f"with names of {CNNS.names()}")
        names = as_names(self.datasets, "datasets", allow_none=False, allow_empty=False)
        if any(n not in DATASETS.names() for n in names):
            raise ValueError(f"datasets={_short(self.datasets)} is not allowed; use names of {DATASETS.names()}")
        _set_fields(self, runs=tuple(self.runs), datasets=names, seeds=as_ints(self.seeds, "seeds", minimum=0),
                    epochs=as_int(self.epochs, "epochs", minimum=1), radii=_radii(self.radii),
                    grayscale=as_bool(self.grayscale, "grayscale"),
                    lr_max=as_real(self.lr_max, "lr_max", minimum=0, min_open=True),
                    **{a: as_int(getattr(self, a), a, minimum=1, allow_none=True) for a in ("n_train", "n_test")},
                    **{a: as_int(getattr(self, a), a, minimum=1)
                       for a in ("n_val", "n_eval", "n_aliasing", "batch_size", "eval_steps", "check_steps",
                                 "n_attack", "attack_steps")})


_WONG = RunSpec("fgsm", "fgsm")  # ε = 8/255, α = 10/255, random start

#: The chapter's presets: ``smoke`` (seconds), ``cpu`` (a reduced reproduction on 2 CPU cores), ``paper``.
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        runs=(RunSpec("standard", "standard"), RunSpec("fgsm-co", "fgsm", epsilon=16 / 255)),
        models=(("preact-resnet18", 2, None),), epochs=2, n_train=256, n_val=64, n_test=64,
        n_eval=32, n_aliasing=16, batch_size=64, eval_steps=2, check_steps=2, n_attack=8,
        attack_steps=3, radii=(4.0, 8.0),
        notes="pipeline check only: PreAct ResNet-18 of width 2, 2 epochs on 256 images",
    ),
    "cpu": Preset(
        name="cpu",
        runs=(
            RunSpec("standard", "standard"),
            RunSpec("pgd", "pgd", train_steps=3, alpha=2.5 / 255, epochs=10),
            _WONG,
            RunSpec("fgsm-co", "fgsm", epsilon=16 / 255),
            RunSpec("fgsm-co-zero", "fgsm", alpha=8 / 255, random_start=False),
        ),
        models=(("preact-resnet18", 8, None),), epochs=15, n_train=5_000, n_val=500,
        n_test=500, n_eval=256, eval_steps=10, n_attack=100, attack_steps=10,
        notes="reduced reproduction on 2 CPU cores: PreAct ResNet-18 of width 8 (1/8 of the "
              "paper's 64), 5,000 training images, 15 epochs with Wong et al.'s cyclic learning "
              "rate (PGD-3 training: 10 epochs); two runs meant to overfit catastrophically: FGSM "
              "at ε = 16/255, α = 20/255 from a random start, and plain FGSM (α = ε = 8/255, no "
              "random start); every run is evaluated at ε = 8/255. Whether they collapse at this "
              "scale was not verified before the preset was fixed",
    ),
    "paper": Preset(
        name="paper",
        runs=(
            RunSpec("standard", "standard"),
            RunSpec("pgd", "pgd", train_steps=10),
            _WONG,
            RunSpec("fgsm-co", "fgsm", epsilon=16 / 255),
        ),
        models=(("preact-resnet18", 64, None), ("wide-resnet", 10, 28)), epochs=200,
        n_train=None, n_val=1_000, n_test=None, n_eval=1_000, eval_steps=20, n_attack=1_000,
        attack_steps=20,
        notes="paper scale: PreAct ResNet-18 (width 64) and WRN-28-10 on all of CIFAR-10, "
              "200 epochs (GPU advised)",
    ),
}


def configs(preset: str | Preset, *, available: tuple[str, ...] | None = None) -> list[RunConfig]:
    """The grid (pure): one :class:`RunConfig` per dataset × model × run × seed.

    Examples
    --------
    >>> [c.label for c in configs("cpu")]
    ['standard', 'pgd', 'fgsm', 'fgsm-co', 'fgsm-co-zero']
    >>> round(configs("cpu")[3].train.resolved_alpha * 255, 6), configs("cpu")[3].train.eval_epsilon * 255
    (20.0, 8.0)
    >>> len(configs("paper")), configs("smoke", available=())
    (8, [])
    """
    p = CHAPTER.get_preset(preset)
    available = as_names(available, "available")
    datasets = p.datasets if available is None else tuple(d for d in p.datasets if d in available)
    out = []
    for dataset in datasets:
        for model, width, depth in p.models:
            for spec in p.runs:
                for seed in p.seeds:
                    train = AdvTrainConfig(
                        mode=spec.mode, epsilon=spec.epsilon, alpha=spec.alpha,
                        train_steps=spec.train_steps, random_start=spec.random_start,
                        epochs=spec.epochs or p.epochs, batch_size=p.batch_size, lr_max=p.lr_max,
                        schedule=p.schedule, eval_steps=p.eval_steps, check_steps=p.check_steps,
                        seed=seed,
                    )
                    out.append(RunConfig(
                        dataset=dataset, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test,
                        data_seed=0, model=model, width=width, depth=depth, label=spec.label,
                        train=train, n_eval=p.n_eval, n_aliasing=p.n_aliasing, n_attack=p.n_attack,
                        attack_steps=p.attack_steps, radii=p.radii, seed=seed,
                    ))
    return out


# --------------------------------------------------------------------------- measurements


def kernel_smoothness(weight: Tensor, *, size: int = 32, k: int = 16) -> dict[str, float]:
    """Smoothness of convolution kernels ``(C_out, C_in, h, w)``, both scale-free, averaged over kernels.

    ``high_energy``: the fraction of each output kernel's energy (summed over
    input channels) outside the radius ``k/2`` DFT indices of its ``size x size``
    zero-padded spectrum (:func:`freqkit.spectra.kappa_high` with
    ``norm="radial"``; ``size=32, k=16``: above 1/4 cycle/pixel).
    ``total_variation``: ``Σ|Δ_y w| + Σ|Δ_x w|`` over each 2-D kernel divided by ``Σ|w|``.

    Examples
    --------
    >>> flat = torch.ones(1, 1, 3, 3)
    >>> checker = torch.tensor([[1.0, -1, 1], [-1, 1, -1], [1, -1, 1]]).view(1, 1, 3, 3)
    >>> kernel_smoothness(flat)["total_variation"], kernel_smoothness(checker)["total_variation"]
    (0.0, 2.6666666666666665)
    >>> kernel_smoothness(flat)["high_energy"] < kernel_smoothness(checker)["high_energy"]
    True
    """
    from freqkit import spectra

    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"weight must be a (C_out, C_in, h, w) tensor, got {getattr(weight, 'shape', weight)!r}")
    w = weight.detach().double().cpu()
    l1 = w.abs().sum((-2, -1))
    if not bool((l1 > 0).all()):
        raise ValueError("weight has an all-zero kernel; total variation per L1 norm is undefined")
    power = spectra.power_spectrum(w, size=size, combine_channels=True)  # (C_out, size, size)
    high = spectra.kappa_high(power, k, norm="radial")
    tv = (w.diff(dim=-2).abs().sum((-2, -1)) + w.diff(dim=-1).abs().sum((-2, -1)))
    return {"high_energy": float(high.mean()), "total_variation": float((tv / l1).mean())}


def _first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return correct / len(x)


def _pgd_accuracy(model: nn.Module, x: Tensor, y: Tensor, cfg: RunConfig, batch_size: int = 500) -> float:
    correct = 0
    gen = torch.Generator().manual_seed(cfg.seed)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        delta = pgd_attack(model, xb, yb, epsilon=cfg.train.eval_epsilon, alpha=cfg.train.eval_alpha,
                           steps=cfg.train.eval_steps, generator=gen)
        with torch.no_grad():
            correct += int((model(xb + delta).argmax(1) == yb).sum())
    return correct / len(x)


def _measure_checkpoint(model: nn.Module, cfg: RunConfig, test_x: Tensor, test_y: Tensor) -> dict[str, object]:
    """End-of-run measurements of one model state (eval mode)."""
    from freqkit import spectra
    from freqkit.aliasing import model_aliasing
    from freqkit.attacks import ATTACKS, perturbation_spectra, run_attack

    model.eval()
    out: dict[str, object] = {
        "test_clean_accuracy": _accuracy(model, test_x, test_y),
        "test_pgd_accuracy": _pgd_accuracy(model, test_x, test_y, cfg),
    }
    lfc, hfc = [], []
    for r in cfg.radii:
        low, high = spectra.split_frequency_components(test_x, float(r))
        lfc.append(_accuracy(model, low, test_y))
        hfc.append(_accuracy(model, high, test_y))
    out["lfc_accuracy"], out["hfc_accuracy"] = lfc, hfc
    smooth = kernel_smoothness(_first_conv(model).weight)
    out["kernel_high_energy"], out["kernel_total_variation"] = smooth["high_energy"], smooth["total_variation"]
    values = model_aliasing(model, test_x[: cfg.n_aliasing])
    out["test_aliasing"] = [float(v.mean()) for v in values.values()]
    spec = dataclasses.replace(ATTACKS.get("pgd-linf"), steps=cfg.attack_steps, rel_stepsize=0.25)
    n = min(cfg.n_attack, len(test_x))
    ds = perturbation_spectra(run_attack(model, test_x[:n].cpu(), test_y[:n].cpu(), spec,
                                         [cfg.train.eval_epsilon], seed=cfg.seed), ks=(16,))
    out["attack_success_rate"] = float(ds.success_rate.values[0])
    out["f50_delta"] = float(np.nanmean(ds.f50.values)) if bool(ds.success.any()) else math.nan
    out["f50_delta_mean_power"] = float(ds.f50_mean_power.values[0])
    return out


def run_one(cfg: RunConfig) -> xr.Dataset:
    """Train one run, keep the PGD rule's stopping state, measure the final and the stopped model.

    Returns the per-epoch history of :func:`freqkit.advtrain.train_adversarial`
    (dims ``epoch``, ``layer``, ``stage``) and, per ``checkpoint`` in
    :data:`CHECKPOINTS`: its ``checkpoint_epoch``, test clean and PGD accuracy,
    accuracy on the low/high-frequency components (``radius``), first-layer
    kernel smoothness, ``test_aliasing (layer)`` and the perturbation f50
    (foolbox L∞ PGD at ε = 8/255); grid dims ``run``, ``model``, ``seed``.
    """
    if not isinstance(cfg, RunConfig):
        raise ValueError(f"cfg={_short(cfg)} is not allowed; use a chapter-6 RunConfig (ch06.configs(preset))")
    from freqkit import results
    from freqkit.device import current_device, describe_device
    from freqkit.experiments.common import load_splits
    from freqkit.resnet import create_cnn

    device = current_device()
    splits = load_splits(cfg.dataset, False, cfg.n_train, cfg.n_val, cfg.n_test, cfg.data_seed)
    model = create_cnn(cfg.model, width=cfg.width, depth=cfg.depth, num_classes=splits.num_classes,
                       seed=cfg.seed).to(device)
    train_xy = (splits.train.x, splits.train.y)
    eval_xy = (splits.val.x[: cfg.n_eval], splits.val.y[: cfg.n_eval])
    alias_x = splits.train.x[: cfg.n_aliasing]

    # Wong et al.'s rule online: keep the state before the first drop of the check's accuracy
    kept: dict[str, object] = {"previous": None, "state": None, "epoch": None, "acc": []}

    def track(epoch: int, net: nn.Module, record: dict) -> None:
        if epoch >= 1:
            kept["acc"].append(record["pgd_check_accuracy"])  # type: ignore[union-attr]
            if kept["state"] is None and pgd_stop(kept["acc"], PGD_DROP) is not None:  # type: ignore[arg-type]
                kept["state"], kept["epoch"] = kept["previous"], epoch - 1
        kept["previous"] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    result = train_adversarial(model, cfg.train, train_xy, eval_xy, alias_x, callback=track)
    history = result.history
    test_x, test_y = splits.test.x.to(device), splits.test.y.to(device)
    measured = []
    epochs = []
    for name in CHECKPOINTS:
        net = result.model
        epoch = int(history.epoch.values[-1])
        if name == "pgd_stop" and kept["state"] is not None:
            net = copy.deepcopy(result.model)
            net.load_state_dict(kept["state"])  # type: ignore[arg-type]
            epoch = int(kept["epoch"])  # type: ignore[arg-type]
        measured.append(_measure_checkpoint(net, cfg, test_x, test_y))
        epochs.append(epoch)
    ck = ("checkpoint",)
    data = {
        "checkpoint_epoch": (ck, np.array(epochs)),
        "lfc_accuracy": ((*ck, "radius"), np.array([m["lfc_accuracy"] for m in measured])),
        "hfc_accuracy": ((*ck, "radius"), np.array([m["hfc_accuracy"] for m in measured])),
        "test_aliasing": ((*ck, "layer"), np.array([m["test_aliasing"] for m in measured])),
    }
    for key in ("test_clean_accuracy", "test_pgd_accuracy", "kernel_high_energy", "kernel_total_variation",
                "attack_success_rate", "f50_delta", "f50_delta_mean_power"):
        data[key] = (ck, np.array([m[key] for m in measured], dtype=float))
    ds = history.assign(data).assign_coords(checkpoint=list(CHECKPOINTS), radius=np.asarray(cfg.radii, float))
    ds["f50_delta"].attrs["units"] = "cycles/pixel"
    ds["f50_delta_mean_power"].attrs["units"] = "cycles/pixel"
    ds = sweep.expand_run_dims(ds, run=cfg.label, model=cfg.model_label, seed=cfg.seed)
    ds.attrs.pop("advtrain_config", None)
    ds.attrs.update(results.provenance(cfg, dataset_source=splits.source, dataset_checksum=splits.checksum,
                                       device=describe_device()))
    return ds


# --------------------------------------------------------------------------- analysis (pure)


def collapse_epoch(pgd_accuracy: np.ndarray | list[float], *, ratio: float = 0.5, min_drop: float = 0.1) -> int | None:
    """First epoch whose PGD accuracy fell below ``ratio`` × the best earlier value, by at least ``min_drop``.

    Our operational definition of catastrophic overfitting on the per-epoch held-out
    PGD accuracy (index 0 = the first entry). None if it never happens.

    Examples
    --------
    >>> collapse_epoch([0.1, 0.2, 0.3, 0.28, 0.05, 0.0])
    4
    >>> collapse_epoch([0.1, 0.2, 0.3, 0.25]) is None
    True
    """
    try:
        a = np.asarray(pgd_accuracy, dtype=float)
    except (TypeError, ValueError):
        a = None
    if a is None or a.ndim != 1 or isinstance(pgd_accuracy, str):
        raise ValueError(f"pgd_accuracy={_short(pgd_accuracy)} is not allowed; use a 1-D sequence of "
                         "per-epoch accuracies")
    ratio = as_real(ratio, "ratio", minimum=0, maximum=1, min_open=True)
    min_drop = as_real(min_drop, "min_drop", minimum=0)
    for e in range(1, len(a)):
        best = np.nanmax(a[:e])
        if a[e] < ratio * best and best - a[e] >= min_drop:
            return e
    return None


def _runs(ds: xr.Dataset):
    for model in ds.model.values:
        for run in ds.run.values:
            for seed in ds.seed.values:
                h = ds.sel(model=model, run=run, seed=seed)
                if "clean_accuracy" not in h or bool(h.clean_accuracy.isnull().all()):
                    continue
                yield str(model), str(run), int(seed), h


def _trained(h: xr.Dataset, name: str) -> xr.DataArray:
    """A per-epoch series without epoch 0 (the initial model) and without the NaN padding of shorter runs."""
    s = h[name].sel(epoch=h.epoch > 0)
    return s.dropna("epoch", how="all")


def _first_stage(h: xr.Dataset) -> str:
    """The first down-sampling stage (``layer2`` / ``block2``) of a run's model."""
    a = h.aliasing_stage.sel(epoch=h.epoch > 0)
    return next(str(s) for s in a.stage.values if not bool(a.sel(stage=s).isnull().all()))


@takes_results("ch06")
def stopping_table(ds: xr.Dataset, thresholds: tuple[float, ...] = THRESHOLDS) -> pd.DataFrame:
    """Both early-stopping rules on the same runs: epochs, accuracies at the stop and the check costs.

    One row per run and aliasing threshold ``t``: ``pgd_epoch`` (Wong et al.:
    PGD-5 check accuracy drops by > 0.2; the epoch kept), ``aliasing_epoch``
    (median rule on the first down-sampling stage's aliasing with threshold
    ``t``), ``epochs_apart`` (NaN if a rule never triggers: then its epoch is
    the last one and ``*_triggered`` is False), the held-out clean and PGD
    accuracy at both epochs, and the median per-epoch cost of both checks.
    Epochs count from 1 (epoch 0, the initial model, is not used by the rules).
    """
    rows = []
    for model, run, seed, h in _runs(ds):
        stage = _first_stage(h)
        alias = _trained(h, "aliasing_stage").sel(stage=stage)
        check = _trained(h, "pgd_check_accuracy")
        epochs = check.epoch.values
        p = pgd_stop(check.values, PGD_DROP)
        pgd_epoch = int(epochs[p]) if p is not None else int(epochs[-1])
        t_alias = float(np.nanmedian(_trained(h, "time_aliasing_check").values))
        t_pgd = float(np.nanmedian(_trained(h, "time_pgd_check").values))
        for t in thresholds:
            a = aliasing_stop(alias.values, t)
            alias_epoch = int(epochs[a]) if a is not None else int(epochs[-1])
            rows.append({
                "model": model, "run": run, "seed": seed, "threshold": t,
                "pgd_epoch": pgd_epoch, "pgd_triggered": p is not None,
                "aliasing_epoch": alias_epoch, "aliasing_triggered": a is not None,
                "epochs_apart": abs(alias_epoch - pgd_epoch) if (a is not None and p is not None) else math.nan,
                "clean_at_pgd_stop": float(h.clean_accuracy.sel(epoch=pgd_epoch)),
                "pgd_at_pgd_stop": float(h.pgd_accuracy.sel(epoch=pgd_epoch)),
                "clean_at_aliasing_stop": float(h.clean_accuracy.sel(epoch=alias_epoch)),
                "pgd_at_aliasing_stop": float(h.pgd_accuracy.sel(epoch=alias_epoch)),
                "ms_aliasing_check": 1e3 * t_alias, "ms_pgd_check": 1e3 * t_pgd,
                "cost_ratio": t_alias / t_pgd,
            })
    return pd.DataFrame(rows)


@takes_results("ch06")
def overfitting_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per run: catastrophic overfitting (:func:`collapse_epoch` of the held-out PGD accuracy) vs aliasing.

    Columns: best and final PGD and FGSM accuracy, ``collapse_epoch``,
    ``aliasing_jump_epoch`` (first epoch whose first-stage aliasing exceeds the
    median of the earlier epochs by more than 33 %), the aliasing before and
    after the collapse (means over the epochs before / from it), and the Pearson
    and Spearman correlations over epochs of first-stage aliasing with PGD accuracy.
    """
    rows = []
    for model, run, seed, h in _runs(ds):
        stage = _first_stage(h)
        alias = _trained(h, "aliasing_stage").sel(stage=stage)
        pgd = _trained(h, "pgd_accuracy")
        epochs = pgd.epoch.values
        c = collapse_epoch(pgd.values)
        j = aliasing_stop(alias.values, 0.33)
        a, q = alias.values, pgd.values
        rows.append({
            "model": model, "run": run, "seed": seed, "stage": stage,
            "best_pgd": float(np.nanmax(q)), "final_pgd": float(q[-1]),
            "final_fgsm": float(_trained(h, "fgsm_accuracy").values[-1]),
            "final_clean": float(_trained(h, "clean_accuracy").values[-1]),
            "collapse_epoch": int(epochs[c]) if c is not None else None,
            "aliasing_jump_epoch": int(epochs[j + 1]) if j is not None else None,
            "aliasing_before": float(np.mean(a[:c])) if c is not None else math.nan,
            "aliasing_after": float(np.mean(a[c:])) if c is not None else math.nan,
            "pearson": _corr(a, q), "spearman": _corr(_rank(a), _rank(q)),
        })
    return pd.DataFrame(rows)


def _rank(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(float)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


@takes_results("ch06")
def aliasing_table(ds: xr.Dataset) -> pd.DataFrame:
    """Final-epoch aliasing per down-sampling stage (training images) and per run, with the test-image value."""
    rows = []
    for model, run, seed, h in _runs(ds):
        last = _trained(h, "aliasing_stage").isel(epoch=-1)
        test = h.test_aliasing.sel(checkpoint="final")
        for stage in last.stage.values:
            if bool(np.isnan(last.sel(stage=stage))):
                continue
            layers = [str(n) for n in test.layer.values if str(n).split(".")[0] == str(stage)]
            rows.append({"model": model, "run": run, "seed": seed, "stage": str(stage),
                         "aliasing": float(last.sel(stage=stage)),
                         "test_aliasing": float(test.sel(layer=layers).mean())})
    return pd.DataFrame(rows)


@takes_results("ch06")
def checkpoint_table(ds: xr.Dataset) -> pd.DataFrame:
    """End-of-run measurements per run and checkpoint (test accuracy, f50, kernels, LFC/HFC accuracy)."""
    rows = []
    for model, run, seed, h in _runs(ds):
        for ck in h.checkpoint.values:
            c = h.sel(checkpoint=ck)
            row = {"model": model, "run": run, "seed": seed, "checkpoint": str(ck),
                   "epoch": int(c.checkpoint_epoch)}
            for key in ("test_clean_accuracy", "test_pgd_accuracy", "attack_success_rate", "f50_delta",
                        "f50_delta_mean_power", "kernel_high_energy", "kernel_total_variation"):
                row[key] = float(c[key])
            for r in c.radius.values:
                row[f"lfc_r{r:g}"] = float(c.lfc_accuracy.sel(radius=r))
                row[f"hfc_r{r:g}"] = float(c.hfc_accuracy.sel(radius=r))
            rows.append(row)
    return pd.DataFrame(rows)


@takes_results("ch06")
def summary_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per run: final held-out accuracies, test accuracies and where the PGD rule stopped."""
    over = overfitting_table(ds).set_index(["model", "run", "seed"])
    ck = checkpoint_table(ds)
    final = ck[ck.checkpoint == "final"].set_index(["model", "run", "seed"])
    stop = ck[ck.checkpoint == "pgd_stop"].set_index(["model", "run", "seed"])
    out = over[["final_clean", "final_pgd", "final_fgsm", "best_pgd", "collapse_epoch"]].copy()
    out["test_clean"] = final.test_clean_accuracy
    out["test_pgd"] = final.test_pgd_accuracy
    out["pgd_stop_epoch"] = stop.epoch
    out["test_pgd_at_stop"] = stop.test_pgd_accuracy
    return out.reset_index()


@takes_results("ch06")
def claims_table(ds: xr.Dataset, thresholds: tuple[float, ...] = (0.30, 0.33, 0.35)) -> pd.DataFrame:
    """Claim-vs-measurement rows (seed means where there are several seeds).

    1. every strided convolution aliases (final aliasing > 0 at every stage of every run);
    2. adversarially trained runs (``pgd``, ``fgsm``) alias less than ``standard`` at every
       stage, the relative reduction being largest at the first stage;
    3. in each FGSM run that collapses, the first-stage aliasing jumps (median rule, 33 %)
       within one epoch of the collapse, aliasing is anti-correlated with PGD accuracy,
       and the final (overfitted) model's perturbations have a higher f50 than at the
       PGD rule's stop;
    4. the aliasing rule stops within one epoch of the PGD rule at ``thresholds``, and its
       check costs at most 0.1 of the PGD check;
    5. robust models have smoother first-layer kernels (lower energy above 1/4 cycle/pixel
       and lower total variation) and are more accurate on low-frequency components
       (smallest radius) than on high-frequency ones, relative to the standard model.
    """
    rows = []

    def row(claim: str, measured: str, holds: bool | None) -> None:
        rows.append({"claim": claim, "measured": measured,
                     "holds": "n/a" if holds is None else ("yes" if holds else "no")})

    al = aliasing_table(ds)
    if len(al):
        m = al.groupby(["model", "run", "stage"], sort=False).aliasing.mean()
        row("1. strided convolutions alias (final aliasing > 0 at every down-sampling stage)",
            "min over runs and stages: " + f"{float(m.min()):.3g}", bool((m > 1e-6).all()))
        texts, ok = [], []
        for model in al.model.unique():
            g = m.loc[model]
            if "standard" not in g.index.get_level_values(0):
                continue
            std = g.loc["standard"]
            for run in ("pgd", "fgsm"):
                if run not in g.index.get_level_values(0):
                    continue
                red = 1 - g.loc[run] / std
                texts.append(f"{model} {run}: reduction " + ", ".join(f"{s} {v:+.0%}" for s, v in red.items()))
                ok.append(bool((red > 0).all()) and int(np.argmax(red.values)) == 0)
        row("2. adversarially trained models alias less than standard, most in the first stage",
            "; ".join(texts) or "no standard/robust pair", all(ok) if ok else None)

    over = overfitting_table(ds)
    ck = checkpoint_table(ds)
    fg = over[over.run.str.startswith("fgsm")]
    collapsed = fg[fg.collapse_epoch.notna()]
    if len(collapsed):
        texts, ok = [], []
        for _, r in collapsed.iterrows():
            f = ck[(ck.model == r.model) & (ck.run == r.run) & (ck.seed == r.seed)].set_index("checkpoint")
            jump = r.aliasing_jump_epoch
            near = jump is not None and not pd.isna(jump) and abs(int(jump) - int(r.collapse_epoch)) <= 1
            higher = bool(f.loc["final", "f50_delta"] > f.loc["pgd_stop", "f50_delta"])
            texts.append(f"{r.model} {r.run}: collapse at epoch {int(r.collapse_epoch)}, aliasing jump at "
                         f"{jump}, Pearson r = {r.pearson:.2f}, f50 stop {f.loc['pgd_stop', 'f50_delta']:.3f} "
                         f"-> final {f.loc['final', 'f50_delta']:.3f}")
            ok.append(near and r.pearson < 0 and higher)
        row("3. catastrophic overfitting coincides with a rise of aliasing; perturbations move to higher f50",
            "; ".join(texts), all(ok))
    else:
        row("3. catastrophic overfitting coincides with a rise of aliasing; perturbations move to higher f50",
            "no FGSM run collapsed: " + "; ".join(
                f"{r.run} PGD best {r.best_pgd:.2f} final {r.final_pgd:.2f}" for _, r in fg.iterrows()), None)

    st = stopping_table(ds, thresholds)
    sf = st[st.run.str.startswith("fgsm")]
    if len(sf):
        both = sf[sf.pgd_triggered & sf.aliasing_triggered]
        text = ", ".join(f"{r.run} t={r.threshold:g}: alias {r.aliasing_epoch}{'' if r.aliasing_triggered else '(never)'}"
                         f" vs PGD {r.pgd_epoch}{'' if r.pgd_triggered else '(never)'}" for _, r in sf.iterrows())
        ratio = float(sf.cost_ratio.median())
        holds = None if not bool(sf.pgd_triggered.any()) else bool(len(both)) and bool((both.epochs_apart <= 1).all()) \
            and len(both) == int(sf.pgd_triggered.sum())
        row("4. the aliasing rule finds the PGD rule's stopping point (t = 0.30-0.35)", text, holds)
        row("4b. the aliasing check costs <= 0.1 of the PGD check (per epoch)",
            f"median {sf.ms_aliasing_check.median():.0f} ms vs {sf.ms_pgd_check.median():.0f} ms, ratio {ratio:.3f} "
            "(paper: 903 vs 1,316 ms per epoch, including training)", ratio <= 0.1)

    final = ck[ck.checkpoint == "final"]
    if {"standard"} <= set(final.run) and ({"pgd"} & set(final.run)):
        g = final.groupby("run")[["kernel_high_energy", "kernel_total_variation"]].mean()
        robust = [r for r in ("pgd", "fgsm") if r in g.index]
        row("5a. robust models learn smoother first-layer kernels",
            "; ".join(f"{r}: high-energy {g.loc[r, 'kernel_high_energy']:.3f}, TV {g.loc[r, 'kernel_total_variation']:.3f}"
                      for r in ["standard", *robust]),
            all(g.loc[r, "kernel_high_energy"] < g.loc["standard", "kernel_high_energy"]
                and g.loc[r, "kernel_total_variation"] < g.loc["standard", "kernel_total_variation"] for r in robust))
        r0 = min(float(v) for v in ds.radius.values)
        lf, hf = f"lfc_r{r0:g}", f"hfc_r{r0:g}"
        acc = final.groupby("run")[[lf, hf]].mean()
        row(f"5b. Wang et al.: the standard model uses high frequencies more than robust ones (radius {r0:g})",
            "; ".join(f"{r}: LFC {acc.loc[r, lf]:.2f}, HFC {acc.loc[r, hf]:.2f}" for r in ["standard", *robust]),
            all(acc.loc["standard", hf] > acc.loc[r, hf] for r in robust))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- toy results


_TOY_LAYERS = ["layer2.0.conv1", "layer2.0.shortcut.0", "layer3.0.conv1", "layer3.0.shortcut.0"]


def _toy_run(label, pgd, check, alias2, *, alias3=None, f50=(0.2, 0.2), kernel=(0.5, 1.0), hfc=0.3,
              t_alias=0.1, t_pgd=1.0):
    """One run's dataset in the layout of :func:`run_one` (epoch 0 = init), hand-made numbers."""
    n = len(pgd)
    alias3 = alias3 if alias3 is not None else [0.5 * a for a in alias2]
    ep = ("epoch",)
    ck = ("checkpoint",)
    ds = xr.Dataset(
        {
            "clean_accuracy": (ep, np.linspace(0.1, 0.6, n)),
            "pgd_accuracy": (ep, np.asarray(pgd, float)),
            "fgsm_accuracy": (ep, np.asarray(pgd, float) + 0.05),
            "pgd_check_accuracy": (ep, np.asarray(check, float)),
            "aliasing": (("epoch", "layer"), np.stack([alias2, alias2, alias3, alias3], 1)),
            "aliasing_stage": (("epoch", "stage"), np.stack([alias2, alias3], 1)),
            "time_aliasing_check": (ep, np.full(n, t_alias), {"units": "s"}),
            "time_pgd_check": (ep, np.full(n, t_pgd), {"units": "s"}),
            "checkpoint_epoch": (ck, [n - 1, n - 1]),
            "test_clean_accuracy": (ck, [0.6, 0.6]),
            "test_pgd_accuracy": (ck, [0.2, 0.3]),
            "attack_success_rate": (ck, [0.9, 0.8]),
            "f50_delta": (ck, list(f50)),
            "f50_delta_mean_power": (ck, list(f50)),
            "kernel_high_energy": (ck, [kernel[0]] * 2),
            "kernel_total_variation": (ck, [kernel[1]] * 2),
            "lfc_accuracy": (("checkpoint", "radius"), [[0.5, 0.55], [0.5, 0.55]]),
            "hfc_accuracy": (("checkpoint", "radius"), [[hfc, hfc], [hfc, hfc]]),
            "test_aliasing": (("checkpoint", "layer"), [[alias2[-1]] * 2 + [alias3[-1]] * 2] * 2),
        },
        coords={"epoch": np.arange(n), "layer": _TOY_LAYERS, "stage": ["layer2", "layer3"],
                "checkpoint": list(CHECKPOINTS), "radius": [4.0, 8.0]},
    )
    return sweep.expand_run_dims(ds, run=label, model="prn18-w8", seed=0)


def _toy_results() -> xr.Dataset:
    """Hand-made results for examples and tests: ``standard`` aliases most, ``pgd`` least (most so in
    ``layer2``), ``fgsm-co`` collapses at epoch 6 with a 60 % aliasing jump (the PGD rule keeps epoch 5)."""
    n = 9
    flat = [1.0] * n
    std = _toy_run("standard", [0.0] * n, [0.0] * n, [2.0] * n, alias3=[1.0] * n, kernel=(0.6, 1.5), hfc=0.4)
    pgd = _toy_run("pgd", np.linspace(0.1, 0.35, n), np.linspace(0.1, 0.35, n), [1.0] * n,
                    alias3=[0.8] * n, kernel=(0.4, 1.0), hfc=0.2)
    co_pgd = [0.1, 0.2, 0.28, 0.33, 0.36, 0.38, 0.05, 0.01, 0.0]
    co_check = [0.1, 0.2, 0.27, 0.3, 0.34, 0.37, 0.06, 0.02, 0.0]  # PGD rule: drop at epoch 6 -> keep epoch 5
    co_alias = flat[:6] + [1.6, 1.8, 1.9]  # 60 % above the median at epoch 6
    co = _toy_run("fgsm-co", co_pgd, co_check, co_alias, f50=(0.35, 0.2), kernel=(0.5, 1.2))
    co["checkpoint_epoch"] = co.checkpoint_epoch.copy(data=[[[[8, 5]]]])
    return xr.combine_by_coords([std, pgd, co], join="outer", compat="no_conflicts", data_vars="all")



CHAPTER = register(Chapter(
    name="ch06", title="Aliasing, robust overfitting and aliasing-based early stopping",
    notebook="notebooks/06_aliasing_robust_overfitting.ipynb", presets=PRESETS, configs=configs, run_one=run_one,
    summarise=summary_table, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter.
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
