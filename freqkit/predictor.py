"""The end-to-end predictor β of a model (Caro et al. 2024).

For a linear model ``f(x) = R · A_L ··· A_1 · vec(x)`` (no biases, or biases
ignored) the predictor is the matrix ``β = R · A_L ··· A_1`` of shape
``(num_classes, C·H·W)``; its row ``β[y]`` reshaped to ``(C, H, W)`` is the
template the model matches against class ``y``.  It is computed here from the
layers' ``dense_matrix()`` (built from the weights by index arithmetic), which
is independent of the forward pass, so ``β == input_gradient`` is a real
cross-check.  For a nonlinear model the analogue is the mean input gradient
(saliency) over a set of inputs.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from freqkit._validate import as_int, check_choice
from freqkit.models import FreqkitModel

__all__ = ["end_to_end_matrix", "end_to_end_predictor", "input_gradient", "partial_products"]


def _require_model(model: object, what: str) -> None:
    if not isinstance(model, FreqkitModel):
        raise ValueError(
            f"{what} needs a FreqkitModel (from freqkit.models.create_model), got {type(model).__name__}"
        )


def _require_linear(model: FreqkitModel, what: str) -> None:
    _require_model(model, what)
    if not model.is_linear:
        raise ValueError(
            f"{what} needs a linear model; got nonlinearity={model.nonlinearity!r} "
            "(allowed: 'linear'; use input_gradient for nonlinear models)"
        )


def _left_multiply(matrix: Tensor, layer: torch.nn.Module) -> Tensor:
    """``matrix @ layer.dense_matrix()``, materialising one output channel's rows at a time."""
    channels, h, w = layer.out_shape
    rows = h * w
    out = None
    for o in range(channels):
        term = matrix[:, o * rows : (o + 1) * rows] @ layer.dense_matrix(out_channel=o)
        out = term if out is None else out + term
    return out


def end_to_end_matrix(model: FreqkitModel) -> Tensor:
    """``β = readout.weight · A_L ··· A_1`` of a linear model, ``(num_classes, C·H·W)``.

    The product is taken from the readout side, one output channel block of
    each ``A_l`` at a time, so memory stays ``O(H·W · c_in·H·W)`` per step.
    Biases are ignored (β is the linear part).

    Raises
    ------
    ValueError
        If the model is not linear.

    Examples
    --------
    >>> from freqkit.models import create_model
    >>> model = create_model("fc", input_shape=(1, 4, 4), num_classes=3, seed=0)
    >>> beta = end_to_end_matrix(model)
    >>> beta.shape
    torch.Size([3, 16])
    >>> torch.allclose(beta, model.readout.weight @ model.hidden[0].weight)
    True
    """
    _require_linear(model, "end_to_end_matrix")
    with torch.no_grad():
        beta = model.readout.weight
        for layer in reversed(model.hidden):
            beta = _left_multiply(beta, layer)
    return beta.detach()


def partial_products(model: FreqkitModel) -> list[Tensor]:
    """``[β_1, …, β_L]`` with ``β_l = A_l ··· A_1`` of shape ``(c_l·H·W, C·H·W)``.

    Raises
    ------
    ValueError
        If the model is not linear.

    Examples
    --------
    >>> from freqkit.models import create_model
    >>> model = create_model("lkc", input_shape=(1, 4, 4), num_classes=2, depth=2, seed=0)
    >>> [tuple(b.shape) for b in partial_products(model)]
    [(16, 16), (16, 16)]
    """
    _require_linear(model, "partial_products")
    products: list[Tensor] = []
    with torch.no_grad():
        for layer in model.hidden:
            if not products:
                products.append(layer.dense_matrix().detach().clone())
                continue
            channels = layer.out_shape[0]
            previous = products[-1]
            blocks = [layer.dense_matrix(out_channel=o) @ previous for o in range(channels)]
            products.append(torch.cat(blocks, dim=0))
    return products


def input_gradient(
    model: FreqkitModel,
    x: Tensor,
    *,
    reduce: Literal["mean", "none"] = "mean",
    batch_size: int = 256,
) -> Tensor:
    """Gradient of every class logit with respect to the input (saliency).

    One backward pass per class on the batch-summed logit (examples are
    independent, so this gives every per-example gradient at once), over
    chunks of ``batch_size`` examples.

    Parameters
    ----------
    model : FreqkitModel
    x : Tensor
        ``(N, C, H, W)``.
    reduce : {"mean", "none"}
        ``"mean"``: average over examples -> ``(num_classes, C, H, W)``;
        ``"none"``: ``(N, num_classes, C, H, W)``.
    batch_size : int
        Examples per chunk (memory bound only; the result does not depend on it).

    Examples
    --------
    >>> from freqkit.models import create_model
    >>> model = create_model("fc", input_shape=(1, 4, 4), num_classes=3, seed=0).double()
    >>> g = input_gradient(model, torch.rand(5, 1, 4, 4, dtype=torch.float64))
    >>> g.shape
    torch.Size([3, 1, 4, 4])
    >>> torch.allclose(g.flatten(1), end_to_end_matrix(model))
    True
    """
    _require_model(model, "input_gradient")
    check_choice(reduce, "reduce", ("mean", "none"))
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor (N, {', '.join(map(str, model.input_shape))}), "
                         f"got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(model.input_shape):
        raise ValueError(
            f"x has shape {tuple(x.shape)}; allowed: (N, {', '.join(map(str, model.input_shape))})"
        )
    if x.shape[0] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}; allowed: at least one example (N >= 1)")
    model.check_input(x)  # dtype
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    num_classes = model.readout.out_features
    chunks = []
    with torch.enable_grad():
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size].detach().requires_grad_(True)
            logits = model(xb)
            grads = [
                torch.autograd.grad(logits[:, c].sum(), xb, retain_graph=c < num_classes - 1)[0]
                for c in range(num_classes)
            ]
            chunks.append(torch.stack(grads, dim=1))
    per_example = torch.cat(chunks, dim=0)
    return per_example.mean(dim=0) if reduce == "mean" else per_example


def end_to_end_predictor(model: FreqkitModel, x: Tensor | None = None) -> Tensor:
    """β as images, ``(num_classes, C, H, W)``.

    Exact (:func:`end_to_end_matrix`) for a linear model; for a nonlinear model
    the mean input gradient over ``x`` (required then).

    Examples
    --------
    >>> from freqkit.models import create_model
    >>> model = create_model("lkc", input_shape=(1, 6, 6), num_classes=2, kernel_size=3, seed=0)
    >>> end_to_end_predictor(model).shape
    torch.Size([2, 1, 6, 6])
    """
    _require_model(model, "end_to_end_predictor")
    if model.is_linear:
        beta = end_to_end_matrix(model)
        return beta.reshape(beta.shape[0], *model.input_shape)
    if x is None:
        raise ValueError(
            f"x=None is not allowed for a nonlinear model (nonlinearity={model.nonlinearity!r}); "
            "allowed: a batch (N, C, H, W) to average input gradients over"
        )
    return input_gradient(model, x, reduce="mean")
