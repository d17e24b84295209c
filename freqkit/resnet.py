"""Strided CNNs for the aliasing chapter: PreAct ResNet-18 and Wide ResNets.

:data:`CNNS` is a registry of *whole-network* factories (the registry
:data:`freqkit.models.MODELS` holds hidden-layer factories of the FC/FKC/LKC/LC
family and its :func:`~freqkit.models.create_model` contract -- size-preserving
hidden layers plus a linear readout, ``dense_matrix()`` -- does not fit a
ResNet); build a network with :func:`create_cnn`.

``preact-resnet18``
    The PreAct ResNet-18 of Wong et al. (2020) / Rice et al. (2020)
    (``fast_adversarial``): a 3x3 stem convolution, four stages
    ``layer1..layer4`` of two pre-activation basic blocks with
    ``width·(1, 2, 4, 8)`` channels, then BN-ReLU, 4x4 average pooling and a
    linear readout. ``width=64`` is the standard model. The first block of
    ``layer2``, ``layer3`` and ``layer4`` down-samples with a stride-2 3x3
    convolution (``layerK.0.conv1``) and a stride-2 1x1 shortcut convolution
    (``layerK.0.shortcut.0``); these six are the network's strided convolutions.
``wide-resnet``
    The pre-activation Wide ResNet of Zagoruyko & Komodakis (2016) as used in
    adversarial training (Madry et al.; Rice et al.): ``depth = 6n + 4``,
    widen factor ``width`` (WRN-28-10: ``depth=28, width=10``), stages
    ``block1..block3`` with ``16·width·(1, 2, 4)`` channels; ``block2.0`` and
    ``block3.0`` down-sample with a stride-2 3x3 convolution (``conv1``) and a
    stride-2 1x1 shortcut (``shortcut``).

Conventions

* Inputs are images in ``[0, 1]``; every network normalises them itself with
  the fixed buffers ``input_mean``/``input_std`` (CIFAR-10 statistics by
  default), so attacks run in pixel space without foolbox ``preprocessing``.
* Every strided convolution has stride 2, zero padding ``k // 2`` and even
  input size ``2N``, so its stride-1 output is ``2N x 2N`` and the strided
  output is exactly the stride-1 output sampled at even positions
  (``[..., ::2, ::2]``), which :mod:`freqkit.aliasing` relies on.
* The *stage* of a module is the first component of its name (``layer2`` for
  ``layer2.0.shortcut.0``); :func:`freqkit.aliasing.stage_means` groups by it.
* Initialisation is PyTorch's default for every layer (BN weight 1, bias 0),
  drawn from the global RNG inside :func:`torch.random.fork_rng` after
  ``torch.manual_seed(seed)`` when ``seed`` is given, so the caller's RNG
  state is untouched.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from freqkit._validate import as_int
from freqkit.registry import Registry

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CNNS",
    "CNNConfig",
    "PreActBlock",
    "PreActResNet",
    "WideBlock",
    "WideResNet",
    "create_cnn",
    "rebuild_cnn",
]

#: Per-channel mean and standard deviation of the CIFAR-10 training set (as in ``fast_adversarial``).
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2471, 0.2435, 0.2616)

#: Registry of whole-network factories (``preact-resnet18``, ``wide-resnet``); use :func:`create_cnn`.
#:
#: :meta hide-value:
CNNS: Registry[Callable[["CNNConfig"], nn.Module]] = Registry("cnn")


@dataclass(frozen=True)
class CNNConfig:
    """Resolved arguments of :func:`create_cnn`; ``create_cnn(**dataclasses.asdict(config))`` rebuilds it.

    Parameters
    ----------
    name : str
        A name in :data:`CNNS`.
    num_classes : int
    width : int
        PreAct ResNet-18: channels of the first stage (64 = standard).
        Wide ResNet: widen factor (10 for WRN-28-10).
    depth : int or None
        Wide ResNet depth ``6n + 4`` (default 28); must be None for ``preact-resnet18``.
    in_channels : int
    mean, std : tuple of float
        Input normalisation, one value per input channel.
    seed : int or None
    """

    name: str
    num_classes: int = 10
    width: int = 64
    depth: int | None = None
    in_channels: int = 3
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    seed: int | None = None


class _Normalised(nn.Module):
    """Base class: ``forward(x) = logits(body((x - mean) / std))``."""

    config: CNNConfig

    def _init_normalisation(self, config: CNNConfig) -> None:
        self.config = config
        c = config.in_channels
        self.register_buffer("input_mean", torch.tensor(config.mean, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("input_std", torch.tensor(config.std, dtype=torch.float32).view(1, c, 1, 1))

    def normalise(self, x: Tensor) -> Tensor:
        """``(x - input_mean) / input_std``; ``x`` must be ``(N, in_channels, H, W)`` of the model's dtype."""
        _check_input(x, self.config.in_channels, self.input_mean.dtype)
        return (x - self.input_mean) / self.input_std


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _check_input(x: Any, channels: int, dtype: torch.dtype) -> None:
    """A ValueError unless ``x`` is a non-empty ``(N, channels, H, W)`` tensor of ``dtype``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch tensor of images (N, {channels}, H, W) in [0, 1], got {type(x).__name__}")
    if x.dtype != dtype:
        raise ValueError(f"x has dtype {_dtype_name(x.dtype)}; allowed: {_dtype_name(dtype)} images in [0, 1] "
                         "(the model's dtype)")
    if x.ndim != 4 or x.shape[1] != channels or x.shape[0] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}; allowed: (N, {channels}, H, W) with N >= 1")


def _check_block(in_planes: Any, planes: Any, stride: Any) -> tuple[int, int, int]:
    in_planes = as_int(in_planes, "in_planes", minimum=1)
    planes = as_int(planes, "planes", minimum=1)
    stride = as_int(stride, "stride", minimum=1, maximum=2)
    return in_planes, planes, stride


def _check_config(config: Any, name: str) -> CNNConfig:
    if not isinstance(config, CNNConfig):
        raise ValueError(f"config must be a CNNConfig (see create_cnn), got {type(config).__name__}")
    if name == "wide-resnet" and (isinstance(config.depth, bool) or not isinstance(config.depth, int)
                                  or config.depth < 10 or (config.depth - 4) % 6):
        raise ValueError(f"config.depth={config.depth!r} is not allowed for a WideResNet; allowed: 6n + 4 >= 10")
    return config


class PreActBlock(nn.Module):
    """Pre-activation basic block: ``conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut``.

    The shortcut is a 1x1 convolution of ``relu(bn1(x))`` (stride ``stride``)
    when the shape changes, else the identity on ``x`` (He et al. 2016).

    Examples
    --------
    >>> block = PreActBlock(4, 8, stride=2)
    >>> block(torch.randn(2, 4, 8, 8)).shape
    torch.Size([2, 8, 4, 4])
    >>> block.conv1.stride, block.shortcut[0].stride
    ((2, 2), (2, 2))
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        in_planes, planes, stride = _check_block(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False))
        else:
            self.shortcut = None

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(_Normalised):
    """PreAct ResNet with ``blocks`` pre-activation basic blocks per stage (18 layers: ``(2, 2, 2, 2)``).

    Examples
    --------
    >>> net = create_cnn("preact-resnet18", width=4, seed=0)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)]
    ['layer2.0.conv1', 'layer2.0.shortcut.0', 'layer3.0.conv1', 'layer3.0.shortcut.0', 'layer4.0.conv1', 'layer4.0.shortcut.0']
    """

    def __init__(self, config: CNNConfig, blocks: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self._init_normalisation(_check_config(config, "preact-resnet18"))
        w = config.width
        self.conv1 = nn.Conv2d(config.in_channels, w, kernel_size=3, stride=1, padding=1, bias=False)
        in_planes = w
        stages = []
        for i, n in enumerate(blocks):
            planes = w * 2**i
            stride = 1 if i == 0 else 2
            layers = []
            for j in range(n):
                layers.append(PreActBlock(in_planes, planes, stride if j == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, config.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(self.normalise(x))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class WideBlock(nn.Module):
    """Pre-activation wide basic block (no dropout), shortcut a 1x1 convolution when the shape changes.

    Examples
    --------
    >>> WideBlock(4, 8, stride=2)(torch.randn(1, 4, 8, 8)).shape
    torch.Size([1, 8, 4, 4])
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        in_planes, planes, stride = _check_block(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.shortcut = (
            nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False)
            if stride != 1 or in_planes != planes
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return out + shortcut


class WideResNet(_Normalised):
    """Pre-activation Wide ResNet-``depth``-``width`` (Zagoruyko & Komodakis 2016).

    Examples
    --------
    >>> net = create_cnn("wide-resnet", depth=10, width=1, seed=0)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)]
    ['block2.0.conv1', 'block2.0.shortcut', 'block3.0.conv1', 'block3.0.shortcut']
    """

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self._init_normalisation(_check_config(config, "wide-resnet"))
        n = (config.depth - 4) // 6
        widths = [16, 16 * config.width, 32 * config.width, 64 * config.width]
        self.conv1 = nn.Conv2d(config.in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        in_planes = widths[0]
        stages = []
        for i in range(3):
            layers = []
            for j in range(n):
                layers.append(WideBlock(in_planes, widths[i + 1], (1 if i == 0 else 2) if j == 0 else 1))
                in_planes = widths[i + 1]
            stages.append(nn.Sequential(*layers))
        self.block1, self.block2, self.block3 = stages
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, config.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(self.normalise(x))
        out = self.block3(self.block2(self.block1(out)))
        out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


@CNNS.register("preact-resnet18")
def _preact_resnet18(config: CNNConfig) -> nn.Module:
    return PreActResNet(config, (2, 2, 2, 2))


@CNNS.register("wide-resnet")
def _wide_resnet(config: CNNConfig) -> nn.Module:
    return WideResNet(config)


def _channel_values(values: Any, name: str, channels: int, *, positive: bool) -> tuple[float, ...]:
    """``values`` as ``channels`` finite floats (``> 0`` when ``positive``), else ValueError."""
    allowed = f"{channels} finite numbers{' > 0' if positive else ''} (one per input channel)"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) != channels:
        raise ValueError(f"{name}={values!r} is not allowed; allowed: {allowed}")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(v) \
                or (positive and v <= 0):
            raise ValueError(f"{name}={tuple(values)!r} is not allowed (entry {v!r}); allowed: {allowed}")
        out.append(float(v))
    return tuple(out)


def create_cnn(
    name: str,
    *,
    num_classes: int = 10,
    width: int = 64,
    depth: int | None = None,
    in_channels: int = 3,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    seed: int | None = None,
) -> nn.Module:
    """Build a registered CNN (``CNNS.names()``); ``net.config`` holds the resolved :class:`CNNConfig`.

    Parameters
    ----------
    name : {"preact-resnet18", "wide-resnet"}
    num_classes : int
    width : int
        First-stage channels of the PreAct ResNet-18 (64 = standard), or the
        widen factor of the Wide ResNet (10 for WRN-28-10).
    depth : int, optional
        Wide ResNet depth ``6n + 4 >= 10`` (default 28); None for ``preact-resnet18``.
    in_channels : int
    mean, std : tuple of float, optional
        Input normalisation (default: CIFAR-10 statistics for 3 channels, 0.5/0.25 otherwise).
    seed : int, optional
        Seed of the initialisation (global RNG untouched); None: the global RNG.

    Examples
    --------
    >>> net = create_cnn("preact-resnet18", width=8, seed=0)
    >>> net.config.width, sum(p.numel() for p in net.parameters())
    (8, 176178)
    >>> create_cnn("wide-resnet", depth=12)
    Traceback (most recent call last):
    ...
    ValueError: depth=12 is not allowed for 'wide-resnet'; allowed: 6n + 4 >= 10 (e.g. 28)
    """
    factory = CNNS.get(name)
    num_classes = as_int(num_classes, "num_classes", minimum=1)
    width = as_int(width, "width", minimum=1)
    in_channels = as_int(in_channels, "in_channels", minimum=1)
    if name == "wide-resnet":
        depth = 28 if depth is None else depth
        if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)) or depth < 10 \
                or (depth - 4) % 6:
            raise ValueError(f"depth={depth!r} is not allowed for 'wide-resnet'; allowed: 6n + 4 >= 10 (e.g. 28)")
        depth = int(depth)
    elif depth is not None:
        raise ValueError(f"depth={depth!r} is not allowed for {name!r}; allowed: None")
    if mean is None:
        mean = CIFAR10_MEAN if in_channels == 3 else (0.5,) * in_channels
    if std is None:
        std = CIFAR10_STD if in_channels == 3 else (0.25,) * in_channels
    mean = _channel_values(mean, "mean", in_channels, positive=False)
    std = _channel_values(std, "std", in_channels, positive=True)
    seed = as_int(seed, "seed", minimum=0, allow_none=True)
    config = CNNConfig(name, num_classes, width, depth, in_channels, mean, std, seed)
    if seed is None:
        return factory(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(config)


def rebuild_cnn(config: CNNConfig) -> nn.Module:
    """``create_cnn(**dataclasses.asdict(config))``.

    Examples
    --------
    >>> net = create_cnn("preact-resnet18", width=2, seed=1)
    >>> other = rebuild_cnn(net.config)
    >>> all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    True
    """
    if not isinstance(config, CNNConfig):
        raise ValueError(f"config must be a CNNConfig (a network's .config), got {type(config).__name__}")
    return create_cnn(**dataclasses.asdict(config))
