"""Helpers for the chapter notebooks: set-up, glued numbers, run information.

Every measured number in a chapter's prose is inserted from the results with
myst-nb's ``glue`` (:func:`glue`) and the ``{glue:text}`` role, never typed by hand.

Examples
--------
>>> glue("demo_value", 0.123456, "{:.3f}")
'0.123'
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

__all__ = ["check_parameters", "glue", "run_table", "setup_notebook", "tag_parameter_cells", "unavailable_reason",
           "write_unavailable_page"]

# tqdm.auto warns (with a machine path) when ipywidgets is absent; chapters import this module
# first, before anything imports tqdm
warnings.filterwarnings("ignore", message="IProgress not found")


def setup_notebook() -> None:
    """Offline plotly, quiet progress bars, ``HF_HUB_OFFLINE=1`` and the torch thread count.

    ``FREQKIT_THREADS`` sets the number of torch threads (default ``min(2, cores)``); anything
    but a positive integer there is an error.
    """
    import torch

    from freqkit import plots

    text = os.environ.get("FREQKIT_THREADS")
    threads = max(1, min(2, os.cpu_count() or 1))
    if text is not None:
        try:
            threads = int(text)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"FREQKIT_THREADS={text!r} is not allowed; use a positive integer (the number "
                             "of torch threads), or unset it for min(2, cores)")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")
    plots.configure_offline()
    torch.set_num_threads(threads)


#: Names IPython defines in every kernel namespace (not notebook parameters).
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def check_parameters(namespace: dict[str, Any], chapter: Any) -> None:
    """Fail on a notebook parameter the chapter does not take (e.g. ``-p presett cpu``).

    Call it in the first cell after the ``parameters`` cell, with ``globals()``:
    every public name defined so far that holds a plain value (str, number,
    bool, None, list, dict — what papermill injects) must be ``preset``,
    ``results_dir`` or one of the chapter's ``overrides``. ``chapter`` is a
    :class:`~freqkit.experiments.scaffold.Chapter` or its name. For a Chapter the
    values are checked too, before anything runs: ``preset`` must be one of its
    presets, ``results_dir`` None or a folder path, and the overrides must be
    accepted by its grid (pure: no data are loaded).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ch = SimpleNamespace(name="ch03", overrides=("datasets",))
    >>> check_parameters({"preset": "cpu", "results_dir": None, "_i": ""}, ch)
    >>> check_parameters({"preset": "smoke", "presett": "cpu"}, ch)
    Traceback (most recent call last):
    ...
    ValueError: unknown notebook parameter presett='cpu' for chapter ch03; allowed: ['preset', 'results_dir', 'datasets']
    """
    import numpy as np

    from freqkit.experiments.scaffold import Chapter, chapters

    if not isinstance(namespace, Mapping):
        raise ValueError(f"namespace={namespace!r} is not allowed; pass the notebook's globals()")
    if isinstance(chapter, str):
        registry = chapters()
        if chapter not in registry:
            raise ValueError(f"chapter={chapter!r} is not allowed; use one of {registry.names()}")
        chapter = registry.get(chapter)
    if not isinstance(getattr(chapter, "name", None), str) or not isinstance(
            getattr(chapter, "overrides", ()), (tuple, list)):
        raise ValueError(f"chapter={chapter!r} is not allowed; use a Chapter (e.g. ch03.CHAPTER) or its name")
    allowed = ["preset", "results_dir", *getattr(chapter, "overrides", ())]
    for name, value in namespace.items():
        if name.startswith("_") or name in _KERNEL_NAMES or name in allowed:
            continue
        if not isinstance(value, (str, int, float, bool, list, dict, tuple, type(None), np.generic)):
            continue  # modules and functions imported by the cell, not parameters
        raise ValueError(f"unknown notebook parameter {name}={value!r} for chapter "
                         f"{chapter.name}; allowed: {allowed}")
    if not isinstance(chapter, Chapter):
        return
    results_dir = namespace.get("results_dir")
    if results_dir is not None and (not isinstance(results_dir, (str, os.PathLike)) or not os.fspath(results_dir)):
        raise ValueError(f"notebook parameter results_dir={results_dir!r} is not allowed; use a folder path "
                         "or None")
    overrides = {k: namespace[k] for k in chapter.overrides if k in namespace}
    chapter.grid(namespace.get("preset", "smoke"), available=(), **overrides)  # checks preset and values


class GluedText(str):
    """The text :func:`glue` returns: a ``str`` that IPython does not display when it is
    the last expression of a cell (so a ``glue`` call never leaves a stray output)."""

    def _ipython_display_(self) -> None:
        return None


def glue(name: str, value: Any, fmt: str = "{}") -> str:
    """Format ``value`` with ``fmt`` and glue the text under ``name`` (myst-nb, not displayed).

    The chapter's Markdown then shows it with ``{glue:text}`name```. Returns the
    text (a :class:`GluedText`, which a notebook does not echo as a cell's last line), so a
    cell can also print it. Outside a notebook kernel (or without myst-nb) only the text is
    returned.

    Examples
    --------
    >>> glue("ch_x", 0.12345, "{:.2f}")
    '0.12'
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} is not allowed; use a non-empty str (the key of {{glue:text}}`name`)")
    if not isinstance(fmt, str):
        raise ValueError(f"fmt={fmt!r} is not allowed; use a format string such as '{{:.3f}}'")
    try:
        text = fmt.format(value)
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise ValueError(f"fmt={fmt!r} cannot format value={value!r} for glue {name!r}: {err}") from None
    try:
        from IPython import get_ipython
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb is part of the book extra
        return GluedText(text)
    if get_ipython() is not None:
        _glue(name, text, display=False)
    return GluedText(text)


def tag_parameter_cells(path: str | os.PathLike[str]) -> None:
    """Hide a papermill-executed notebook's default ``parameters`` cell in the book.

    The cell papermill injects (tag ``injected-parameters``) shows the values the
    chapter ran with; the defaults above it would only repeat or contradict it,
    so they get the Jupyter Book tag ``remove-cell``.
    """
    import nbformat

    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise ValueError(f"path={str(path)!r} is not allowed; it is no notebook file")
    try:
        nb = nbformat.read(path, as_version=4)
    except (ValueError, KeyError, AttributeError) as err:  # nbformat's NotJSONError is a ValueError
        raise ValueError(f"path={str(path)!r} is not allowed: it is no Jupyter notebook ({str(err)[:80]})") from None
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    if not any("injected-parameters" in t for t in tags):
        return
    for cell, t in zip(nb.cells, tags):
        if "parameters" in t and "remove-cell" not in t:
            cell.metadata["tags"] = [*t, "remove-cell"]
    nbformat.write(nb, path)


def _chapter_of(notebook: str | os.PathLike[str]) -> Any:
    """The registered chapter whose notebook is ``notebook`` (a path relative to the repository)."""
    from freqkit.experiments.scaffold import chapters

    registry = chapters()
    repo = Path(__file__).resolve().parents[1]
    if isinstance(notebook, (str, os.PathLike)):
        path = Path(notebook)
        path = (path if path.is_absolute() else repo / path).resolve()
        for ch in (registry.get(n) for n in registry.names()):
            if (repo / ch.notebook).resolve() == path:
                return ch
    raise ValueError(f"notebook={notebook!r} is not allowed; use a chapter notebook: "
                     f"{[registry.get(n).notebook for n in registry.names()]}")


def unavailable_reason(notebook: str | os.PathLike[str], preset: str) -> str:
    """Why a chapter notebook cannot run on this machine at ``preset`` ("" when it can).

    :meth:`freqkit.experiments.scaffold.Chapter.unavailable` of the chapter whose
    notebook it is: no data and no finished runs in its results folder.

    Examples
    --------
    >>> unavailable_reason("notebooks/00_fourier_toolkit.ipynb", "smoke")  # foolbox's images
    ''
    """
    return str(_chapter_of(notebook).unavailable(preset))


def write_unavailable_page(notebook: str | os.PathLike[str], out: str | os.PathLike[str], reason: str) -> None:
    """Write the page of a chapter that cannot run here: its first (title) cell and why it is not built.

    The book keeps the chapter in its table of contents and says so, instead of
    failing the whole build or leaving the page out silently.
    """
    import nbformat

    if not isinstance(reason, str) or not reason:
        raise ValueError(f"reason={reason!r} is not allowed; use the text of unavailable_reason(...)")
    ch = _chapter_of(notebook)
    nb = nbformat.read(notebook, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    note = nbformat.v4.new_markdown_cell(
        f"```{{important}}\nThis chapter was not built on this machine: {reason}.\n\n"
        f"Run it where its data are (`freqkit run {ch.name} --preset ...`), or build the book at a preset "
        "whose run files are in the results folder (the committed `cpu` results).\n```")
    nb.cells = [c for c in (first, note) if c is not None]
    nbformat.write(nb, out)


def _json_attr(attrs: Mapping[str, Any], name: str, kind: type, what: str) -> Any:
    """The JSON attribute ``name`` (absent or empty: an empty ``kind``), which must decode to a ``kind``."""
    try:
        value = json.loads(attrs.get(name, "") or ("{}" if kind is dict else "[]"))
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, kind):
        raise ValueError(f"ds.attrs[{name!r}]={attrs.get(name)!r} is not allowed; it must be {what}")
    return value


def run_table(ds: xr.Dataset) -> pd.DataFrame:
    """What was run: chapter, preset, number of runs, data sources, skipped data, commit.

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"chapter": "ch01", "preset": "smoke", "n_runs": 4,
    ...     "dataset_sources": '{"fashion-mnist": "debian fashion-mnist (sha256:ab…)"}',
    ...     "skipped_datasets": "", "git_commit": "0123456789abcdef", "git_dirty": 0})
    >>> run_table(ds).value.tolist()[:3]
    ['ch01', 'smoke', '4']
    >>> ds.attrs["finished_only_datasets"] = '["cifar10"]'
    >>> run_table(ds).set_index("").value["data: cifar10"][:21]
    'does not load here: r'

    With learning curves in the results, a row counts the runs that meet
    :data:`freqkit.experiments.common.TRAINED_RULE`.
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds={ds!r} is not allowed; use a chapter's results (Chapter.run(...))"[:300])
    a = ds.attrs
    sources = _json_attr(a, "dataset_sources", dict, "the JSON object Chapter.run writes (dataset name -> source)")
    rows = [("chapter", a.get("chapter", "?")), ("preset", a.get("preset", "?")),
            ("runs", str(a.get("n_runs", "?")))]
    rows += [(f"data: {k}", v) for k, v in sources.items()]
    finished_only = _json_attr(a, "finished_only_datasets", list, "the JSON list Chapter.run writes")
    rows += [(f"data: {k}", "does not load here: read from its finished run files (their provenance names "
              "the source and checksum)") for k in finished_only]
    rows.append(("skipped data", a.get("skipped_datasets") or "none"))
    if "curve_val_accuracy" in ds and "epoch" in ds.curve_val_accuracy.dims:
        from freqkit.experiments.common import TRAINED_RULE, trained_by_rule

        present = ds.curve_val_accuracy.notnull().any("epoch")
        n_trained = int((trained_by_rule(ds) & present).sum())
        rows.append(("runs trained by the rule", f"{n_trained} of {int(present.sum())} ({TRAINED_RULE})"))
    if "git_commit" in a:
        dirty = " (uncommitted changes)" if a.get("git_dirty") == 1 else ""
        rows.append(("code", f"git {str(a['git_commit'])[:10]}{dirty}"))
    else:  # runs made at different commits: each run file names its own
        rows.append(("code", "several git commits (each run file records its own)"))
    return pd.DataFrame(rows, columns=["", "value"])
