"""Aliasing in strided convolutions (Grabinski et al. 2022).

A stride-2 convolution is a stride-1 convolution followed by sub-sampling at
even positions. Sub-sampling a ``2N``-point signal to ``N`` points folds its
spectrum: every frequency above the new Nyquist frequency (``1/4`` cycle per
input pixel) lands on a frequency below it -- an *alias*. The aliasing of a
layer is the L1 distance, in the Fourier domain, between what the layer
outputs and the alias-free down-sampling of its stride-1 output.

:func:`aliasing_measure` computes it from the two feature maps;
:func:`model_aliasing` measures every strided convolution of a network in one
forward pass with forward hooks (the stride-1 map is recomputed inside the
hook from the layer's own input and weights; the model is not copied), and
:func:`stage_means` averages the layers of a stage (for a PreAct ResNet-18:
``layer2`` is the mean of ``layer2.0.conv1`` and ``layer2.0.shortcut.0``).

.. rubric:: Conventions

* **FFT normalisation**: ``norm="forward"`` (the forward transform divides by
  the number of pixels, ``X[k] = (1/M²) Σ_n x[n] e^{-2πi k·n/M}``). With it the
  spectrum of ``x[..., ::s, ::s]`` is exactly the *fold* of the spectrum of
  ``x``, ``S[k] = Σ_{a,b} X[k_y + aN, k_x + bN]``, Fourier coefficients are
  Fourier-series amplitudes (a cosine of amplitude ``A`` has two coefficients
  ``A/2``) and the measure does not depend on the map size for a sinusoid.
* **Alias-free reference**: an ideal low-pass with cut-off at the new Nyquist
  frequency, *inclusive*, followed by the sub-sampling: the ``N`` lowest
  frequencies per axis of the ``2N``-point spectrum are kept (centred indices
  ``-N/2 … N/2`` for even ``N``, ``-(N-1)/2 … (N-1)/2`` for odd ``N``),
  everything above the new Nyquist is set to zero.
* **Nyquist bin** (even ``N``): the ``2N``-point spectrum has two bins at the
  new Nyquist frequency, ``+N/2`` and ``-N/2``; both are kept and *summed* into
  the single Nyquist bin of the ``N``-point grid (the corner bin receives four).
  This is what sub-sampling the low-passed (real) signal gives, so the
  reference stays the spectrum of a real map and a component exactly at the
  new Nyquist frequency is not aliasing.
* Aliasing ``= (1/C) Σ_c Σ_k |S_c[k] - R_c[k]|`` over the ``N x N`` bins of
  each channel ``c``; it is zero exactly when the stride-1 map has no energy
  above the new Nyquist frequency, and it equals ``|B|`` for a cosine of
  amplitude ``B`` above it (its two coefficients ``B/2`` alias onto the grid;
  the reference is zero there).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from freqkit._validate import as_int, check_finite

__all__ = [
    "aliasing_measure",
    "alias_free_spectrum",
    "model_aliasing",
    "stage_means",
    "stage_of",
    "strided_convolutions",
    "strided_feature_maps",
    "strided_hooks",
]


# --------------------------------------------------------------------------- the measure


def _fold_rows(spectrum: Tensor, n: int) -> Tensor:
    """Rows of a ``2n``-point spectrum (axis -2) -> the alias-free ``n`` rows (Nyquist rows summed)."""
    m = spectrum.shape[-2]
    half = (n - 1) // 2  # highest kept frequency strictly below the new Nyquist
    parts = [spectrum[..., : half + 1, :]]
    if n % 2 == 0:
        parts.append(spectrum[..., n // 2 : n // 2 + 1, :] + spectrum[..., m - n // 2 : m - n // 2 + 1, :])
    if half:
        parts.append(spectrum[..., m - half :, :])
    return torch.cat(parts, dim=-2)


def _check_pair(unstrided: Tensor, strided: Tensor) -> tuple[int, int]:
    if not isinstance(unstrided, Tensor) or not isinstance(strided, Tensor):
        raise ValueError(
            f"unstrided and strided must be torch tensors, got {type(unstrided).__name__} "
            f"and {type(strided).__name__}"
        )
    if unstrided.ndim < 3 or strided.ndim != unstrided.ndim:
        raise ValueError(
            f"unstrided and strided must both have shape (..., C, H, W), got shapes "
            f"{tuple(unstrided.shape)} and {tuple(strided.shape)}"
        )
    if unstrided.shape[:-2] != strided.shape[:-2]:
        raise ValueError(
            f"unstrided shape {tuple(unstrided.shape)} and strided shape {tuple(strided.shape)} "
            f"differ in the leading/channel axes {tuple(unstrided.shape[:-2])} vs {tuple(strided.shape[:-2])}"
        )
    (mh, mw), (nh, nw) = unstrided.shape[-2:], strided.shape[-2:]
    for axis, m, n in (("H", mh, nh), ("W", mw, nw)):
        if m % 2:
            raise ValueError(
                f"unstrided has odd size {axis}={m} (shape {tuple(unstrided.shape)}); "
                f"allowed: an even size 2N with strided size N"
            )
        if n < 1 or m != 2 * n:
            raise ValueError(
                f"sizes unstrided {axis}={m} and strided {axis}={n} are not a (2N, N) pair "
                f"(shapes {tuple(unstrided.shape)} and {tuple(strided.shape)})"
            )
    for name, t in (("unstrided", unstrided), ("strided", strided)):
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    return nh, nw


def _check_finite(t: Tensor, name: str) -> None:
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = tuple((~finite).nonzero()[0].tolist())
        raise ValueError(
            f"{name} has a non-finite value {t[bad].item()} at index {bad}; allowed: finite feature maps"
        )


def alias_free_spectrum(unstrided: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Half spectrum (``norm="forward"``, ``rfft2`` layout) of the alias-free down-sampling of ``unstrided``.

    The ``N`` lowest frequencies per axis of the ``2N``-point spectrum, with the
    two new-Nyquist bins of each axis summed (see the module conventions), laid
    out like ``torch.fft.rfft2`` of an ``H x W`` map: shape ``(..., H, W//2 + 1)``.

    Parameters
    ----------
    unstrided : Tensor, shape ``(..., 2H, 2W)``
        Real feature maps.
    size : (H, W), optional
        Default: half the input size.

    Returns
    -------
    Tensor, complex, shape ``(..., H, W // 2 + 1)``

    Examples
    --------
    Sub-sampling a map without energy above 1/4 cycle/pixel gives exactly the reference:

    >>> keep = torch.tensor([1, 1, 1, 0, 0, 0, 1, 1.0])  # DFT indices 0, ±1, ±2 of 8
    >>> low = torch.fft.ifft2(torch.fft.fft2(torch.randn(1, 8, 8)) * keep.outer(keep)).real
    >>> torch.allclose(alias_free_spectrum(low), torch.fft.rfft2(low[..., ::2, ::2], norm="forward"), atol=1e-6)
    True
    """
    if not isinstance(unstrided, Tensor) or unstrided.ndim < 2 or not unstrided.is_floating_point():
        got = (f"dtype {unstrided.dtype}, shape {tuple(unstrided.shape)}" if isinstance(unstrided, Tensor)
               else type(unstrided).__name__)
        raise ValueError(f"unstrided must be a floating-point tensor of shape (..., 2H, 2W), got {got}")
    mh, mw = unstrided.shape[-2:]
    if mh % 2 or mw % 2 or not (mh and mw):
        raise ValueError(f"unstrided has shape {tuple(unstrided.shape)}; allowed: (..., 2H, 2W), even sizes >= 2")
    if size is not None and tuple(size) != (mh // 2, mw // 2):
        raise ValueError(f"size={size!r} is not allowed; allowed: None or {(mh // 2, mw // 2)} "
                         f"(half of unstrided's {mh}x{mw})")
    nh, nw = (mh // 2, mw // 2) if size is None else size
    full = torch.fft.rfft2(unstrided, norm="forward")  # (..., 2H, W + 1): frequencies 0..W along x
    cols = full[..., : nw // 2 + 1]
    if nw % 2 == 0:
        # the -W/2 column is not stored by rfft2: X[ky, -W/2] = conj(X[-ky, W/2])
        mirrored = full[..., :, nw // 2].conj().roll(-1, dims=-1).flip(-1)  # row ky -> row (-ky) mod 2H
        cols = torch.cat([cols[..., : nw // 2], (cols[..., nw // 2] + mirrored).unsqueeze(-1)], dim=-1)
    return _fold_rows(cols, nh)


def aliasing_measure(unstrided: Tensor, strided: Tensor) -> Tensor:
    """Aliasing of a strided layer: Fourier-domain L1 distance to the alias-free down-sampling.

    Parameters
    ----------
    unstrided : Tensor, shape ``(..., C, 2N, 2N)``
        The layer's output recomputed with stride 1 (rectangular ``2H x 2W`` is allowed too).
    strided : Tensor, shape ``(..., C, N, N)``
        The layer's real (strided) output.

    Returns
    -------
    Tensor, shape ``(...)``
        ``(1/C) Σ_c Σ_k |FFT(strided)_c[k] - R_c[k]|`` with ``FFT`` normalised by the
        number of pixels (``norm="forward"``) and ``R`` = :func:`alias_free_spectrum` of
        ``unstrided`` (both new-Nyquist bins kept and summed). Real dtype of the input.

    Raises
    ------
    ValueError
        If the shapes are not ``(..., C, 2N, 2N)`` / ``(..., C, N, N)`` pairs, the
        stride-1 size is odd, or a map is not finite.

    Examples
    --------
    A cosine of amplitude 0.5 at 3/8 cycle/pixel (above the new Nyquist 1/4) aliases fully:

    >>> n = torch.arange(16.0)
    >>> x = (0.5 * torch.cos(2 * torch.pi * 0.375 * n)).expand(1, 16, 16)
    >>> round(float(aliasing_measure(x, x[..., ::2, ::2])), 6)
    0.5

    Below the new Nyquist there is none:

    >>> x = torch.cos(2 * torch.pi * 0.125 * n).expand(1, 16, 16)
    >>> float(aliasing_measure(x, x[..., ::2, ::2])) < 1e-6
    True
    """
    nh, nw = _check_pair(unstrided, strided)
    difference = torch.fft.rfft2(strided, norm="forward") - alias_free_spectrum(unstrided, (nh, nw))
    # the difference is the spectrum of a real map: columns 1 .. ceil(W/2)-1 stand for two bins each
    weight = torch.full((nw // 2 + 1,), 2.0, dtype=strided.dtype, device=strided.device)
    weight[0] = 1.0
    if nw % 2 == 0:
        weight[-1] = 1.0
    out = (difference.abs().sum(-2) * weight).sum(-1).mean(-1)
    if not bool(torch.isfinite(out).all()):
        _check_finite(unstrided, "unstrided")
        _check_finite(strided, "strided")
    return out


# --------------------------------------------------------------------------- model hooks


def strided_convolutions(model: nn.Module) -> dict[str, nn.Conv2d]:
    """All ``nn.Conv2d`` modules of ``model`` with a stride other than 1, by module name, in order.

    Raises
    ------
    ValueError
        If there is none, or one has a stride other than 2 along an axis, dilation,
        or a padding mode other than zeros.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, stride=2, padding=1))
    >>> list(strided_convolutions(net))
    ['1']
    >>> strided_convolutions(nn.Sequential(nn.Conv2d(1, 2, 3)))
    Traceback (most recent call last):
    ...
    ValueError: model Sequential has no strided convolution (nn.Conv2d with stride > 1); aliasing is measured at strided convolutions only
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    found: dict[str, nn.Conv2d] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and tuple(module.stride) != (1, 1):
            if tuple(module.stride) != (2, 2):
                raise ValueError(f"convolution {name!r} has stride={module.stride}; allowed: (2, 2)")
            if tuple(module.dilation) != (1, 1):
                raise ValueError(f"convolution {name!r} has dilation={module.dilation}; allowed: (1, 1)")
            if module.padding_mode != "zeros" or isinstance(module.padding, str):
                raise ValueError(
                    f"convolution {name!r} has padding={module.padding!r}, padding_mode={module.padding_mode!r}; "
                    f"allowed: integer zero padding"
                )
            found[name] = module
    if not found:
        raise ValueError(
            f"model {type(model).__name__} has no strided convolution (nn.Conv2d with stride > 1); "
            f"aliasing is measured at strided convolutions only"
        )
    return found


def _stride_one(module: nn.Conv2d, x: Tensor) -> Tensor:
    return F.conv2d(x, module.weight, module.bias, stride=1, padding=module.padding, groups=module.groups)


@contextlib.contextmanager
def strided_hooks(
    model: nn.Module,
    callback: Callable[[str, Tensor, Tensor], None],
    layers: Sequence[str] | None = None,
) -> Iterator[dict[str, nn.Conv2d]]:
    """Context manager: call ``callback(name, unstrided, strided)`` at every strided convolution.

    ``unstrided`` is the layer's output recomputed with stride 1 from the layer's
    own input and weights inside a forward hook (no second model); ``strided`` is
    its real output. Hooks are removed on exit, also after an error.

    Parameters
    ----------
    model : nn.Module
    callback : callable
    layers : sequence of str, optional
        Restrict to these names of :func:`strided_convolutions` (default: all).

    Yields
    ------
    dict
        The hooked ``{name: module}``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1))
    >>> shapes = []
    >>> with strided_hooks(net, lambda name, u, s: shapes.append((name, u.shape[-1], s.shape[-1]))):
    ...     _ = net(torch.randn(1, 1, 8, 8))
    >>> shapes
    [('0', 8, 4)]
    """
    convs = strided_convolutions(model)
    if not callable(callback):
        raise ValueError(f"callback={callback!r} is not allowed; allowed: a function (name, unstrided, strided)")
    if isinstance(layers, (str, bytes)):
        raise ValueError(f"layers={layers!r} is not allowed; allowed: None or a sequence of names among "
                         f"{list(convs)} (a list, not one string)")
    if layers is not None:
        unknown = [name for name in layers if name not in convs]
        if unknown:
            raise ValueError(f"layers={list(layers)!r} contains {unknown!r}; allowed: {list(convs)}")
        convs = {name: convs[name] for name in layers}
    handles = []

    def make_hook(name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            callback(name, _stride_one(module, inputs[0]), output)

        return hook

    try:
        for name, module in convs.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        yield convs
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.train(mode)


def _check_images(x: object, model: nn.Module | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        shape = f" of shape {tuple(x.shape)}" if hasattr(x, "shape") else ""
        raise ValueError(f"x must be a (N, C, H, W) torch tensor, got {type(x).__name__}{shape}")
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"x must be a (N, C, H, W) tensor with N >= 1, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {str(x.dtype).replace('torch.', '')}; allowed: a floating dtype")
    if model is not None and isinstance(model, nn.Module):
        own = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
        if own is not None and x.dtype != own:
            raise ValueError(f"x has dtype {str(x.dtype).replace('torch.', '')} but the model's parameters are "
                             f"{str(own).replace('torch.', '')}; allowed: x of the model's dtype")
    check_finite(x, "x")
    return x


def model_aliasing(
    model: nn.Module,
    x: Tensor,
    *,
    batch_size: int = 256,
    layers: Sequence[str] | None = None,
) -> dict[str, Tensor]:
    """Aliasing of every strided convolution of ``model`` on images ``x`` (one forward pass per batch).

    The model runs in eval mode (batch-norm running statistics) under
    ``torch.no_grad()``; its train/eval flags are restored afterwards.

    Parameters
    ----------
    model : nn.Module
        Must contain a strided ``nn.Conv2d`` (see :func:`strided_convolutions`).
    x : Tensor, shape ``(N, C, H, W)``
    batch_size : int
    layers : sequence of str, optional
        Restrict to these strided convolutions.

    Returns
    -------
    dict of str to Tensor
        ``{layer name: aliasing per image, shape (N,)}`` (:func:`aliasing_measure`).

    Raises
    ------
    ValueError
        No strided convolution, or a feature map that is not finite (naming the layer).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    >>> values = model_aliasing(net, torch.rand(5, 3, 16, 16))
    >>> list(values), values["2"].shape, bool((values["2"] > 0).all())
    (['2'], torch.Size([5]), True)
    """
    strided_convolutions(model)  # a module with strided convolutions, before looking at x
    x = _check_images(x, model)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    parts: dict[str, list[Tensor]] = {}

    def record(name: str, unstrided: Tensor, strided: Tensor) -> None:
        try:
            parts.setdefault(name, []).append(aliasing_measure(unstrided, strided).float().cpu())
        except ValueError as error:
            raise ValueError(f"layer {name!r}: {error}") from None

    with _eval_mode(model), torch.no_grad(), strided_hooks(model, record, layers) as convs:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    return {name: torch.cat(parts[name]) if name in parts else torch.empty(0) for name in convs}


def strided_feature_maps(model: nn.Module, x: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """``{layer name: (unstrided, strided)}`` feature maps of every strided convolution (eval mode, no grad).

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1))
    >>> u, s = strided_feature_maps(net, torch.randn(3, 1, 8, 8))["0"]
    >>> u.shape, torch.allclose(u[..., ::2, ::2], s, atol=1e-6)
    (torch.Size([3, 2, 8, 8]), True)
    """
    strided_convolutions(model)
    x = _check_images(x, model)
    maps: dict[str, tuple[Tensor, Tensor]] = {}

    def record(name: str, unstrided: Tensor, strided: Tensor) -> None:
        maps[name] = (unstrided.detach(), strided.detach())

    with _eval_mode(model), torch.no_grad(), strided_hooks(model, record) as convs:
        model(x)
    return {name: maps[name] for name in convs if name in maps}


def stage_of(name: str) -> str:
    """The stage of a module name: its first dotted component.

    Examples
    --------
    >>> stage_of("layer2.0.shortcut.0")
    'layer2'
    """
    if not isinstance(name, str):
        raise ValueError(f"name={name!r} is not allowed; allowed: a module name (str)")
    return name.split(".", 1)[0]


def stage_means(values: Mapping[str, Tensor | float | np.ndarray]) -> dict[str, Tensor | float | np.ndarray]:
    """Mean of the per-layer values of each stage (:func:`stage_of`), stages in first-seen order.

    Examples
    --------
    >>> stage_means({"layer2.0.conv1": 1.0, "layer2.0.shortcut.0": 3.0, "layer3.0.conv1": 5.0})
    {'layer2': 2.0, 'layer3': 5.0}
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"values must be a mapping of layer name -> value, got {type(values).__name__}")
    groups: dict[str, list] = {}
    keys: dict[str, list[str]] = {}
    for name, value in values.items():
        if not isinstance(value, (Tensor, np.ndarray)) and (
                isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
            raise ValueError(f"values[{name!r}]={value!r} is not allowed; allowed: a number, tensor or array")
        groups.setdefault(stage_of(name), []).append(value)
        keys.setdefault(stage_of(name), []).append(name)
    out: dict[str, Tensor | float | np.ndarray] = {}
    for stage, items in groups.items():
        kinds = {Tensor if isinstance(v, Tensor) else np.ndarray if isinstance(v, np.ndarray) else float
                 for v in items}
        shapes = {tuple(v.shape) for v in items if not isinstance(v, numbers.Real)}
        if len(kinds) > 1 or len(shapes) > 1:
            got = ", ".join(f"{k!r}: {type(v).__name__}{tuple(v.shape) if hasattr(v, 'shape') else ''}"
                            for k, v in zip(keys[stage], items))
            raise ValueError(f"values of stage {stage!r} differ in type or shape ({got}); allowed: one type and "
                             "shape per stage")
        if isinstance(items[0], Tensor):
            out[stage] = torch.stack(list(items)).mean(0)
        elif isinstance(items[0], np.ndarray):
            out[stage] = np.mean(np.stack(items), axis=0)
        else:
            out[stage] = float(sum(items) / len(items))
    return out
