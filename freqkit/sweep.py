"""Resumable grids of runs: one NetCDF file per run, named by a hash of its config.

A sweep is a list of configs (frozen dataclasses or dicts) and a function
``run_fn(config) -> xarray.Dataset``. :func:`run_sweep` writes each run's
dataset atomically to ``out_dir/<run_key(config)>.nc`` and skips configs whose
file already exists, so a killed sweep resumes where it stopped and never
redoes a finished run. :func:`combine_runs` merges the run files by
coordinates.

Convention for run datasets: every data variable that differs between runs
carries the run's grid values as **length-1 dimensions** (e.g. ``model``,
``depth``, ``seed``), added with :func:`expand_run_dims`. The combined dataset
then has one axis per grid dimension (NaN where a grid point has no run);
attributes that differ between runs (``config``, ``created_at``, ...) are
dropped when combining and stay available in the individual files.

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from freqkit.results import load_results, load_sweep, save_results

__all__ = ["OMIT_DEFAULT", "run_key", "config_json", "config_dict", "run_sweep", "combine_runs", "expand_run_dims",
           "lock_is_live"]

RUN_KEY_LENGTH = 16
_TMP_PATTERN = re.compile(r"^(?P<target>.+\.nc)\.tmp-(?P<pid>\d+)(?:-.*)?$")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set, frozenset)):
        return sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"value {obj!r} of type {type(obj).__name__} is not JSON-serialisable")


#: Field metadata of a config field added after results were keyed: the canonical JSON leaves the
#: field out while it has its default, so the run keys of the configs made before stay valid.
OMIT_DEFAULT: dict[str, bool] = {"omit_default": True}


def config_dict(config: Any) -> Any:
    """:func:`dataclasses.asdict` of a config, leaving out :data:`OMIT_DEFAULT` fields at their default.

    Nested dataclasses, lists, tuples and dicts are converted recursively; other values are
    returned as they are.

    Examples
    --------
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class C:
    ...     a: int = 1
    ...     b: tuple = field(default=(), metadata=OMIT_DEFAULT)
    >>> config_dict(C()), config_dict(C(b=(0.1,)))
    ({'a': 1}, {'a': 1, 'b': (0.1,)})
    """
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)) and not isinstance(config, Mapping):
        raise ValueError(f"config must be a dataclass instance or a mapping, got {type(config).__name__}")
    return _config_dict(config)


def _config_dict(config: Any) -> Any:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        out = {}
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if f.metadata.get("omit_default"):
                default = f.default if f.default is not dataclasses.MISSING else (
                    f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
                if value == default:
                    continue
            out[f.name] = _config_dict(value)
        return out
    if isinstance(config, (list, tuple)):
        return type(config)(_config_dict(v) for v in config)
    if isinstance(config, Mapping):
        return {k: _config_dict(v) for k, v in config.items()}
    return config


def config_json(config: Any) -> str:
    """Canonical JSON of a config: ``sort_keys``, compact separators, no NaN.

    Parameters
    ----------
    config : dataclass instance or mapping
        Nested dataclasses are converted with :func:`config_dict` (``dataclasses.asdict``
        without the :data:`OMIT_DEFAULT` fields that have their default);
        tuples become lists, numpy scalars Python numbers, paths strings.

    Returns
    -------
    str

    Examples
    --------
    >>> config_json({"b": (1, 2), "a": 0.5})
    '{"a":0.5,"b":[1,2]}'
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = config_dict(config)
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dataclass instance or a mapping, got {type(config).__name__}")
    try:
        return json.dumps(
            config, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_json_default
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"config {config!r} is not JSON-serialisable: {error}") from None


def run_key(config: Any) -> str:
    """Stable short hash of a config: the first 16 hex digits of sha256(:func:`config_json`).

    Independent of field/key order, of the Python process (no ``hash()``
    randomisation) and of whether the config is a dataclass or the equivalent dict.

    Examples
    --------
    >>> run_key({"depth": 2, "model": "fc"}) == run_key({"model": "fc", "depth": 2})
    True
    >>> run_key({"depth": 2, "model": "fc"})
    'b33413fc865bba84'
    """
    return hashlib.sha256(config_json(config).encode("utf-8")).hexdigest()[:RUN_KEY_LENGTH]


def expand_run_dims(
    ds: xr.Dataset, coords: Mapping[str, Any] | None = None, /, **more_coords: Any
) -> xr.Dataset:
    """Give every data variable of ``ds`` a length-1 dimension per run coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        One run's results.
    coords : mapping, optional
        ``{dim: scalar value}``; may be combined with keyword arguments.
    **more_coords
        More ``dim=value`` pairs.

    Returns
    -------
    xarray.Dataset
        New leading dims in the given order, each with a one-element coordinate.

    Examples
    --------
    >>> ds = xr.Dataset({"acc": ((), 0.9)})
    >>> out = expand_run_dims(ds, {"model": "fc"}, seed=0)
    >>> out.acc.dims, out.model.values.tolist(), out.seed.values.tolist()
    (('model', 'seed'), ['fc'], [0])
    """
    merged = dict(coords or {})
    overlap = merged.keys() & more_coords.keys()
    if overlap:
        raise ValueError(f"coordinates {sorted(overlap)} given twice")
    merged.update(more_coords)
    for name, value in merged.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"run dimension name {name!r} is not allowed; use lowercase snake_case")
        if name in ds.dims or name in ds.coords:
            raise ValueError(f"run dimension {name!r} already exists in the dataset")
        if np.ndim(value) != 0 or value is None:
            raise ValueError(f"run coordinate {name}={value!r} must be a non-None scalar")
    if not merged:
        return ds
    return ds.expand_dims({name: [value] for name, value in merged.items()})


def _is_loadable(path: Path) -> bool:
    try:
        with xr.open_dataset(path, engine="h5netcdf"):
            return True
    except Exception:  # noqa: BLE001 - any failure to open means "redo the run"
        return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # we are not writing anything yet: a file with our pid is stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temp_files(out_dir: Path) -> list[Path]:
    removed = []
    for path in out_dir.iterdir():
        match = _TMP_PATTERN.match(path.name)
        if match and path.is_file() and not _pid_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _lock_owner(lock: Path) -> tuple[str, int] | None:
    try:
        host, _, pid = lock.read_text().strip().partition(":")
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _lock_is_stale(lock: Path) -> bool:
    """A lock is stale when its process is gone (same host) or it is older than :data:`LOCK_STALE_S`."""
    owner = _lock_owner(lock)
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return True
    if owner is None:  # being written right now, or garbage: judge by age
        return age > 60
    host, pid = owner
    if host == socket.gethostname():
        return pid != os.getpid() and not _pid_alive(pid)
    return age > LOCK_STALE_S  # another host's holder touches its lock every LOCK_HEARTBEAT_S


def lock_is_live(path: Path) -> bool:
    """Whether the run file ``path`` is being computed now (a live ``<path>.lock``)."""
    lock = path.with_name(path.name + ".lock")
    return lock.exists() and not _lock_is_stale(lock)


def _try_lock(path: Path) -> Path | None:
    """Atomically create ``<path>.lock`` (``host:pid``); break a stale one. None if held."""
    lock = path.with_name(path.name + ".lock")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _lock_is_stale(lock):
                lock.unlink(missing_ok=True)
                continue
            return None
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()}:{os.getpid()}")
        return lock
    return None


#: While a run computes, its lock file is touched this often (a heartbeat for other hosts).
LOCK_HEARTBEAT_S = 20.0
#: A lock of another host not touched for this many seconds is taken for abandoned
#: (e.g. a Slurm task that was cancelled, timed out or preempted).
LOCK_STALE_S = 120.0


class _Heartbeat:
    """Touch ``lock`` every :data:`LOCK_HEARTBEAT_S` seconds from a daemon thread."""

    def __init__(self, lock: Path) -> None:
        import threading

        self.lock, self.stop = lock, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(LOCK_HEARTBEAT_S):
            try:
                os.utime(self.lock)
            except OSError:
                return

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
#: Seconds between checks while another process computes a run this sweep needs.
LOCK_POLL_S = 0.5


def run_sweep(
    configs: Iterable[Any],
    run_fn: Callable[[Any], xr.Dataset],
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
) -> list[Path]:
    """Run every config not yet on disk; return the result file of each config.

    For each config (in order) the result file is ``out_dir/<run_key(config)>.nc``.
    If it exists and opens, the run is skipped; otherwise (missing or corrupt)
    ``run_fn(config)`` is called, the dataset gets a ``config`` attribute
    (:func:`config_json`) if it has none, and it is written atomically with
    :func:`freqkit.results.save_results` (temp file + ``os.replace``), so the
    directory only ever holds complete runs. An exception in ``run_fn``
    propagates; every earlier run is already safely on disk. Temp files left
    by a killed writer (``*.nc.tmp-<pid>...`` of a process that no longer
    exists) are deleted first. Each file gets a ``run_seconds`` attribute (wall
    time of ``run_fn``; an attribute, so comparing two computations of a run's
    data variables never trips over it).

    Any number of processes (or Slurm tasks) can run sweeps into one folder:
    before computing a run, a process atomically creates ``<run>.nc.lock``
    (``host:pid``); runs locked by another live process are skipped for now and
    waited for at the end, so each run is computed exactly once. A lock of a
    dead process on this host is broken at once; the holder touches its lock
    every :data:`LOCK_HEARTBEAT_S` seconds, so another host's lock is broken
    once it has not been touched for :data:`LOCK_STALE_S` seconds.

    Parameters
    ----------
    configs : iterable
        Frozen dataclasses or mappings (JSON-serialisable). Duplicates run once.
    run_fn : callable
        ``run_fn(config) -> xarray.Dataset`` for one run (grid values as
        length-1 dims, see :func:`expand_run_dims`).
    out_dir : path-like
        Directory of the run files (created if needed).
    progress : bool
        Show a tqdm bar over runs with the number skipped.

    Returns
    -------
    list of pathlib.Path
        One path per config, in the order of ``configs``.

    Examples
    --------
    >>> import tempfile
    >>> def run_fn(config):
    ...     return expand_run_dims(xr.Dataset({"score": ((), config["x"] ** 2)}), x=config["x"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = run_sweep([{"x": 1}, {"x": 2}], run_fn, d, progress=False)
    ...     combine_runs(d).score.values.tolist()
    [1, 4]
    """
    if (isinstance(configs, (str, bytes, Mapping)) or dataclasses.is_dataclass(configs)
            or not isinstance(configs, Iterable)):
        raise ValueError(f"configs={configs!r} is not allowed; allowed: an iterable of configs "
                         f"(dataclasses or mappings), got {type(configs).__name__}")
    configs = list(configs)
    if not callable(run_fn):
        raise ValueError(f"run_fn must be callable, got {run_fn!r}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"out_dir={str(out)!r} cannot be created as a directory: {error}") from None
    _remove_stale_temp_files(out)
    keys = [run_key(config) for config in configs]  # validates every config up front
    paths = [out / f"{key}.nc" for key in keys]

    skipped = 0
    pending = [keys.index(key) for key in dict.fromkeys(keys)]  # each distinct config once
    bar = tqdm(total=len(pending), disable=not progress, desc="sweep", unit="run")
    try:
        while pending:
            waiting = []
            for i in pending:
                config, path = configs[i], paths[i]
                if path.exists() and _is_loadable(path):
                    skipped += 1
                    bar.update(1)
                    continue
                lock = _try_lock(path)
                if lock is None:  # another process is computing this run: come back later
                    waiting.append(i)
                    continue
                try:
                    if path.exists() and _is_loadable(path):  # finished while we took the lock
                        skipped += 1
                    else:
                        path.unlink(missing_ok=True)
                        t0 = time.perf_counter()
                        with _Heartbeat(lock):
                            ds = run_fn(config)
                        if not isinstance(ds, xr.Dataset):
                            raise ValueError(
                                f"run_fn must return an xarray.Dataset, got {type(ds).__name__}")
                        if "config" not in ds.attrs:
                            ds = ds.assign_attrs(config=config_json(config))
                        ds = ds.assign_attrs(run_seconds=round(time.perf_counter() - t0, 3))
                        save_results(ds, path)
                finally:
                    lock.unlink(missing_ok=True)
                bar.update(1)
                bar.set_postfix(skipped=skipped)
            if waiting and len(waiting) == len(pending):
                time.sleep(LOCK_POLL_S)
            pending = waiting
    finally:
        bar.close()
    return paths


def combine_runs(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> xr.Dataset:
    """Combine run files by coordinates (see the module docstring for the convention).

    Parameters
    ----------
    source : path-like or sequence of path-like
        A sweep directory (all ``*.nc`` files) or the paths returned by :func:`run_sweep`.

    Returns
    -------
    xarray.Dataset
        Outer join over the run dimensions (NaN for missing grid points);
        attributes that differ between runs are dropped.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for seed in (1, 0):
    ...         _ = save_results(expand_run_dims(xr.Dataset({"acc": ((), seed / 4)}), seed=seed),
    ...                          Path(d) / f"{seed}.nc")
    ...     combine_runs(d).acc.values.tolist()
    [0.0, 0.25]
    """
    if not isinstance(source, (str, os.PathLike)):
        source = list(dict.fromkeys(Path(p) for p in source))  # drop duplicate configs' paths
        if len(source) == 1:
            return load_results(source[0])
    return load_sweep(source)
