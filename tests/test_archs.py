"""Tests for freqkit.archs: CIFAR architectures of every family."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from freqkit.archs import ARCHS, CIFAR10_MEAN, CIFAR10_STD, Normalise, create_arch
from freqkit.attacks import ATTACKS, run_attack
from freqkit.imagenet import FAMILIES
from freqkit.train import TrainConfig, train_model

NAMES = ARCHS.names()
SMALL = {"width": 32, "depth": 1}


def test_registry_covers_every_family_and_vit_patch_sizes():
    assert {ARCHS.get(n).family for n in NAMES} == set(FAMILIES)
    assert sorted(ARCHS.get(n).patch_size for n in NAMES if ARCHS.get(n).family == "vit") == [2, 4, 8]
    with pytest.raises(ValueError, match="registered architectures: convmixer, hybrid, mixer"):
        create_arch("vit-p16")


@pytest.mark.parametrize("name", NAMES)
def test_forward_shape_normalisation_once_and_seeding(name):
    model = create_arch(name, seed=0, **SMALL).eval()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert isinstance(model[0], Normalise)
    mean = torch.tensor(CIFAR10_MEAN)[:, None, None]
    std = torch.tensor(CIFAR10_STD)[:, None, None]
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, model[1]((x - mean) / std))
        assert out.shape == (3, 10)
        assert out.std(0).max() > 0  # depends on the input
        again = create_arch(name, seed=0, **SMALL).eval()(x)
        other = create_arch(name, seed=1, **SMALL).eval()(x)
    torch.testing.assert_close(out, again)
    assert not torch.allclose(out, other)
    raw = create_arch(name, mean=None, std=None, seed=0, **SMALL).eval()
    with torch.no_grad():
        torch.testing.assert_close(raw(x), raw[1](x))
        with pytest.raises(ValueError, match="the model expects \\(N, 3, 32, 32\\)"):
            model(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize("name", NAMES)
def test_first_layer_matches_the_registered_kernel_and_patch(name):
    spec = ARCHS.get(name)
    convs = [m for m in create_arch(name, **SMALL).modules() if isinstance(m, torch.nn.Conv2d)]
    first = convs[0]
    size = spec.patch_size if spec.family in ("vit", "mlp") or name == "convmixer" else spec.kernel_size
    assert first.kernel_size == (size, size)
    if spec.patch_size is not None and spec.family in ("vit", "mlp"):
        assert first.stride == (spec.patch_size, spec.patch_size)
    if name == "convmixer":  # depthwise kernel after the patch embedding
        assert convs[1].kernel_size == (spec.kernel_size, spec.kernel_size) and convs[1].groups > 1


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="image_size=36 is not allowed for 'vit-p8'"):
        create_arch("vit-p8", image_size=36)
    with pytest.raises(ValueError, match="width=0 is not allowed"):
        create_arch("resnet", width=0)
    with pytest.raises(ValueError, match="mean and std must both be given"):
        create_arch("resnet", mean=None)


def test_a_trained_tiny_model_is_flipped_by_one_pgd_step():
    """train_model fits a tiny ViT to a two-class brightness task; one L2 step flips it."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(256) % 2
    x = 0.4 + 0.1 * y[:, None, None, None] + 0.1 * torch.rand(256, 3, 32, 32, generator=g)
    split = types.SimpleNamespace(x=x, y=y)
    splits = types.SimpleNamespace(train=split, val=split, test=split)
    result = train_model(lambda: create_arch("vit-p8", num_classes=2, width=16, depth=1),
                         splits, TrainConfig(epochs=3, batch_size=32, lr=0.05, momentum=0.9),
                         progress=False)
    assert result.test_accuracy == 1.0
    one_step = dataclasses.replace(ATTACKS.get("pgd-l2"), steps=1, rel_stepsize=1.0,
                                   random_start=False)
    model = result.model.eval()
    flipped = run_attack(model, x[:16], y[:16], one_step, [20.0])
    kept = run_attack(model, x[:16], y[:16], one_step, [1e-4])
    assert float(flipped.success_rate[0]) >= 0.5
    assert float(kept.success_rate[0]) == 0.0
