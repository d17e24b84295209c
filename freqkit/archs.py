"""Small CIFAR-10 architectures of every family: CNN, ViT (patch 2/4/8), hybrid, MLP-Mixer, ConvMixer.

Chapter 5 trains these on the same data with the same budget and attack to
compare f50 of adversarial perturbations and saliency maps across families
(the controlled counterpart of the timm ImageNet models in
:mod:`freqkit.imagenet`). :data:`ARCHS` maps a name to an :class:`ArchSpec`
(family, first-layer kernel and patch size, default width/depth);
:func:`create_arch` builds the network.

.. rubric:: Registered architectures (32×32 input)

==============  ======  ======  =====  ==============================================
name            family  kernel  patch  network
==============  ======  ======  =====  ==============================================
``resnet``      cnn     3       -      3 stages of ``depth`` basic blocks (width w, 2w, 4w)
``vit-p2``      vit     -       2      timm ``VisionTransformer(img_size=32, patch_size=2)``
``vit-p4``      vit     -       4      same, patch 4 (64 tokens)
``vit-p8``      vit     -       8      same, patch 8 (16 tokens)
``hybrid``      hybrid  3       4      two 3×3 conv layers (stride 1, 2) + ViT on patch 2 of the
                                       16×16 feature map (64 tokens, 4×4 pixels each)
``mixer``       mlp     -       4      timm ``MlpMixer(img_size=32, patch_size=4)``
``convmixer``   cnn     5       2      timm ``ConvMixer(kernel_size=5, patch_size=2)``
==============  ======  ======  =====  ==============================================

.. rubric:: Conventions

* Inputs are raw ``[0, 1]`` images; every model normalises them **itself**, once,
  with its first module :class:`Normalise` (CIFAR-10 channel mean/std by
  default), so attacks must be run with ``preprocessing=None``. (This keeps
  :func:`freqkit.train.train_model`, which feeds raw tensors, and the attack
  on the same footing.)
* Transformers use global average pooling of the tokens (no class token), GELU
  MLPs with ratio 2 and ``width // 32`` heads (at least 1).
* Initialisation is timm's / PyTorch's default, except that all-zero linear
  weights (the Mixer's head) are drawn from N(0, 0.02²) (:func:`init_zero_heads`)
  so that an untrained model depends on its input. It draws from torch's global RNG; ``create_arch(seed=s)`` seeds it
  in a forked RNG state (the caller's RNG is untouched).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from freqkit._validate import as_int, as_real
from freqkit.registry import Registry

#: Architecture families (:attr:`ArchSpec.family`).
_FAMILIES: tuple[str, ...] = ("cnn", "vit", "hybrid", "mlp")


def _finite_values(values: Any, name: str, *, positive: bool) -> tuple[float, ...]:
    """A non-empty sequence of finite real numbers (``> 0`` when ``positive``) as floats, else ValueError."""
    allowed = f"a sequence of finite numbers{' > 0' if positive else ''}, one per input channel"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise ValueError(f"{name}={values!r} is not allowed; allowed: {allowed}")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(v) \
                or (positive and v <= 0):
            raise ValueError(f"{name}={tuple(values)!r} is not allowed (entry {v!r}); allowed: {allowed}")
    return tuple(float(v) for v in values)

__all__ = ["ARCHS", "CIFAR10_MEAN", "CIFAR10_STD", "ArchSpec", "Normalise", "create_arch",
           "init_zero_heads"]

#: CIFAR-10 training-set channel mean and standard deviation.
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)


class Normalise(nn.Module):
    """``(x - mean) / std`` per channel of ``(N, C, H, W)`` input (fixed buffers), with a shape check.

    ``mean = std = None``: no normalisation (the shape check only). With
    ``input_shape``, any other input shape is a ``ValueError`` (never a silently
    resized or mis-patched input).

    Examples
    --------
    >>> Normalise((0.5,), (0.25,))(torch.ones(1, 1, 1, 1)).item()
    2.0
    >>> Normalise(None, None, input_shape=(3, 32, 32))(torch.ones(1, 3, 28, 28))
    Traceback (most recent call last):
    ...
    ValueError: input of shape (1, 3, 28, 28) is not allowed; the model expects (N, 3, 32, 32)
    """

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError(f"mean and std must both be given or both be None, got mean={mean!r}, std={std!r}")
        if mean is not None:
            mean = _finite_values(mean, "mean", positive=False)
            std = _finite_values(std, "std", positive=True)
            if len(mean) != len(std):
                raise ValueError(f"mean={mean!r}, std={std!r}: need equal lengths and std > 0")
        if input_shape is not None:
            if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__") or len(input_shape) != 3:
                raise ValueError(f"input_shape={input_shape!r} is not allowed; allowed: None or (C, H, W)")
            input_shape = tuple(as_int(v, "input_shape", minimum=1) for v in input_shape)
            if mean is not None and len(mean) != input_shape[0]:
                raise ValueError(f"mean has {len(mean)} values; input_shape={input_shape} has {input_shape[0]} "
                                 "channels")
        self.input_shape = input_shape
        self.normalise = mean is not None
        if mean is not None:
            self.register_buffer("mean", torch.tensor([float(m) for m in mean])[:, None, None])
            self.register_buffer("std", torch.tensor([float(v) for v in std])[:, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch tensor of images in [0, 1], got {type(x).__name__}")
        if self.input_shape is not None and (x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape):
            raise ValueError(f"input of shape {tuple(x.shape)} is not allowed; the model expects "
                             f"(N, {', '.join(map(str, self.input_shape))})")
        if not x.is_floating_point():
            raise ValueError(f"x has dtype {str(x.dtype).replace('torch.', '')}; allowed: floating images in [0, 1]")
        if self.normalise and x.dtype != self.mean.dtype:
            raise ValueError(f"x has dtype {str(x.dtype).replace('torch.', '')}; allowed: "
                             f"{str(self.mean.dtype).replace('torch.', '')} (the model's dtype)")
        return (x - self.mean) / self.std if self.normalise else x


def init_zero_heads(net: nn.Module, std: float = 0.02) -> list[str]:
    """Draw every all-zero ``nn.Linear`` weight from ``N(0, std²)`` (global RNG); return their names.

    timm initialises the classifier head of an MLP-Mixer to zero, so an untrained
    Mixer's logits, and its input gradient, do not depend on the input. Random-weight
    models are made usable with this (a zero head trains normally either way).

    Examples
    --------
    >>> head = nn.Linear(3, 2); _ = nn.init.zeros_(head.weight)
    >>> init_zero_heads(nn.Sequential(nn.Linear(2, 3), head)), bool(head.weight.any())
    (['1'], True)
    """
    if not isinstance(net, nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    std = as_real(std, "std", minimum=0, min_open=True)
    names = []
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear) and not module.weight.detach().any():
            nn.init.normal_(module.weight, std=std)
            names.append(name)
    return names


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                       nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet for 32×32: 3×3 stem, 3 stages of ``depth`` basic blocks (w, 2w, 4w), avg pool."""

    def __init__(self, width: int, depth: int, num_classes: int, in_chans: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        blocks: list[nn.Module] = []
        c = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(depth):
                blocks.append(_BasicBlock(c, c_out, 2 if stage > 0 and b == 0 else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean(dim=(-2, -1)))


def _vit(image_size: int, patch: int, width: int, depth: int, num_classes: int,
         in_chans: int) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=image_size, patch_size=patch, in_chans=in_chans, num_classes=num_classes,
        embed_dim=width, depth=depth, num_heads=max(1, width // 32), mlp_ratio=2.0,
        class_token=False, global_pool="avg",
    )


class HybridViT(nn.Module):
    """Conv stem (3×3 stride 1, 3×3 stride 2, BN + ReLU) followed by a ViT on patch 2."""

    def __init__(self, image_size: int, width: int, depth: int, num_classes: int,
                 in_chans: int = 3) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size={image_size} is not allowed for 'hybrid'; use a multiple of 4")
        c = max(8, width // 2)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        )
        self.vit = _vit(image_size // 2, 2, width, depth, num_classes, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(self.stem(x))


def _resnet(image_size: int, width: int, depth: int, num_classes: int, in_chans: int) -> nn.Module:
    return SmallResNet(width, depth, num_classes, in_chans)


def _patch_vit(patch: int) -> Callable[..., nn.Module]:
    def build(image_size: int, width: int, depth: int, num_classes: int, in_chans: int) -> nn.Module:
        return _vit(image_size, patch, width, depth, num_classes, in_chans)

    return build


def _hybrid(image_size: int, width: int, depth: int, num_classes: int, in_chans: int) -> nn.Module:
    return HybridViT(image_size, width, depth, num_classes, in_chans)


def _mixer(image_size: int, width: int, depth: int, num_classes: int, in_chans: int) -> nn.Module:
    from timm.models.mlp_mixer import MlpMixer

    return MlpMixer(num_classes=num_classes, img_size=image_size, in_chans=in_chans, patch_size=4,
                    num_blocks=depth, embed_dim=width, mlp_ratio=(0.5, 2.0))


def _convmixer(image_size: int, width: int, depth: int, num_classes: int, in_chans: int) -> nn.Module:
    from timm.models.convmixer import ConvMixer

    return ConvMixer(dim=width, depth=depth, kernel_size=5, patch_size=2, in_chans=in_chans,
                     num_classes=num_classes)


@dataclass(frozen=True)
class ArchSpec:
    """A registered CIFAR architecture.

    Parameters
    ----------
    name : str
    family : {"cnn", "vit", "hybrid", "mlp"}
    kernel_size : int or None
        First convolution's kernel (None for pure patch embeddings).
    patch_size : int or None
        Pixels per token side (None for the ResNet).
    width, depth : int
        Default width (channels of the first stage / embedding dim) and depth
        (blocks per stage for the ResNet, transformer / mixer blocks otherwise).
    description : str
    builder : callable
        ``builder(image_size, width, depth, num_classes, in_chans) -> nn.Module``
        (not part of the JSON form).

    Examples
    --------
    >>> spec = ARCHS.get("vit-p4")
    >>> spec.family, spec.patch_size, spec.to_dict()["width"]
    ('vit', 4, 128)
    """

    name: str
    family: str
    kernel_size: int | None
    patch_size: int | None
    width: int
    depth: int
    description: str = ""
    builder: Callable[..., nn.Module] = field(default=_resnet, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise ValueError(f"family={self.family!r} is not allowed; allowed: {', '.join(_FAMILIES)}")
        for name in ("kernel_size", "patch_size"):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=1, allow_none=True))
        for name in ("width", "depth"):
            object.__setattr__(self, name, as_int(getattr(self, name), name, minimum=1))
        if not callable(self.builder):
            raise ValueError(f"builder={self.builder!r} is not allowed; allowed: a function "
                             "(image_size, width, depth, num_classes, in_chans) -> nn.Module")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (without the builder)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "builder"}


#: Registry of CIFAR-10 architectures.
#:
#: :meta hide-value:
ARCHS: Registry[ArchSpec] = Registry("architecture")

for _spec in (
    ArchSpec("resnet", "cnn", 3, None, 16, 1, "ResNet-8 style: 3 stages of basic blocks", _resnet),
    ArchSpec("vit-p2", "vit", None, 2, 128, 4, "ViT, patch 2 (256 tokens)", _patch_vit(2)),
    ArchSpec("vit-p4", "vit", None, 4, 128, 4, "ViT, patch 4 (64 tokens)", _patch_vit(4)),
    ArchSpec("vit-p8", "vit", None, 8, 128, 4, "ViT, patch 8 (16 tokens)", _patch_vit(8)),
    ArchSpec("hybrid", "hybrid", 3, 4, 128, 4, "conv stem + ViT on 4x4-pixel tokens", _hybrid),
    ArchSpec("mixer", "mlp", None, 4, 128, 4, "MLP-Mixer, patch 4", _mixer),
    ArchSpec("convmixer", "cnn", 5, 2, 128, 4, "ConvMixer, kernel 5, patch 2", _convmixer),
):
    ARCHS.register(_spec.name)(_spec)
del _spec


def create_arch(
    name: str,
    *,
    num_classes: int = 10,
    image_size: int = 32,
    in_chans: int = 3,
    width: int | None = None,
    depth: int | None = None,
    mean: Sequence[float] | None = CIFAR10_MEAN,
    std: Sequence[float] | None = CIFAR10_STD,
    seed: int | None = None,
) -> nn.Sequential:
    """Build ``Sequential(Normalise(mean, std, input_shape), network)`` for raw ``[0, 1]`` input.

    The first module normalises (once) and refuses any input shape but
    ``(N, in_chans, image_size, image_size)`` with a ``ValueError``.

    Parameters
    ----------
    name : str
        A name in :data:`ARCHS` (an unknown one lists the registered names).
    num_classes, image_size, in_chans : int
        Output classes and square input ``(in_chans, image_size, image_size)``;
        ``image_size`` must be a multiple of the patch size.
    width, depth : int, optional
        Override the spec's defaults.
    mean, std : sequence of float or None
        Normalisation inside the model; ``None`` for both: no normalisation
        (then pass foolbox ``preprocessing`` to attacks instead).
    seed : int, optional
        Seed the initialisation (forked RNG).

    Examples
    --------
    >>> model = create_arch("vit-p8", width=32, depth=1, seed=0)
    >>> model(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> model(torch.rand(2, 3, 16, 16))
    Traceback (most recent call last):
    ...
    ValueError: input of shape (2, 3, 16, 16) is not allowed; the model expects (N, 3, 32, 32)
    >>> create_arch("vit-p8", image_size=36)
    Traceback (most recent call last):
    ...
    ValueError: image_size=36 is not allowed for 'vit-p8'; use a multiple of its patch size 8
    """
    spec = ARCHS.get(name)
    num_classes = as_int(num_classes, "num_classes", minimum=1)
    image_size = as_int(image_size, "image_size", minimum=1)
    in_chans = as_int(in_chans, "in_chans", minimum=1)
    width = as_int(width, "width", minimum=1, allow_none=True)
    depth = as_int(depth, "depth", minimum=1, allow_none=True)
    seed = as_int(seed, "seed", minimum=0, allow_none=True)
    if (mean is None) != (std is None):
        raise ValueError(f"mean and std must both be given or both be None, got mean={mean!r}, std={std!r}")
    if mean is not None:
        mean = _finite_values(mean, "mean", positive=False)
        std = _finite_values(std, "std", positive=True)
        if len(mean) != in_chans or len(std) != in_chans:
            raise ValueError(f"mean={mean!r}, std={std!r} are not allowed; in_chans={in_chans} needs "
                             f"{in_chans} values each")
    if spec.patch_size is not None and image_size % spec.patch_size:
        raise ValueError(
            f"image_size={image_size} is not allowed for {name!r}; use a multiple of its patch "
            f"size {spec.patch_size}"
        )
    width = spec.width if width is None else width
    depth = spec.depth if depth is None else depth
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        net = spec.builder(image_size, width, depth, num_classes, in_chans)
        init_zero_heads(net)
    return nn.Sequential(Normalise(mean, std, input_shape=(in_chans, image_size, image_size)), net)
