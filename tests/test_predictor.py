"""Tests for freqkit.predictor: dense-matrix β == input gradient for every linear model."""

from __future__ import annotations

import pytest
import torch

from freqkit.models import MODELS, create_model
from freqkit.predictor import end_to_end_matrix, end_to_end_predictor, input_gradient, partial_products

F64 = torch.float64


def _cases():
    for name in MODELS.names():
        for depth in (1, 2, 3):
            for shape in ((1, 8, 8), (3, 8, 8)):
                for k in (3, 4) if name in ("lkc", "lc") else (None,):
                    yield name, depth, shape, k


def _model(name, depth=1, shape=(1, 8, 8), k=None, nonlinearity="linear", channels=None, bias=False, seed=0):
    return create_model(
        name,
        input_shape=shape,
        num_classes=3,
        depth=depth,
        nonlinearity=nonlinearity,
        channels=channels if name != "fc" else None,
        kernel_size=k,
        bias=bias,
        seed=seed,
    ).double()


@pytest.mark.parametrize(("name", "depth", "shape", "k"), list(_cases()))
def test_dense_beta_equals_input_gradient_for_every_linear_model(name, depth, shape, k):
    model = _model(name, depth, shape, k, channels=2)
    x = torch.rand(4, *shape, dtype=F64)
    beta = end_to_end_matrix(model)
    assert beta.shape == (3, shape[0] * 64)
    grad = input_gradient(model, x)
    torch.testing.assert_close(beta, grad.flatten(1), rtol=1e-10, atol=1e-12)
    # β is also the map itself: f(x) = β vec(x) (no biases)
    torch.testing.assert_close(model(x), x.flatten(1) @ beta.T, rtol=1e-10, atol=1e-12)


def test_one_layer_fc_beta_is_readout_times_hidden_weight():
    model = _model("fc", shape=(2, 4, 4))
    expected = model.readout.weight @ model.hidden[0].weight
    torch.testing.assert_close(end_to_end_matrix(model), expected, rtol=0, atol=1e-14)


def test_beta_ignores_biases_and_still_equals_gradient():
    model = _model("lkc", depth=2, k=3, bias=True, channels=2)
    x = torch.rand(3, 1, 8, 8, dtype=F64)
    torch.testing.assert_close(end_to_end_matrix(model), input_gradient(model, x).flatten(1))
    offset = model(torch.zeros(1, 1, 8, 8, dtype=F64))
    assert offset.abs().max() > 0  # the model is affine, β is its linear part
    torch.testing.assert_close(model(x) - offset, x.flatten(1) @ end_to_end_matrix(model).T)


@pytest.mark.parametrize("name", MODELS.names())
def test_partial_products(name):
    model = _model(name, depth=3, shape=(2, 6, 6), k=3 if name in ("lkc", "lc") else None, channels=3)
    products = partial_products(model)
    assert len(products) == 3
    a1 = model.hidden[0].dense_matrix()
    torch.testing.assert_close(products[0], a1)
    torch.testing.assert_close(products[1], model.hidden[1].dense_matrix() @ a1)
    torch.testing.assert_close(model.readout.weight @ products[-1], end_to_end_matrix(model))
    # β_l maps the input to layer l's activations
    x = torch.randn(2, 2, 6, 6, dtype=F64)
    torch.testing.assert_close(model.features(x).flatten(1), x.flatten(1) @ products[-1].T)


def test_end_to_end_predictor_linear_is_reshaped_beta():
    model = _model("lc", depth=2, shape=(3, 8, 8), k=4, channels=2)
    pred = end_to_end_predictor(model)
    assert pred.shape == (3, 3, 8, 8)
    torch.testing.assert_close(pred.flatten(1), end_to_end_matrix(model), rtol=0, atol=0)


def test_relu_input_gradient_matches_analytic_formula():
    """Two-layer ReLU FC: ∂f/∂x = R · diag(1[W1 x > 0]) · W1 for each example."""
    model = _model("fc", depth=1, shape=(1, 4, 4), nonlinearity="relu")
    x = torch.randn(6, 1, 4, 4, dtype=F64)
    w1, r = model.hidden[0].weight.detach(), model.readout.weight.detach()
    active = (x.flatten(1) @ w1.T > 0).to(F64)  # (N, d)
    expected = torch.einsum("kd,nd,de->nke", r, active, w1)  # (N, classes, d)
    per_example = input_gradient(model, x, reduce="none")
    assert per_example.shape == (6, 3, 1, 4, 4)
    torch.testing.assert_close(per_example.flatten(2), expected)
    torch.testing.assert_close(input_gradient(model, x).flatten(1), expected.mean(0))
    torch.testing.assert_close(end_to_end_predictor(model, x), expected.mean(0).reshape(3, 1, 4, 4))


def test_relu_gradients_differ_between_examples():
    model = _model("lkc", depth=2, k=3, nonlinearity="relu", channels=2)
    x = torch.randn(5, 1, 8, 8, dtype=F64)
    g = input_gradient(model, x, reduce="none")
    assert not torch.allclose(g[0], g[1])


def test_input_gradient_batch_size_does_not_change_result():
    model = _model("lc", depth=2, k=3, nonlinearity="relu", channels=2)
    x = torch.randn(7, 1, 8, 8, dtype=F64)
    torch.testing.assert_close(
        input_gradient(model, x, reduce="none", batch_size=3), input_gradient(model, x, reduce="none")
    )


def test_input_gradient_leaves_parameter_grads_untouched():
    model = _model("fkc", depth=1)
    input_gradient(model, torch.rand(2, 1, 8, 8, dtype=F64))
    assert all(p.grad is None for p in model.parameters())


def test_bad_input():
    relu = _model("fc", nonlinearity="relu")
    with pytest.raises(ValueError, match="nonlinearity='relu'"):
        end_to_end_matrix(relu)
    with pytest.raises(ValueError, match="nonlinearity='relu'"):
        partial_products(relu)
    with pytest.raises(ValueError, match="x=None"):
        end_to_end_predictor(relu)
    x = torch.rand(2, 1, 8, 8, dtype=F64)
    with pytest.raises(ValueError, match="reduce='sum'"):
        input_gradient(relu, x, reduce="sum")
    with pytest.raises(ValueError, match=r"\(2, 1, 6, 6\)"):
        input_gradient(relu, torch.rand(2, 1, 6, 6, dtype=F64))
    with pytest.raises(ValueError, match="batch_size=0"):
        input_gradient(relu, x, batch_size=0)
