"""xarray/NetCDF results store with provenance.

Every experiment writes one small NetCDF file per run (``engine="h5netcdf"``),
built with :func:`from_records`, stamped with :func:`provenance` and written
atomically with :func:`save_results`. Chapters read them back with
:func:`load_results` or, for a whole sweep, :func:`load_sweep`.

.. rubric:: Conventions

- dims are lowercase singular names: ``model``, ``dataset``, ``kernel_size``,
  ``depth``, ``seed``, ``sample``, ...
- every data variable carries ``units`` and ``long_name`` attributes;
- attributes are flat: ``str``, ``int``, ``float`` or numpy scalars (bools are
  stored as the ints 0/1); nested values are stored as JSON strings by the
  caller (e.g. ``config`` in :func:`provenance`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "from_records",
    "load_results",
    "load_sweep",
    "align_inner_dims",
    "check_duplicate_runs",
    "run_coordinates",
    "provenance",
    "save_results",
    "validate_dataset",
]

_DIM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSIONED_PACKAGES = ("freqkit", "torch", "torchvision", "foolbox", "timm", "numpy", "xarray")


# --------------------------------------------------------------------------- #
# building
# --------------------------------------------------------------------------- #
def from_records(
    records: Sequence[Mapping[str, Any]],
    dims: Sequence[str],
    *,
    units: Mapping[str, str] | None = None,
    long_names: Mapping[str, str] | None = None,
    attrs: Mapping[str, Any] | None = None,
    var_dims: Mapping[str, Sequence[str]] | None = None,
) -> xr.Dataset:
    """Build a dataset from flat records of a sweep.

    Parameters
    ----------
    records : sequence of mapping
        One mapping per grid point: the ``dims`` keys give its coordinates,
        every other key a scalar or an array value. All records must have the
        same keys, and each variable the same shape in every record.
    dims : sequence of str
        Lowercase names of the grid dimensions, e.g. ``("model", "seed")``.
    units, long_names : mapping, optional
        Per data variable; missing entries become ``"1"`` (dimensionless) and
        the variable name.
    attrs : mapping, optional
        Dataset attributes (flat; see :func:`validate_dataset`).
    var_dims : mapping, optional
        Names of the trailing dims of array-valued variables, e.g.
        ``{"delta": ("channel", "row", "col")}``; default ``<var>_dim_<i>``.

    Returns
    -------
    xarray.Dataset
        Data variables of shape ``(len(coord) for coord in dims) + array shape``,
        NaN where a grid point has no record (float variables only).

    Examples
    --------
    >>> recs = [{"model": m, "seed": s, "acc": 0.5 + s / 10}
    ...         for m in ("fc", "lkc") for s in (0, 1)]
    >>> ds = from_records(recs, ["model", "seed"], units={"acc": "1"})
    >>> ds.acc.dims, ds.acc.sel(model="lkc", seed=1).item()
    (('model', 'seed'), 0.6)
    >>> ds.acc.attrs["long_name"]
    'acc'
    """
    dims = list(dims)
    var_dims = {k: list(v) for k, v in (var_dims or {}).items()}
    units = dict(units or {})
    long_names = dict(long_names or {})
    if not records:
        raise ValueError("records is empty; at least one record is required")
    if not dims:
        raise ValueError("dims is empty; give at least one grid dimension")
    _check_dim_names(dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims {dims!r} has duplicates; each dimension must appear once")

    var_names = [k for k in records[0] if k not in dims]
    expected_keys = set(dims) | set(var_names)
    for i, rec in enumerate(records):
        if set(rec) != expected_keys:
            raise ValueError(
                f"records[{i}] has keys {sorted(rec)}; every record must have exactly "
                f"{sorted(expected_keys)}"
            )
    unknown = (set(units) | set(long_names) | set(var_dims)) - set(var_names)
    if unknown:
        raise ValueError(f"units/long_names/var_dims name unknown variables {sorted(unknown)}; "
                         f"data variables are {var_names}")

    coords = {d: _unique_in_order(rec[d] for rec in records) for d in dims}
    index = [
        tuple(coords[d].index(rec[d]) for d in dims) for rec in records
    ]
    if len(set(index)) != len(index):
        raise ValueError("records contain duplicate grid points (same values for all dims)")
    grid_shape = tuple(len(coords[d]) for d in dims)

    data_vars: dict[str, tuple[list[str], np.ndarray, dict[str, str]]] = {}
    for name in var_names:
        values = [np.asarray(rec[name]) for rec in records]
        shape = values[0].shape
        for i, v in enumerate(values):
            if v.shape != shape:
                raise ValueError(
                    f"variable {name!r} has shape {v.shape} in records[{i}] but "
                    f"{shape} in records[0]; shapes must agree"
                )
        stacked = np.stack(values)
        dtype = stacked.dtype
        if len(index) < int(np.prod(grid_shape)) and dtype.kind in "iub":
            dtype = np.dtype(np.float64)  # holes need NaN
        fill = {"f": np.nan, "c": np.nan, "U": "", "S": b"", "O": None}.get(dtype.kind, 0)
        full = np.full(grid_shape + shape, fill, dtype=dtype)
        full[tuple(np.array(index).T)] = stacked
        extra_dims = var_dims.get(name, [f"{name}_dim_{i}" for i in range(len(shape))])
        if len(extra_dims) != len(shape):
            raise ValueError(
                f"var_dims[{name!r}] = {extra_dims!r} names {len(extra_dims)} dims but "
                f"{name!r} has shape {shape}"
            )
        _check_dim_names(extra_dims)
        data_vars[name] = (
            dims + extra_dims,
            full,
            {"units": units.get(name, "1"), "long_name": long_names.get(name, name)},
        )
    ds = xr.Dataset(data_vars, coords={d: np.asarray(coords[d]) for d in dims})
    ds.attrs.update(_flatten_attr_values(dict(attrs or {})))
    return ds


def _unique_in_order(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        v = v.item() if isinstance(v, np.generic) else v
        if v not in seen:
            seen.append(v)
    return seen


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def _check_dim_names(dims: Iterable[Any]) -> None:
    for d in dims:
        if not isinstance(d, str) or not _DIM_NAME.match(d):
            raise ValueError(
                f"dimension {d!r} is not allowed; dims must be lowercase "
                "identifiers matching [a-z][a-z0-9_]* (e.g. 'kernel_size')"
            )


def _flat_attr(value: Any, name: str) -> str | int | float | np.generic:
    """Return ``value`` as a NetCDF-storable flat attribute or raise ValueError."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        return value
    raise ValueError(
        f"attribute {name!r} has value {value!r} of type {type(value).__name__}; "
        "attributes must be flat (str, int, float, bool or a numpy scalar) -- "
        "store nested values as a JSON string"
    )


def _flatten_attr_values(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _flat_attr(v, k) for k, v in attrs.items()}


def validate_dataset(ds: xr.Dataset) -> xr.Dataset:
    """Check ``ds`` for the store's conventions; return a copy with bools as 0/1.

    Raises ``ValueError`` naming the offending dimension or attribute.

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("seed", [1.0])}, attrs={"ok": True})
    >>> validate_dataset(ds).attrs["ok"]
    1
    >>> validate_dataset(ds.assign_attrs(bad={"x": 1}))
    Traceback (most recent call last):
    ...
    ValueError: attribute 'bad' has value {'x': 1} of type dict; attributes must be flat (str, int, float, bool or a numpy scalar) -- store nested values as a JSON string
    >>> validate_dataset(ds.rename(seed="Seed"))
    Traceback (most recent call last):
    ...
    ValueError: dimension 'Seed' is not allowed; dims must be lowercase identifiers matching [a-z][a-z0-9_]* (e.g. 'kernel_size')
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    _check_dim_names(ds.dims)
    out = ds.copy(deep=False)
    out.attrs = _flatten_attr_values(ds.attrs)
    for name, var in out.variables.items():
        var.attrs = {k: _flat_attr(v, f"{name}.{k}") for k, v in var.attrs.items()}
    return out


# --------------------------------------------------------------------------- #
# I/O
# --------------------------------------------------------------------------- #
def _write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """The actual writer (separate so tests can make it fail half-way).

    Numeric data variables are zlib-compressed (level 4, through the h5netcdf
    encoding); values are stored exactly as given.
    """
    ds = _squeeze_run_dims(ds)
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name, var in ds.data_vars.items()
        if var.size >= 64 and var.dtype.kind in "biuf"
    }
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)


#: Attribute listing the run dimensions stored as scalar coordinates (see :func:`save_results`).
RUN_DIMS_ATTR = "run_dims"


def _squeeze_run_dims(ds: xr.Dataset) -> xr.Dataset:
    """Store length-1 run dims (shared by every data variable) as scalar coordinates.

    HDF5 spends kilobytes per variable and dimension scale: a run with 45
    variables on six length-1 grid dims takes 250 kB, 90 kB without them.
    :func:`load_results` restores the dims (attribute :data:`RUN_DIMS_ATTR`).
    """
    if not ds.data_vars or RUN_DIMS_ATTR in ds.attrs:
        return ds
    first = next(iter(ds.data_vars.values())).dims
    lead: list[str] = []
    for i, d in enumerate(first):  # the longest leading block of length-1 coordinate dims
        if not (ds.sizes[d] == 1 and d in ds.coords and ds[d].ndim == 1
                and all(v.dims[:i + 1] == first[:i + 1] for v in ds.data_vars.values())):
            break
        lead.append(str(d))
    if not lead:
        return ds
    out = ds.squeeze(lead)
    out.attrs[RUN_DIMS_ATTR] = ",".join(lead)
    return out


def _expand_run_dims(ds: xr.Dataset) -> xr.Dataset:
    lead = ds.attrs.get(RUN_DIMS_ATTR)
    if not lead:
        return ds
    names = str(lead).split(",")
    out = ds.expand_dims(names)
    for name in ds.data_vars:  # expand_dims puts the new dims first, in the given order
        out[name] = out[name].transpose(*names, *ds[name].dims)
    del out.attrs[RUN_DIMS_ATTR]
    return out


def save_results(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Validate and write ``ds`` to ``path`` atomically.

    The dataset is written to ``<path>.tmp-<pid>-<random>`` in the same
    directory, flushed to disk and moved over ``path`` with :func:`os.replace`.
    On any error the temporary file is removed and an existing ``path`` is
    left untouched.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset with lowercase dims and flat attributes.
    path : path-like
        Target ``.nc`` file; parent directories are created.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile
    >>> ds = xr.Dataset({"acc": ("seed", [0.5, 0.75])}, coords={"seed": [0, 1]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_results(ds, Path(d) / "run.nc")
    ...     load_results(p).acc.values.tolist(), sorted(os.listdir(d))
    ([0.5, 0.75], ['run.nc'])
    """
    ds = validate_dataset(ds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        _write_netcdf(ds, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_results(path: str | os.PathLike[str]) -> xr.Dataset:
    """Load one results file fully into memory and close it.

    Examples
    --------
    >>> load_results("/nonexistent.nc")
    Traceback (most recent call last):
    ...
    ValueError: path '/nonexistent.nc' does not exist
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path={path!r} is not allowed; allowed: a path to a .nc results file")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} does not exist")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            loaded = ds.load()
    except Exception as err:  # noqa: BLE001 - h5py/h5netcdf/xarray raise OSError, KeyError, ValueError, ...
        raise ValueError(
            f"results file {str(path)!r} is corrupt or not a NetCDF file ({type(err).__name__}: {err}); "
            "delete it (a sweep then recomputes the run)"
        ) from None
    return _expand_run_dims(loaded)


def load_sweep(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> xr.Dataset:
    """Load every run of a sweep and combine them by coordinates.

    Parameters
    ----------
    source : path-like or iterable of path-like
        A directory (all ``*.nc`` files in it, sorted) or explicit file paths.

    Returns
    -------
    xarray.Dataset
        :func:`xarray.combine_by_coords` of the runs; attributes that differ
        between runs (``created_at``, ``config``, ...) are dropped, identical
        ones kept.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for seed in (1, 0):
    ...         _ = save_results(xr.Dataset({"acc": ("seed", [seed / 2])},
    ...                                     coords={"seed": [seed]}),
    ...                          Path(d) / f"run{seed}.nc")
    ...     load_sweep(d).acc.values.tolist()
    [0.0, 0.5]
    """
    if isinstance(source, (str, os.PathLike)):
        source = Path(source)
        if source.is_dir():
            paths = sorted(source.glob("*.nc"))
        elif source.is_file():
            paths = [source]
        else:
            raise ValueError(f"source {str(source)!r} is neither a directory nor a file")
    else:
        paths = [Path(p) for p in source]
    if not paths:
        raise ValueError(f"source {source!r} contains no .nc result files")
    runs = [load_results(p) for p in paths]
    check_duplicate_runs(runs, paths)
    runs = align_inner_dims(runs)
    combined = xr.combine_by_coords(runs, join="outer", compat="no_conflicts", data_vars="all",
                                    combine_attrs="drop_conflicts")
    for name in PER_RUN_ATTRS:  # facts about one run, even where all runs agree
        combined.attrs.pop(name, None)
    return combined


def align_inner_dims(runs: Sequence[xr.Dataset]) -> list[xr.Dataset]:
    """Reindex the runs' inner dims (e.g. ``epoch``) onto the union of their coordinates.

    A run dim (see :func:`freqkit.sweep.expand_run_dims`) is carried by every
    data variable; an inner dim by only some (learning curves on ``epoch``).
    Runs whose inner coordinates differ — a training attempt abandoned after 3
    of 8 epochs — would otherwise make :func:`xarray.combine_by_coords` treat
    ``epoch`` as a concatenation dim and spread it over every variable; here
    the shorter runs get NaN at the missing coordinates instead.

    Examples
    --------
    >>> a = xr.Dataset({"acc": ("seed", [0.5]), "curve": (("seed", "epoch"), [[0.1, 0.2]])},
    ...                coords={"seed": [0], "epoch": [1, 2]})
    >>> b = xr.Dataset({"acc": ("seed", [0.6]), "curve": (("seed", "epoch"), [[0.3]])},
    ...                coords={"seed": [1], "epoch": [1]})
    >>> c = xr.combine_by_coords(align_inner_dims([a, b]))
    >>> c.acc.dims, c.curve.values.tolist()
    (('seed',), [[0.1, 0.2], [0.3, nan]])
    """
    runs = list(runs)
    for i, run in enumerate(runs):
        if not isinstance(run, xr.Dataset):
            raise ValueError(f"runs[{i}] is a {type(run).__name__}; allowed: xarray.Dataset "
                             "(one run, e.g. from load_results)")
    coords: dict[str, list[tuple]] = {}
    for run in runs:
        if not run.data_vars:
            continue
        shared = set.intersection(*(set(v.dims) for v in run.data_vars.values()))
        for dim in run.dims:
            if dim not in shared and dim in run.coords:
                coords.setdefault(str(dim), []).append(tuple(run[dim].values.tolist()))
    for dim, values in coords.items():
        if len(set(values)) <= 1:
            continue
        union = sorted({v for vs in values for v in vs})
        runs = [r.reindex({dim: union}) if dim in r.dims else r for r in runs]
    return runs


#: Attributes that describe a single run and are dropped when runs are combined.
PER_RUN_ATTRS: tuple[str, ...] = ("run_seconds", "config", "created_at")


#: Units of variables that hold wall-clock timings: they differ between two
#: computations of the same run and are ignored when runs are compared.
TIMING_UNITS: frozenset[str] = frozenset({"s", "ms"})


def run_coordinates(ds: xr.Dataset) -> tuple[tuple[str, Any], ...]:
    """The grid point of one run: its length-1 dimensions and their values, sorted by name.

    Examples
    --------
    >>> ds = xr.Dataset({"acc": (("seed", "model"), [[0.5]])},
    ...                 coords={"seed": [1], "model": ["fc"]})
    >>> run_coordinates(ds)
    (('model', 'fc'), ('seed', 1))
    """
    out = []
    for dim in sorted(ds.dims):
        if ds.sizes[dim] == 1 and dim in ds.coords:
            value = ds[dim].values[0]
            out.append((str(dim), value.item() if hasattr(value, "item") else value))
    return tuple(out)


def _same_values(a: xr.Dataset, b: xr.Dataset) -> bool:
    names = [n for n in a.data_vars
             if n in b.data_vars and a[n].attrs.get("units") not in TIMING_UNITS]
    if set(a.data_vars) - set(b.data_vars) or set(b.data_vars) - set(a.data_vars):
        return False
    for name in names:
        x, y = a[name], b[name]
        if x.dims != y.dims or x.shape != y.shape:
            return False
        if x.dtype.kind in "fc":
            if not np.array_equal(x.values, y.values, equal_nan=True):
                return False
        elif not np.array_equal(x.values, y.values):
            return False
    return True


def check_duplicate_runs(runs: Sequence[xr.Dataset],
                         paths: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse two runs of the same grid point whose values differ.

    Runs are keyed by :func:`run_coordinates`; two files of one grid point are
    fine only if every data variable is identical (timings, whose ``units``
    are in :data:`TIMING_UNITS`, are not compared). Otherwise combining would
    keep one of them without a word, so this raises ``ValueError`` naming both files.

    Examples
    --------
    >>> a = xr.Dataset({"acc": ("seed", [0.5])}, coords={"seed": [0]})
    >>> check_duplicate_runs([a, a.copy()], ["a.nc", "b.nc"])      # identical: fine
    >>> check_duplicate_runs([a, a + 0.25], ["a.nc", "b.nc"])
    Traceback (most recent call last):
    ...
    ValueError: result files 'a.nc' and 'b.nc' are two different runs of the same grid point (seed=0); remove one of them or combine them separately
    """
    seen: dict[tuple, int] = {}
    for i, ds in enumerate(runs):
        key = run_coordinates(ds)
        if not key:
            continue
        j = seen.setdefault(key, i)
        if j != i and not _same_values(runs[j], ds):
            where = ", ".join(f"{k}={v}" for k, v in key)
            raise ValueError(
                f"result files {str(paths[j])!r} and {str(paths[i])!r} are two different runs "
                f"of the same grid point ({where}); remove one of them or combine them separately"
            )


# --------------------------------------------------------------------------- #
# provenance
# --------------------------------------------------------------------------- #
def _config_json(config: Any) -> str:
    from freqkit.sweep import config_json  # the one canonical config JSON (sweep imports us)

    return config_json(config)


def _git_state(repo: Path) -> tuple[str, int | str]:
    # GIT_OPTIONAL_LOCKS=0: `git status` must not take .git/index.lock to refresh the index
    # (a concurrent `git commit` in the same checkout would then fail on the lock).
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True, text=True, check=True, timeout=10, env=env,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = int(bool(git("status", "--porcelain", "--untracked-files=no")))
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    return commit, dirty


def _version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__)
    except Exception:  # noqa: BLE001 - absent or broken optional package
        return "unavailable"


def provenance(
    config: Any,
    *,
    dataset_source: str | None = None,
    dataset_checksum: str | None = None,
    device: str | None = None,
) -> dict[str, str | int]:
    """Flat provenance attributes for a results file.

    Parameters
    ----------
    config : dataclass instance or dict
        The run configuration; stored as sorted-key JSON in ``config``.
    dataset_source, dataset_checksum, device : str, optional
        Stored as given (``"unknown"`` when omitted; device defaults to
        ``"cpu"``).

    Returns
    -------
    dict
        ``config``, ``git_commit``, ``git_dirty`` (0/1, or ``"unknown"`` outside a
        git checkout), ``version_<pkg>`` for freqkit, torch, torchvision, foolbox,
        timm, numpy, xarray, ``device``, ``dataset_source``, ``dataset_checksum``
        and ``created_at`` (ISO 8601, UTC).

    Examples
    --------
    >>> attrs = provenance({"lr": 0.1, "depth": 2}, device="cpu")
    >>> json.loads(attrs["config"])
    {'depth': 2, 'lr': 0.1}
    >>> attrs["created_at"].endswith("+00:00"), attrs["device"]
    (True, 'cpu')
    """
    commit, dirty = _git_state(Path(__file__).resolve().parent)
    attrs: dict[str, str | int] = {
        "config": _config_json(config),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    for pkg in _VERSIONED_PACKAGES:
        attrs[f"version_{pkg}"] = _version(pkg)
    attrs["device"] = device if device is not None else "cpu"
    attrs["dataset_source"] = dataset_source if dataset_source is not None else "unknown"
    attrs["dataset_checksum"] = dataset_checksum if dataset_checksum is not None else "unknown"
    attrs["created_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return attrs
