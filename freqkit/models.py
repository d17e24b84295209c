"""The four parameterisations of Caro et al. 2024: FC, FKC, LKC and LC.

Every model is ``L`` hidden layers (``depth``), each followed by the
nonlinearity (identity for ``"linear"``, ReLU for ``"relu"``), then a linear
readout ``Linear(channels·H·W -> num_classes)``.  Every hidden layer maps
``(N, c_in, H, W) -> (N, c_out, H, W)`` (the size is preserved), so the flattened
index of an activation is ``(channel, row, col)`` in C order everywhere, and each
hidden layer can return its matrix with ``dense_matrix()``.

Parameterisations (``D = H·W``, ``c`` = ``channels``, ``k`` = ``kernel_size``)

``fc``
    Fully connected ``d × d`` with ``d = C·H·W``; the output is reshaped to
    ``(C, H, W)``.  ``channels`` is fixed to ``C``.
``fkc``
    Full-kernel circular convolution: ``k = H`` (the kernel covers the whole
    image), scaled by ``1/√D`` as in Gunasekar et al. 2018,
    ``y[o, i, j] = D^{-1/2} Σ_{c,a,b} w[o, c, a, b] · x[c, (i+a-p) mod H, (j+b-p) mod W]``.
    With the orthonormal DFT this makes the layer diagonal with entries
    ``conj(ŵ)`` (no extra factors), which is the reading we adopt.
``lkc``
    Local-kernel circular convolution, same formula with ``k <= H`` and no
    scaling.
``lc``
    Locally connected: the receptive field of ``lkc`` (circular) but an
    independent kernel at every output position, weight shape
    ``(H, W, c_out, c_in, k, k)``; ``D·c_out·c_in·k²`` weights.

Padding: all three local layers are cross-correlations (PyTorch ``conv2d``
semantics) on the circularly padded input with ``p = k // 2`` rows/cols before
and ``k - 1 - k // 2`` after, i.e. kernel tap ``(k//2, k//2)`` sits on the
output pixel.  For odd ``k`` this is exactly ``nn.Conv2d(padding="same",
padding_mode="circular")``; for even ``k`` PyTorch pads ``k//2 - 1`` before, so
its output is ours shifted by one pixel towards the origin in each axis.

Defaults and initialisation

* ``channels=None`` means ``C`` (the input channels) for every
  parameterisation, so all four models have the same hidden width
  ``d = C·H·W`` and differ only in the structure of the ``d × d`` map.
* ``kernel_size=None`` means ``H`` for ``fkc`` and ``3`` for ``lkc``/``lc``; it
  must be ``None`` for ``fc``.
* Every weight and bias is drawn ``U(-1/√fan_in, 1/√fan_in)`` -- PyTorch's
  default for ``Linear``/``Conv2d`` -- where ``fan_in`` is the fan-in of the
  *effective* linear map: ``d`` (fc), ``c_in·k²`` (lkc, lc), ``c_in·D`` (fkc, so
  the raw FKC weight, which is multiplied by ``1/√D``, is ``U(±1/√c_in)``).
  Hence each entry of the layer matrix has the same variance ``1/(3·fan_in)``
  in all four parameterisations.  Parameters are drawn in a fixed order from a
  ``torch.Generator`` seeded with ``seed`` (the global RNG when ``seed=None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from freqkit._validate import as_bool, as_int, as_real, check_choice
from freqkit.registry import Registry

__all__ = [
    "FFT_KERNEL_THRESHOLD",
    "MODELS",
    "NONLINEARITIES",
    "CircularConv",
    "FreqkitModel",
    "FullyConnected",
    "LocallyConnected",
    "ModelConfig",
    "circular_conv2d",
    "circular_pad",
    "create_model",
    "locally_connected2d",
]

#: ``circular_conv2d(method="auto")`` uses the FFT when ``kernel_size >= FFT_KERNEL_THRESHOLD``.
#: From ``bench/conv.py`` (batch 128, 16->16 channels, 28/32 px, 2 threads on a loaded
#: machine): direct wins clearly for k <= 7 (direct/fft 0.1-0.5), k = 9-11 is mixed
#: between runs (0.6-2.4), the FFT wins for every k >= 15 (2.5-40x).
FFT_KERNEL_THRESHOLD = 11

NONLINEARITIES = ("linear", "relu")

#: Registry of model factories by name (``fc``, ``fkc``, ``lc``, ``lkc``); use :func:`create_model`.
#:
#: :meta hide-value:
MODELS: Registry = Registry("model")

ConvMethod = Literal["auto", "fft", "direct"]


# --------------------------------------------------------------------------- convolution


def _pad_before_after(k: int) -> tuple[int, int]:
    return k // 2, k - 1 - k // 2


def _circular_pad(x: Tensor, kernel_size: int) -> Tensor:
    """:func:`circular_pad` without the argument checks (for callers that checked them)."""
    before, after = _pad_before_after(kernel_size)
    return F.pad(x, (before, after, before, after), mode="circular")


def circular_pad(x: Tensor, kernel_size: int) -> Tensor:
    """Circularly pad the last two axes by ``k//2`` before and ``k-1-k//2`` after.

    ``x`` is a ``(C, H, W)`` or ``(N, C, H, W)`` tensor and ``1 <= kernel_size <= min(H, W)``.

    Examples
    --------
    >>> circular_pad(torch.arange(4.0).reshape(1, 1, 2, 2), 2).shape
    torch.Size([1, 1, 3, 3])
    >>> circular_pad(torch.zeros(1, 1, 2, 2), 0)
    Traceback (most recent call last):
    ...
    ValueError: kernel_size=0 is not allowed; allowed: an integer >= 1 and <= 2
    """
    if not isinstance(x, Tensor) or x.ndim not in (3, 4):
        raise ValueError(f"x must be a tensor of shape (C, H, W) or (N, C, H, W); "
                         f"got {tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    kernel_size = as_int(kernel_size, "kernel_size", minimum=1, maximum=min(x.shape[-2:]))
    return _circular_pad(x, kernel_size)


def _check_conv_args(x: Tensor, weight: Tensor) -> tuple[int, int]:
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W); got "
                         f"{f'shape {tuple(x.shape)}' if isinstance(x, Tensor) else type(x).__name__}")
    if not isinstance(weight, Tensor):
        raise ValueError(  # noqa: TRY004 - the API's bad-input error is a ValueError
            f"weight must be a tensor of shape (C_out, C_in, k, k); got {type(weight).__name__}")
    if weight.ndim != 4 or weight.shape[-1] != weight.shape[-2]:
        raise ValueError(
            f"weight must have shape (C_out, C_in, k, k); got shape {tuple(weight.shape)}"
        )
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has {weight.shape[1]} input channels but x has {x.shape[1]} channels"
        )
    k = weight.shape[-1]
    h, w = x.shape[-2:]
    if k > min(h, w):
        raise ValueError(f"kernel_size={k} is larger than the image {h}x{w}; allowed: k <= {min(h, w)}")
    if k < 1:
        raise ValueError(f"kernel_size={k} (weight of shape {tuple(weight.shape)}) is not allowed; allowed: k >= 1")
    if x.dtype != weight.dtype or x.device != weight.device:
        raise ValueError(
            f"x ({x.dtype}, {x.device}) and weight ({weight.dtype}, {weight.device}) must have the same dtype "
            "and device"
        )
    if not x.is_floating_point():
        raise ValueError(f"x and weight have dtype {str(x.dtype).replace('torch.', '')}; allowed: a floating dtype")
    return h, w


def circular_conv2d(x: Tensor, weight: Tensor, *, method: ConvMethod = "auto") -> Tensor:
    """Circular, size-preserving 2-D cross-correlation (no bias, no scaling).

    ``y[n, o, i, j] = Σ_{c,a,b} weight[o, c, a, b] · x[n, c, (i+a-p) mod H, (j+b-p) mod W]``
    with ``p = k // 2``.

    Parameters
    ----------
    x : Tensor
        ``(N, C_in, H, W)``.
    weight : Tensor
        ``(C_out, C_in, k, k)`` with ``k <= min(H, W)``.
    method : {"auto", "fft", "direct"}
        ``"direct"``: circular ``F.pad`` + ``F.conv2d``.  ``"fft"``: the kernel is
        zero-padded to ``H × W`` (rolled so that tap ``(p, p)`` sits at the
        origin), then ``irfft2(rfft2(x) · conj(rfft2(kernel)))`` summed over
        input channels (``_mix_channels``).  ``"auto"``: FFT iff ``k >= FFT_KERNEL_THRESHOLD``.
        Both are differentiable twice; ``"direct"`` computes its input gradient
        as one forward convolution (:class:`_CircularConvDirect`).

    Returns
    -------
    Tensor
        ``(N, C_out, H, W)``.

    Examples
    --------
    >>> x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    >>> w = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    >>> y = circular_conv2d(x, w, method="fft")
    >>> y.shape
    torch.Size([2, 4, 8, 8])
    >>> torch.allclose(y, circular_conv2d(x, w, method="direct"))
    True
    """
    h, w = _check_conv_args(x, weight)
    k = weight.shape[-1]
    if method == "auto":
        method = "fft" if k >= FFT_KERNEL_THRESHOLD else "direct"
    if method == "direct":
        return _CircularConvDirect.apply(x, weight)
    if method == "fft":
        p = k // 2
        kernel = F.pad(weight, (0, w - k, 0, h - k))
        kernel = torch.roll(kernel, shifts=(-p, -p), dims=(-2, -1))
        y_hat = _mix_channels(torch.fft.rfft2(x), torch.fft.rfft2(kernel))
        return torch.fft.irfft2(y_hat, s=(h, w))
    raise ValueError(f"method={method!r} is not allowed; allowed: 'auto', 'fft', 'direct'")


class _CircularConvDirect(torch.autograd.Function):
    """``F.conv2d(circular_pad(x, k), w)`` whose input gradient is one forward convolution.

    Autograd of that composition runs oneDNN's backward-data convolution (slow
    for few channels: 5-15x the forward at 1-8 channels) and the backward of the
    circular ``F.pad`` (slice copies, up to 10x the pad).  The adjoint of a
    circular cross-correlation is the circular cross-correlation of the output
    gradient, padded the mirrored way (``k-1-p`` before, ``p`` after), with the
    kernel flipped and its channel axes swapped.  The weight gradient reuses the
    padded input saved by the forward; when a graph is being built
    (``create_graph=True``) it re-pads ``x`` instead, so that the backward is a
    differentiable function of the inputs and double backward stays correct.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:  # type: ignore[override]
        padded = _circular_pad(x, weight.shape[-1])
        ctx.save_for_backward(x, weight, padded)
        return F.conv2d(padded, weight)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None]:  # type: ignore[override]
        x, weight, padded = ctx.saved_tensors
        k = weight.shape[-1]
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            before, after = _pad_before_after(k)
            grad_padded = F.pad(grad_y, (after, before, after, before), mode="circular")
            grad_x = F.conv2d(grad_padded, weight.transpose(0, 1).flip(-2, -1))
        if ctx.needs_input_grad[1]:
            if torch.is_grad_enabled():  # create_graph: the padding must be a function of x
                padded = _circular_pad(x, k)
            grad_w = torch.ops.aten.convolution_backward(
                grad_y, padded, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [False, True, False]
            )[1]
        return grad_x, grad_w


#: ``_mix_channels`` multiplies elementwise (broadcast) up to this ``c_in·c_out``, else by a batched GEMM.
_MIX_BROADCAST_MAX = 16


def _mix_channels(x_hat: Tensor, k_hat: Tensor) -> Tensor:
    """``y_hat[n, o] = Σ_c x_hat[n, c] · conj(k_hat[o, c])`` at every frequency.

    ``x_hat (N, C_in, H, F)`` and ``k_hat (C_out, C_in, H, F)`` complex.  Few
    channels: one broadcast multiply and sum.  Otherwise a real batched matrix
    product over the ``H·F`` frequencies, ``[Re x | Im x] (N × 2C_in)`` times the
    real ``2C_in × 2C_out`` block form of ``conj(k_hat)ᵀ``.  (``torch.einsum`` on
    the complex tensors hands ``bmm`` strided operands, which it multiplies one
    frequency at a time: 2-3x slower, forward and backward.)
    """
    n, c_in, h, f = x_hat.shape
    c_out = k_hat.shape[0]
    if c_in * c_out <= _MIX_BROADCAST_MAX:
        return (x_hat.unsqueeze(1) * k_hat.conj().unsqueeze(0)).sum(2)
    x_real = torch.view_as_real(x_hat).permute(2, 3, 0, 4, 1).reshape(h * f, n, 2 * c_in)  # [Re | Im]
    k_real = torch.view_as_real(k_hat).permute(2, 3, 1, 0, 4).reshape(h * f, c_in, c_out, 2)
    re, im = k_real[..., 0], k_real[..., 1]
    # Re y = Re x·Re k + Im x·Im k,  Im y = Im x·Re k - Re x·Im k   (k conjugated)
    block = torch.cat([torch.cat([re, -im], 2), torch.cat([im, re], 2)], 1)  # (H·F, 2C_in, 2C_out)
    y = torch.bmm(x_real, block).view(h, f, n, 2, c_out).permute(2, 4, 0, 1, 3)
    return torch.view_as_complex(y.contiguous())


def _local_dense(weight: Tensor, height: int, width: int, out_channel: int | None) -> Tensor:
    """Dense matrix of a circular local map from per-position kernels by index arithmetic.

    ``weight`` has shape ``(c_out, c_in, H, W, k, k)`` (kernel of output pixel
    ``(i, j)``); the entry for output ``(o, i, j)`` and input
    ``(c, (i+a-p) mod H, (j+b-p) mod W)`` is ``weight[o, c, i, j, a, b]``.
    Distinct taps hit distinct input pixels because ``k <= H, W``.
    """
    if out_channel is not None:
        weight = weight[out_channel : out_channel + 1]
    c_out, c_in, _, _, k, _ = weight.shape
    p = k // 2
    dev = weight.device
    i = torch.arange(height, device=dev).view(height, 1, 1, 1)
    j = torch.arange(width, device=dev).view(1, width, 1, 1)
    a = torch.arange(k, device=dev).view(1, 1, k, 1)
    b = torch.arange(k, device=dev).view(1, 1, 1, k)
    rows = (i * width + j).expand(height, width, k, k)
    cols = (((i + a - p) % height) * width + (j + b - p) % width).expand(height, width, k, k)
    dense = weight.new_zeros(c_out, c_in, height * width, height * width)
    dense[:, :, rows, cols] = weight
    return dense.permute(0, 2, 1, 3).reshape(c_out * height * width, c_in * height * width)


# --------------------------------------------------------------------------- locally connected


def _lc_weight_storage(weight: Tensor) -> Tensor:
    """``weight (H, W, c_out, c_in, k, k)`` as a contiguous ``(k_a, H·W, c_out, k_b·c_in)`` tensor.

    A view (no copy) when the weight is stored in the layer's native order
    (:class:`LocallyConnected` allocates it so); a copy otherwise.
    """
    h, w, c_out, c_in, k, _ = weight.shape
    per_tap_row = weight.permute(4, 0, 1, 2, 5, 3)  # (k_a, H, W, c_out, k_b, c_in)
    if not per_tap_row.is_contiguous():
        per_tap_row = per_tap_row.contiguous()
    return per_tap_row.view(k, h * w, c_out, k * c_in)


_LC_INDEX_CACHE: dict[tuple[bool, int, int, int, int, str], Tensor] = {}


def _lc_unfold_index(full: bool, channels: int, height: int, width: int, k: int, device: torch.device) -> Tensor:
    """Rows of the channel-major ``(C·H·W, N)`` input that form its unfolded copy ``U``.

    Row-unfolded (``full=False``): entry ``((i', j, b), c)`` (C order over
    ``(H+k-1, W, k, C)``) is the row of ``x[:, c, (i' - p) mod H, (j + b - p) mod W]``,
    i.e. the input is padded circularly by ``p = k // 2`` rows before and
    ``k - 1 - p`` after and every pixel is followed by its ``k - 1`` right
    neighbours.  Fully unfolded (``full=True``): entry ``((i, j, a, b), c)`` over
    ``(H, W, k, k, C)`` is the row of ``x[:, c, (i + a - p) mod H, (j + b - p) mod W]``.
    """
    key = (full, channels, height, width, k, str(device))
    index = _LC_INDEX_CACHE.get(key)
    if index is None:
        p = k // 2
        ar = lambda size: torch.arange(size, device=device)
        c = ar(channels)
        b = ar(k).view(-1, 1)
        if full:
            i, j, a = ar(height).view(-1, 1, 1, 1, 1), ar(width).view(-1, 1, 1, 1), ar(k).view(-1, 1, 1)
            rows = (i + a - p) % height
        else:
            rows = (ar(height + k - 1) - p).remainder(height).view(-1, 1, 1, 1)
            j = ar(width).view(-1, 1, 1)
        index = (c * (height * width) + rows * width + (j + b - p) % width).reshape(-1)
        if len(_LC_INDEX_CACHE) >= 64:
            _LC_INDEX_CACHE.clear()
        _LC_INDEX_CACHE[key] = index
    return index


#: Below this ``c_out·k·c_in·N`` (the size of each per-pixel product of the row-unfolded
#: scheme) ``torch.bmm`` uses a naive loop instead of MKL on the CPU (its threshold is
#: ``contraction·rows·cols < 400``); :func:`locally_connected2d` then unfolds fully, one
#: product with ``k²·c_in`` instead of ``k`` with ``k·c_in``.
_LC_FULL_UNFOLD_BELOW = 400


_OMATCOPY: dict[torch.dtype, object] | None = None


def _mkl_omatcopy() -> dict[torch.dtype, object]:
    """MKL's out-of-place transposes ``MKL_{S,D}omatcopy`` from the MKL inside PyTorch's CPU library.

    About twice as fast as PyTorch's own transpose copy (scalar 60x60 blocks) on
    the matrices :func:`locally_connected2d` transposes.  Looked up once with
    ``ctypes``; an empty dict (PyTorch's copy is used) when PyTorch has no MKL
    or does not export the symbols.
    """
    global _OMATCOPY
    if _OMATCOPY is None:
        _OMATCOPY = {}
        if torch.backends.mkl.is_available():
            try:
                import ctypes
                import os

                library = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
                for dtype, name, scalar in ((torch.float32, "MKL_Somatcopy", ctypes.c_float),
                                            (torch.float64, "MKL_Domatcopy", ctypes.c_double)):
                    fn = getattr(library, name)
                    fn.restype = None
                    fn.argtypes = [ctypes.c_char, ctypes.c_char, ctypes.c_size_t, ctypes.c_size_t, scalar,
                                   ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
                    _OMATCOPY[dtype] = fn
            except (OSError, AttributeError):
                _OMATCOPY = {}
    return _OMATCOPY


def _transpose_2d(x: Tensor) -> Tensor:
    """Contiguous transpose of a 2-D tensor: MKL's ``omatcopy`` for big contiguous CPU float
    matrices (:func:`_mkl_omatcopy`), else PyTorch's transpose copy.  Exact either way."""
    rows, cols = x.shape
    if x.device.type == "cpu" and x.is_contiguous() and rows * cols >= 1 << 14:
        fn = _mkl_omatcopy().get(x.dtype)
        if fn is not None:
            out = x.new_empty(cols, rows)
            fn(b"R", b"T", rows, cols, 1.0, x.data_ptr(), cols, out.data_ptr(), rows)
            return out
    return x.t().contiguous()


class _LocallyConnectedFunction(torch.autograd.Function):
    """Forward and backward of :func:`locally_connected2d` as batched matrix products.

    Layout: activations are transposed to channel-major ``(C·H·W, N)`` (batch
    innermost) and gathered into the *row-unfolded* tensor
    ``U (H+k-1, W, k, C, N)``, ``U[i', j, b, c] = x[:, c, (i'-p) mod H, (j+b-p) mod W]``.
    For kernel row ``a`` the ``(k·C) × N`` input matrix of output pixel
    ``q = i·W + j`` is then the contiguous block ``U[i + a, j]`` and the ``H·W``
    blocks of one ``a`` are one contiguous slice, so

    * forward: ``y_q = Σ_a w_{a,q} U_{a,q}`` (``k`` ``bmm`` over the ``H·W`` positions),
    * weight gradient: ``∂w_{a,q} = ∂y_q U_{a,q}ᵀ`` (``k`` ``bmm``),
    * input gradient: ``∂U_{a,q} += w_{a,q}ᵀ ∂y_q`` (``k`` ``bmm``), then the
      adjoint of the gather (``index_add_``) folds ``∂U`` back onto ``x``.

    with ``w_{a,q}`` the ``c_out × (k·C)`` block of kernel row ``a`` at pixel
    ``q`` (see :func:`_lc_weight_storage`).  When those products are tiny
    (``c_out·k·C·N < _LC_FULL_UNFOLD_BELOW``) the input is unfolded fully
    instead (``(H·W, k²·C, N)``, one product per pass; the small weight is then
    copied into ``(H·W, c_out, k²·C)``).  Only ``x`` (transposed) and the weight
    are saved; ``U`` is rebuilt in the backward (``k``-times smaller memory than
    keeping it, one gather more).
    """

    @staticmethod
    def _plan(weight: Tensor, n: int) -> tuple[bool, int, Tensor]:
        """(full unfold?, tap rows per product pass, weight blocks ``(rows, H·W, c_out, K)``)."""
        h, w, c_out, c_in, k, _ = weight.shape
        if c_out * k * c_in * n >= _LC_FULL_UNFOLD_BELOW or k == 1:
            return False, k, _lc_weight_storage(weight)
        blocks = weight.permute(0, 1, 2, 4, 5, 3).reshape(1, h * w, c_out, k * k * c_in)  # (a, b, c) order
        return True, 1, blocks

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:  # type: ignore[override]
        h, w, c_out, c_in, k, _ = weight.shape
        n = x.shape[0]
        positions = h * w
        full, rows, w_blocks = _LocallyConnectedFunction._plan(weight, n)
        x_cm = _transpose_2d(x.reshape(n, c_in * positions))  # (c_in·H·W, N)
        index = _lc_unfold_index(full, c_in, h, w, k, x.device)
        unfolded = torch.index_select(x_cm, 0, index).view(-1, w_blocks.shape[-1], n)
        y = x.new_empty(positions, c_out, n)
        for a in range(rows):
            block = unfolded[a * w : a * w + positions]
            if a == 0:
                torch.bmm(w_blocks[0], block, out=y)
            else:
                y.baddbmm_(w_blocks[a], block)
        ctx.save_for_backward(x_cm, weight)
        # (H·W, c_out, N) -> (c_out, N, H·W) -> (N, c_out, H, W)
        y = _transpose_2d(y.view(positions, c_out * n)).view(c_out, n, h, w)
        return y.transpose(0, 1).contiguous()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None]:  # type: ignore[override]
        x_cm, weight = ctx.saved_tensors
        h, w, c_out, c_in, k, _ = weight.shape
        n = grad_y.shape[0]
        positions = h * w
        full, rows, w_blocks = _LocallyConnectedFunction._plan(weight, n)
        width = w_blocks.shape[-1]  # k·c_in, or k²·c_in when fully unfolded
        # (N, c_out·H·W) -> (c_out, H·W, N), used as the strided (H·W, c_out, N) batch
        g = _transpose_2d(grad_y.reshape(n, c_out * positions)).view(c_out, positions, n).transpose(0, 1)
        index = _lc_unfold_index(full, c_in, h, w, k, grad_y.device)
        grad_x = grad_w = None
        if ctx.needs_input_grad[1]:
            unfolded = torch.index_select(x_cm, 0, index).view(-1, width, n)
            grad_blocks = grad_y.new_empty(rows, positions, c_out, width)
            for a in range(rows):
                torch.bmm(g, unfolded[a * w : a * w + positions].transpose(1, 2), out=grad_blocks[a])
            if full:  # (H, W, c_out, a, b, c_in) -> (H, W, c_out, c_in, a, b)
                grad_w = grad_blocks.view(h, w, c_out, k, k, c_in).permute(0, 1, 2, 5, 3, 4)
            else:  # back to (H, W, c_out, c_in, k, k) with the same strides as the native weight
                grad_w = grad_blocks.view(k, h, w, c_out, k, c_in).permute(1, 2, 3, 5, 0, 4)
        if ctx.needs_input_grad[0]:
            grad_unfolded = grad_y.new_empty(index.numel() // width, width, n)
            grad_unfolded[positions:].zero_()  # rows no product writes (row-unfolded only)
            for a in range(rows):
                block = grad_unfolded[a * w : a * w + positions]
                if a == 0:
                    torch.bmm(w_blocks[0].transpose(1, 2), g, out=block)
                else:
                    block.baddbmm_(w_blocks[a].transpose(1, 2), g)
            grad_x_cm = grad_y.new_zeros(c_in * positions, n).index_add_(0, index, grad_unfolded.view(-1, n))
            grad_x = _transpose_2d(grad_x_cm).view(n, c_in, h, w)
        return grad_x, grad_w


def locally_connected2d(x: Tensor, weight: Tensor) -> Tensor:
    """Circular locally connected map (no bias): an independent ``k × k`` kernel per output pixel.

    ``y[n, o, i, j] = Σ_{c,a,b} weight[i, j, o, c, a, b] · x[n, c, (i+a-p) mod H, (j+b-p) mod W]``
    with ``p = k // 2`` (the padding convention of :func:`circular_conv2d`).

    Computed as ``3k`` batched matrix products over the ``H·W`` positions
    (``k`` for the forward, ``k`` each for the weight and input gradients) on a
    row-unfolded, batch-innermost copy of ``x`` (``k`` times the input, not the
    ``k²`` of a full ``unfold``); no Python loop over positions.  Fastest when
    ``weight`` is stored in :class:`LocallyConnected`'s native memory order
    (any other layout is copied once per call).  Differentiable once (no
    double backward).

    Parameters
    ----------
    x : Tensor
        ``(N, C_in, H, W)``.
    weight : Tensor
        ``(H, W, C_out, C_in, k, k)`` with ``k <= min(H, W)``, same dtype and device as ``x``.

    Returns
    -------
    Tensor
        ``(N, C_out, H, W)``, contiguous.

    Examples
    --------
    >>> x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    >>> shared = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    >>> per_pixel = shared.expand(5, 5, 4, 3, 3, 3)  # the same kernel everywhere = a convolution
    >>> torch.allclose(locally_connected2d(x, per_pixel), circular_conv2d(x, shared))
    True
    """
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a tensor of shape (N, C_in, H, W); got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(weight, Tensor) or weight.ndim != 6 or weight.shape[-1] != weight.shape[-2]:
        raise ValueError(
            f"weight must have shape (H, W, C_out, C_in, k, k); got {tuple(getattr(weight, 'shape', ()))}"
        )
    h, w, _, c_in, k, _ = weight.shape
    if tuple(x.shape[1:]) != (c_in, h, w):
        raise ValueError(
            f"x has shape {tuple(x.shape)}; allowed: (N, {c_in}, {h}, {w}) for a weight of shape {tuple(weight.shape)}"
        )
    if not 1 <= k <= min(h, w):
        raise ValueError(f"kernel_size={k} is not allowed for a {h}x{w} image; allowed: 1 <= k <= {min(h, w)}")
    if x.dtype != weight.dtype or x.device != weight.device:
        raise ValueError(
            f"x ({x.dtype}, {x.device}) and weight ({weight.dtype}, {weight.device}) must have the same dtype and device"
        )
    return _LocallyConnectedFunction.apply(x, weight)


# --------------------------------------------------------------------------- layers


def _check_generator(generator: object) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator={generator!r} is not allowed; allowed: None or a torch.Generator")


def _check_local_layer_args(
    in_channels: object, out_channels: object, kernel_size: object, image_size: object, bias: object,
    generator: object,
) -> tuple[int, int, int, int, bool]:
    """The shared constructor checks of :class:`CircularConv` and :class:`LocallyConnected`."""
    in_channels = as_int(in_channels, "in_channels", minimum=1)
    out_channels = as_int(out_channels, "out_channels", minimum=1)
    image_size = as_int(image_size, "image_size", minimum=1)
    kernel_size = as_int(kernel_size, "kernel_size", minimum=1, maximum=image_size)
    _check_generator(generator)
    return in_channels, out_channels, kernel_size, image_size, as_bool(bias, "bias")


def _uniform_(t: Tensor, fan_in: int, generator: torch.Generator | None, scale: float = 1.0) -> None:
    """``t ~ U(-b, b)`` with ``b = 1/(scale·√fan_in)``, so ``scale·t`` has PyTorch's default bound."""
    bound = 1.0 / (scale * math.sqrt(fan_in))
    with torch.no_grad():
        t.uniform_(-bound, bound, generator=generator)


class FullyConnected(nn.Module):
    """Fully connected ``d × d`` layer on ``(C, H, W)`` activations, ``d = C·H·W``.

    Examples
    --------
    >>> layer = FullyConnected((1, 2, 2))
    >>> layer(torch.randn(3, 1, 2, 2)).shape
    torch.Size([3, 1, 2, 2])
    >>> torch.equal(layer.dense_matrix(), layer.weight)
    True
    >>> FullyConnected((1, 0, 2))
    Traceback (most recent call last):
    ...
    ValueError: shape=(1, 0, 2) is not allowed; allowed: (C, H, W), integers >= 1
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        *,
        bias: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(shape, (tuple, list)) or len(shape) != 3:
            raise ValueError(f"shape={shape!r} is not allowed; allowed: (C, H, W), integers >= 1")
        try:
            shape = tuple(as_int(v, "shape", minimum=1) for v in shape)
        except ValueError:
            raise ValueError(f"shape={shape!r} is not allowed; allowed: (C, H, W), integers >= 1") from None
        bias = as_bool(bias, "bias")
        _check_generator(generator)
        super().__init__()
        self.in_shape = self.out_shape = tuple(shape)
        d = math.prod(shape)
        self.weight = nn.Parameter(torch.empty(d, d))
        self.bias = nn.Parameter(torch.empty(d)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch-default uniform init with ``fan_in = d``."""
        _uniform_(self.weight, self.weight.shape[1], generator)
        if self.bias is not None:
            _uniform_(self.bias, self.weight.shape[1], generator)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x.flatten(-3), self.weight, self.bias).unflatten(-1, self.out_shape)

    def dense_matrix(self, out_channel: int | None = None) -> Tensor:
        """The weight itself (rows of one output channel if ``out_channel`` is given)."""
        if out_channel is None:
            return self.weight
        n = self.out_shape[1] * self.out_shape[2]
        return self.weight[out_channel * n : (out_channel + 1) * n]


class CircularConv(nn.Module):
    """Weight-shared circular convolution, ``scale · circular_conv2d(x, weight) + bias``.

    ``fkc`` uses ``kernel_size = H`` and ``scale = 1/√(H·W)``; ``lkc`` uses ``scale = 1``.

    Examples
    --------
    >>> layer = CircularConv(1, 2, kernel_size=3, image_size=4)
    >>> x = torch.randn(5, 1, 4, 4)
    >>> torch.allclose(layer(x).flatten(1), x.flatten(1) @ layer.dense_matrix().T, atol=1e-6)
    True
    >>> CircularConv(1, 2, kernel_size=3, image_size=4, bias="no")
    Traceback (most recent call last):
    ...
    ValueError: bias='no' is not allowed; allowed: True or False
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        image_size: int,
        scale: float = 1.0,
        bias: bool = False,
        method: ConvMethod = "auto",
        generator: torch.Generator | None = None,
    ) -> None:
        in_channels, out_channels, kernel_size, image_size, bias = _check_local_layer_args(
            in_channels, out_channels, kernel_size, image_size, bias, generator)
        scale = as_real(scale, "scale", minimum=0, min_open=True)
        method = check_choice(method, "method", ("auto", "fft", "direct"))
        super().__init__()
        self.in_shape = (in_channels, image_size, image_size)
        self.out_shape = (out_channels, image_size, image_size)
        self.kernel_size = kernel_size
        self.scale = scale
        self.method = method
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``scale·weight ~ U(±1/√fan_in)`` with ``fan_in = c_in·k²`` (``c_in·D`` for a full kernel)."""
        fan_in = self.in_shape[0] * self.kernel_size**2
        _uniform_(self.weight, fan_in, generator, scale=self.scale)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, generator)

    def forward(self, x: Tensor) -> Tensor:
        y = circular_conv2d(x, self.weight, method=self.method)
        if self.scale != 1.0:
            y = y * self.scale
        if self.bias is not None:
            y = y + self.bias[:, None, None]
        return y

    def dense_matrix(self, out_channel: int | None = None) -> Tensor:
        """Block-circulant matrix ``(c_out·H·W, c_in·H·W)`` built from the weight by index arithmetic."""
        _, h, w = self.in_shape
        weight = self.weight * self.scale
        per_position = weight[:, :, None, None].expand(-1, -1, h, w, -1, -1)
        return _local_dense(per_position, h, w, out_channel)


class LocallyConnected(nn.Module):
    """Circular locally connected layer: an independent ``k × k`` kernel per output pixel.

    ``y[n, o, i, j] = Σ_{c,a,b} weight[i, j, o, c, a, b] · x[n, c, (i+a-p) mod H, (j+b-p) mod W] (+ bias[o, i, j])``,
    computed by :func:`locally_connected2d` (batched matrix products over the positions).

    ``weight`` has shape ``(H, W, c_out, c_in, k, k)`` but is *stored* in the
    order ``(k_a, H, W, c_out, k_b, c_in)`` (it is a permuted view of that
    buffer), the order the matrix products read it in, so neither the forward
    nor the weight gradient copies it.  Values, shape, ``state_dict`` keys and
    checkpoints are unaffected (``load_state_dict`` copies into the buffer); a
    weight replaced by a tensor in another memory order still works, with one
    copy per call.

    Examples
    --------
    >>> layer = LocallyConnected(2, 3, kernel_size=3, image_size=5)
    >>> layer.weight.shape
    torch.Size([5, 5, 3, 2, 3, 3])
    >>> layer(torch.randn(4, 2, 5, 5)).shape
    torch.Size([4, 3, 5, 5])
    >>> LocallyConnected(2, 3, kernel_size=7, image_size=5)
    Traceback (most recent call last):
    ...
    ValueError: kernel_size=7 is not allowed; allowed: an integer >= 1 and <= 5
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        image_size: int,
        bias: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        in_channels, out_channels, kernel_size, image_size, bias = _check_local_layer_args(
            in_channels, out_channels, kernel_size, image_size, bias, generator)
        super().__init__()
        n, k = image_size, kernel_size
        self.in_shape = (in_channels, n, n)
        self.out_shape = (out_channels, n, n)
        self.kernel_size = k
        storage = torch.empty(k, n, n, out_channels, k, in_channels)  # (k_a, H, W, c_out, k_b, c_in)
        self.weight = nn.Parameter(storage.permute(1, 2, 3, 5, 0, 4))  # (H, W, c_out, c_in, k_a, k_b)
        self.bias = nn.Parameter(torch.empty(out_channels, n, n)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch-default uniform init with ``fan_in = c_in·k²``.

        The weight is drawn in the C order of its shape ``(H, W, c_out, c_in, k, k)``
        (into a contiguous buffer, then copied), so the values do not depend on
        the storage order.
        """
        fan_in = self.in_shape[0] * self.kernel_size**2
        drawn = torch.empty(self.weight.shape, dtype=self.weight.dtype, device=self.weight.device)
        _uniform_(drawn, fan_in, generator)
        with torch.no_grad():
            self.weight.copy_(drawn)
        if self.bias is not None:
            _uniform_(self.bias, fan_in, generator)

    def forward(self, x: Tensor) -> Tensor:
        y = locally_connected2d(x, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y

    def dense_matrix(self, out_channel: int | None = None) -> Tensor:
        """Block-sparse matrix ``(c_out·H·W, c_in·H·W)`` built from the weight by index arithmetic."""
        _, h, w = self.in_shape
        per_position = self.weight.permute(2, 3, 0, 1, 4, 5)  # (c_out, c_in, H, W, k, k)
        return _local_dense(per_position, h, w, out_channel)


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ModelConfig:
    """Resolved arguments of :func:`create_model` (``channels`` and ``kernel_size`` filled in).

    ``create_model(**dataclasses.asdict(config))`` rebuilds the model.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    depth: int = 1
    nonlinearity: str = "linear"
    channels: int | None = None
    kernel_size: int | None = None
    bias: bool = False
    seed: int | None = None


class FreqkitModel(nn.Module):
    """Hidden layers (each followed by the nonlinearity) then a linear readout.

    Attributes
    ----------
    hidden : nn.ModuleList
        Hidden layers, each with ``dense_matrix()``, ``in_shape`` and ``out_shape``.
    readout : nn.Linear
        ``channels·H·W -> num_classes``.
    nonlinearity : str
        ``"linear"`` or ``"relu"``.
    input_shape : tuple[int, int, int]
    config : ModelConfig
    """

    def __init__(self, hidden: list[nn.Module], readout: nn.Linear, config: ModelConfig) -> None:
        super().__init__()
        self.hidden = nn.ModuleList(hidden)
        self.readout = readout
        self.nonlinearity = config.nonlinearity
        self.input_shape = tuple(config.input_shape)
        self.config = config

    @property
    def is_linear(self) -> bool:
        """True when there is no nonlinearity (the model is a linear/affine map)."""
        return self.nonlinearity == "linear"

    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is a ``(N, C, H, W)`` tensor of this model's shape and dtype.

        Examples
        --------
        >>> model = create_model("fc", input_shape=(1, 4, 4), num_classes=2, seed=0)
        >>> model(torch.zeros(3, 1, 5, 5))
        Traceback (most recent call last):
        ...
        ValueError: x has shape (3, 1, 5, 5); allowed: (N, 1, 4, 4) (the model's input_shape)
        """
        if not isinstance(x, Tensor):
            raise ValueError(f"x must be a torch.Tensor of shape (N, {', '.join(map(str, self.input_shape))}), "
                             f"got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x has shape {tuple(x.shape)}; allowed: "
                             f"(N, {', '.join(map(str, self.input_shape))}) (the model's input_shape)")
        dtype = self.readout.weight.dtype
        if x.dtype != dtype:
            hint = f"x.to({dtype})" + (f" or the model with model.to({x.dtype})" if x.is_floating_point() else "")
            raise ValueError(f"x has dtype {x.dtype}; allowed: {dtype} (the model's parameters; convert {hint})")

    def features(self, x: Tensor) -> Tensor:
        """Activations of the last hidden layer, ``(N, channels, H, W)``."""
        self.check_input(x)
        for layer in self.hidden:
            x = layer(x)
            if self.nonlinearity == "relu":
                x = F.relu(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.features(x).flatten(-3))


def _check_positive_int(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """``value`` as a Python int >= 1 (NumPy integers accepted), else ValueError."""
    if value is None and allow_none:
        return None
    try:
        return as_int(value, name, minimum=1)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not allowed; allowed: a positive integer") from None


def _resolve(
    name: str,
    input_shape: tuple[int, ...],
    channels: int | None,
    kernel_size: int | None,
) -> tuple[int, int | None]:
    c, h, _ = input_shape
    if name == "fc":
        if channels not in (None, c):
            raise ValueError(f"channels={channels!r} is not allowed for 'fc' (width is C·H·W); allowed: None or {c}")
        if kernel_size is not None:
            raise ValueError(f"kernel_size={kernel_size!r} is not allowed for 'fc'; allowed: None")
        return c, None
    channels = _check_positive_int("channels", channels, allow_none=True)
    channels = c if channels is None else channels
    if name == "fkc":
        if kernel_size not in (None, h):
            raise ValueError(f"kernel_size={kernel_size!r} is not allowed for 'fkc'; allowed: None or {h} (image size)")
        return channels, h
    kernel_size = 3 if kernel_size is None else kernel_size
    try:
        kernel_size = as_int(kernel_size, "kernel_size", minimum=1, maximum=h)
    except ValueError:
        raise ValueError(f"kernel_size={kernel_size!r} is not allowed; allowed: an integer 1 <= k <= {h} (image size)") from None
    return channels, kernel_size


def create_model(
    name: str,
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    depth: int = 1,
    nonlinearity: str = "linear",
    channels: int | None = None,
    kernel_size: int | None = None,
    bias: bool = False,
    seed: int | None = None,
) -> FreqkitModel:
    """Build one of the registered parameterisations (``MODELS.names()``).

    Parameters
    ----------
    name : {"fc", "fkc", "lc", "lkc"}
    input_shape : (C, H, W)
        Square images only (``H == W``).
    num_classes : int
    depth : int
        Number of hidden layers ``L >= 1``.
    nonlinearity : {"linear", "relu"}
    channels : int, optional
        Channels of every hidden layer (default ``C``; must be ``C`` for ``fc``).
    kernel_size : int, optional
        ``1 <= k <= H`` for ``lkc``/``lc`` (default 3); ``H`` for ``fkc``; ``None`` for ``fc``.
    bias : bool
        Biases in all layers (default False, so linear models are exactly linear).
    seed : int, optional
        Seed of the initialisation (``None``: global RNG).

    Examples
    --------
    >>> model = create_model("lkc", input_shape=(1, 8, 8), num_classes=10, depth=2, kernel_size=3, seed=0)
    >>> model(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 10])
    >>> model.config.channels, model.is_linear
    (1, True)
    """
    factory = MODELS.get(name)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape!r} is not allowed; allowed: (C, H, W)")
    c, h, w = (_check_positive_int(f"input_shape[{i}]", v) for i, v in enumerate(input_shape))
    if h != w:
        raise ValueError(f"input_shape={tuple(input_shape)!r} is not square; allowed: H == W")
    num_classes = _check_positive_int("num_classes", num_classes)
    depth = _check_positive_int("depth", depth)
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity={nonlinearity!r} is not allowed; allowed: {', '.join(NONLINEARITIES)}")
    bias = as_bool(bias, "bias")
    seed = as_int(seed, "seed", minimum=0, allow_none=True)
    channels, kernel_size = _resolve(name, (c, h, w), channels, kernel_size)
    config = ModelConfig(
        name=name,
        input_shape=(c, h, w),
        num_classes=num_classes,
        depth=depth,
        nonlinearity=nonlinearity,
        channels=channels,
        kernel_size=kernel_size,
        bias=bias,
        seed=seed,
    )
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    hidden = [factory(config, c if i == 0 else channels, generator) for i in range(depth)]
    # built on "meta" so that nn.Linear's own init does not consume the global RNG
    readout = nn.Linear(channels * h * w, num_classes, bias=bias, device="meta").to_empty(device="cpu")
    _uniform_(readout.weight, channels * h * w, generator)
    if readout.bias is not None:
        _uniform_(readout.bias, channels * h * w, generator)
    return FreqkitModel(hidden, readout, config)


@MODELS.register("fc")
def _fc(config: ModelConfig, in_channels: int, generator: torch.Generator | None) -> nn.Module:
    return FullyConnected(config.input_shape, bias=config.bias, generator=generator)


@MODELS.register("fkc")
def _fkc(config: ModelConfig, in_channels: int, generator: torch.Generator | None) -> nn.Module:
    n = config.input_shape[1]
    return CircularConv(
        in_channels,
        config.channels,
        kernel_size=n,
        image_size=n,
        scale=1.0 / n,  # 1/√D with D = n²
        bias=config.bias,
        generator=generator,
    )


@MODELS.register("lkc")
def _lkc(config: ModelConfig, in_channels: int, generator: torch.Generator | None) -> nn.Module:
    n = config.input_shape[1]
    return CircularConv(
        in_channels,
        config.channels,
        kernel_size=config.kernel_size,
        image_size=n,
        bias=config.bias,
        generator=generator,
    )


@MODELS.register("lc")
def _lc(config: ModelConfig, in_channels: int, generator: torch.Generator | None) -> nn.Module:
    n = config.input_shape[1]
    return LocallyConnected(
        in_channels,
        config.channels,
        kernel_size=config.kernel_size,
        image_size=n,
        bias=config.bias,
        generator=generator,
    )
