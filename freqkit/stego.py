"""Class-specific, band-limited "steganographic" shortcut features (Caro et al. 2024, §2.4).

For every class ``c`` a fixed standard-normal matrix ``Z_c`` of the image's
shape ``(C, H, W)`` is drawn (seeded, all classes in one draw from
``torch.Generator().manual_seed(seed)``), read as a **centred** spectrum
(DC at index ``n // 2``), multiplied by ``epsilon`` and by the radial band mask
``M = freqkit.spectra.band_mask(n, lo, hi)`` (``lo <= r < hi`` cycles/pixel) and
brought to the image domain with the orthonormal inverse DFT:

    feature_c = real(ifft2(ifftshift(epsilon · M · Z_c), norm="ortho"))

and every image of class ``c`` (train *and* test) becomes ``x' = x + feature_c``.

* ``M`` is symmetric under ``m -> -m (mod n)``, so taking the real part keeps the
  feature inside the band: its spectrum is the Hermitian part
  ``epsilon · M · (Z(m) + Z(-m)) / 2``.
* No clipping is applied, so ``x'`` may leave ``[0, 1]`` slightly; clipping would
  leak energy outside the band.
* ``psnr`` measures how visible the feature is: with the orthonormal DFT,
  ``mean(feature²) = ||epsilon · M · Z_sym||² / (C·H·W)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from freqkit._validate import as_int, as_real, check_labels
from freqkit.spectra import BANDS, band_mask

__all__ = ["StegoConfig", "add_features", "band_limits", "class_features", "psnr"]

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


def band_limits(band: str | tuple[float, float]) -> tuple[float, float]:
    """``(lo, hi)`` in cycles/pixel of a named band in ``freqkit.spectra.BANDS`` or a pair.

    Examples
    --------
    >>> band_limits("mid")
    (0.125, 0.25)
    >>> band_limits("ultra")
    Traceback (most recent call last):
    ...
    ValueError: band='ultra' is unknown; use one of ['low', 'mid', 'high'] or a (lo, hi) pair with 0 <= lo < hi
    """
    if isinstance(band, str):
        if band not in BANDS:
            raise ValueError(
                f"band={band!r} is unknown; use one of {list(BANDS)} or a (lo, hi) pair "
                "with 0 <= lo < hi"
            )
        lo, hi = BANDS[band]
        return float(lo), float(hi)
    try:
        if isinstance(band, (bytes, bool)) or any(isinstance(v, (str, bytes, bool)) for v in band):
            raise TypeError
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(
            f"band={band!r} is unknown; use one of {list(BANDS)} or a (lo, hi) pair "
            "with 0 <= lo < hi"
        ) from None
    if not 0 <= lo < hi:
        raise ValueError(f"band={band!r} needs 0 <= lo < hi")
    return lo, hi


def _check_epsilon(epsilon: float) -> float:
    try:
        epsilon = float(as_real(epsilon, "epsilon", minimum=0))
    except ValueError:
        raise ValueError(f"epsilon={epsilon!r} must be finite and >= 0") from None
    return epsilon


def _check_image_shape(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    message = f"image_shape={image_shape!r} must be (C, n, n) with square n x n images (positive integers)"
    if isinstance(image_shape, (str, bytes)) or not hasattr(image_shape, "__len__") or len(image_shape) != 3:
        raise ValueError(message)
    try:
        shape = tuple(as_int(s, "image_shape", minimum=1) for s in image_shape)
    except ValueError:
        raise ValueError(message) from None
    if shape[1] != shape[2]:
        raise ValueError(message)
    return shape  # type: ignore[return-value]


def class_features(
    num_classes: int,
    image_shape: tuple[int, int, int],
    band: str | tuple[float, float],
    epsilon: float,
    seed: int = 0,
) -> torch.Tensor:
    """Spatial-domain shortcut feature per class, ``(num_classes, C, H, W)`` float32.

    Parameters
    ----------
    num_classes : int
        Number of classes (one feature each).
    image_shape : (C, n, n)
        Image shape; images must be square (``band_mask`` is ``n × n``).
    band : str or (lo, hi)
        ``"low"``, ``"mid"``, ``"high"`` (``freqkit.spectra.BANDS``) or a radial
        band ``lo <= r < hi`` in cycles/pixel.
    epsilon : float
        Scale of the spectrum (>= 0); the feature is linear in ``epsilon``.
    seed : int
        Seed of the ``N(0, 1)`` draw; same seed -> same features.

    Examples
    --------
    >>> f = class_features(3, (1, 8, 8), "high", 0.1, seed=0)
    >>> f.shape
    torch.Size([3, 1, 8, 8])
    >>> torch.equal(f, class_features(3, (1, 8, 8), "high", 0.1, seed=0))
    True
    >>> bool(torch.allclose(2 * f, class_features(3, (1, 8, 8), "high", 0.2, seed=0)))
    True
    """
    try:
        num_classes = as_int(num_classes, "num_classes", minimum=1)
    except ValueError:
        raise ValueError(f"num_classes={num_classes!r} must be a positive integer") from None
    c, n, _ = _check_image_shape(image_shape)
    lo, hi = band_limits(band)
    epsilon = _check_epsilon(epsilon)
    seed = as_int(seed, "seed", minimum=0)
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.randn((int(num_classes), c, n, n), generator=generator, dtype=torch.float64)
    mask = torch.from_numpy(band_mask(n, lo, hi)).to(torch.float64)
    spectrum = torch.fft.ifftshift(epsilon * mask * z, dim=(-2, -1))
    return torch.fft.ifft2(spectrum, norm="ortho").real.to(torch.float32)


def add_features(x: ArrayT, y: ArrayT, features: ArrayT) -> ArrayT:
    """Return ``x + features[y]`` (no clipping), for torch tensors or numpy arrays.

    Parameters
    ----------
    x : (N, C, H, W)
        Images.
    y : (N,)
        Integer labels in ``[0, len(features))``.
    features : (num_classes, C, H, W)
        From :func:`class_features`.

    Examples
    --------
    >>> feats = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    >>> add_features(torch.zeros(2, 1, 2, 2), torch.tensor([1, 0]), feats).sum((1, 2, 3))
    tensor([4., 0.])
    """
    is_torch = isinstance(x, torch.Tensor)
    if not is_torch and not isinstance(x, np.ndarray):
        raise ValueError(f"x must be a torch.Tensor or numpy.ndarray (N, C, H, W), got {type(x).__name__}")
    if not (x.dtype.is_floating_point if is_torch else x.dtype.kind == "f"):
        raise ValueError(f"x has dtype {x.dtype}; allowed: a floating dtype (features would be "
                         "truncated to an integer dtype)")
    if is_torch and not isinstance(features, torch.Tensor):
        features = torch.as_tensor(np.asarray(features))
    if is_torch and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y))
    if not is_torch:
        features = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
        y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if x.ndim != 4 or features.ndim != 4 or tuple(x.shape[1:]) != tuple(features.shape[1:]):
        raise ValueError(
            f"x {tuple(x.shape)} and features {tuple(features.shape)} must be (N, C, H, W) "
            "and (num_classes, C, H, W) with the same (C, H, W)"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must have shape ({len(x)},), got {tuple(y.shape)}")
    check_labels(y, "y")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(features)):
        raise ValueError(
            f"y has labels in [{int(y.min())}, {int(y.max())}]; allowed: 0..{len(features) - 1}"
        )
    if isinstance(x, torch.Tensor):
        return x + features.to(device=x.device, dtype=x.dtype)[y.to(x.device).long()]
    return x + np.asarray(features, dtype=x.dtype)[np.asarray(y, dtype=np.int64)]


def psnr(reference: ArrayT, modified: ArrayT, data_range: float = 1.0) -> ArrayT:
    """Peak signal-to-noise ratio per image, ``10·log10(data_range² / MSE)`` in dB.

    The MSE is the mean over the last three axes ``(C, H, W)``; identical images
    give ``inf``.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 4, 4)
    >>> psnr(x, x + 0.1)  # MSE = 0.01 -> 20 dB
    tensor([20.])
    """
    for name, value in (("reference", reference), ("modified", modified)):
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise ValueError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
        kind_ok = (not value.dtype.is_complex and value.dtype != torch.bool) if isinstance(value, torch.Tensor) \
            else value.dtype.kind in "iuf"
        if not kind_ok:
            raise ValueError(f"{name} has dtype {value.dtype}; allowed: a real numeric dtype")
    if type(reference) is not type(modified):
        raise ValueError(f"reference and modified must be of the same type, got {type(reference).__name__} "
                         f"and {type(modified).__name__}")
    data_range = as_real(data_range, "data_range", minimum=0, min_open=True)
    if reference.shape != modified.shape or reference.ndim < 3:
        raise ValueError(
            f"reference {tuple(reference.shape)} and modified {tuple(modified.shape)} must "
            "have the same shape (..., C, H, W)"
        )
    if not data_range > 0:
        raise ValueError(f"data_range={data_range!r} must be > 0")
    if isinstance(reference, torch.Tensor):
        mse = (reference - modified).double().pow(2).mean(dim=(-3, -2, -1))
        out = 10 * torch.log10(data_range**2 / mse)
        return out.to(reference.dtype if reference.is_floating_point() else torch.float64)
    diff = np.asarray(reference, dtype=np.float64) - np.asarray(modified, dtype=np.float64)
    mse = (diff**2).mean(axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


@dataclass(frozen=True)
class StegoConfig:
    """Serialisable steganographic-feature setting.

    Examples
    --------
    >>> cfg = StegoConfig(band="low", epsilon=0.5, seed=3)
    >>> StegoConfig(**json.loads(cfg.to_json())) == cfg
    True
    >>> cfg.features(10, (1, 28, 28)).shape
    torch.Size([10, 1, 28, 28])
    """

    band: str
    epsilon: float
    seed: int = 0

    def __post_init__(self) -> None:
        band_limits(self.band)
        _check_epsilon(self.epsilon)
        object.__setattr__(self, "epsilon", as_real(self.epsilon, "epsilon"))  # NumPy scalar -> Python
        object.__setattr__(self, "seed", as_int(self.seed, "seed", minimum=0))

    def features(self, num_classes: int, image_shape: tuple[int, int, int]) -> torch.Tensor:
        """:func:`class_features` for this setting."""
        return class_features(num_classes, image_shape, self.band, self.epsilon, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)
