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
from typing import Any

import pandas as pd
import xarray as xr

__all__ = ["check_parameters", "glue", "run_table", "setup_notebook", "tag_parameter_cells"]

# tqdm.auto warns (with a machine path) when ipywidgets is absent; chapters import this module
# first, before anything imports tqdm
warnings.filterwarnings("ignore", message="IProgress not found")


def setup_notebook() -> None:
    """Offline plotly, quiet progress bars, ``HF_HUB_OFFLINE=1`` and the torch thread count.

    ``FREQKIT_THREADS`` sets the number of torch threads (default ``min(2, cores)``).
    """
    import torch

    from freqkit import plots

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", message="IProgress not found")
    plots.configure_offline()
    torch.set_num_threads(int(os.environ.get("FREQKIT_THREADS",
                                             max(1, min(2, os.cpu_count() or 1)))))


#: Names IPython defines in every kernel namespace (not notebook parameters).
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def check_parameters(namespace: dict[str, Any], chapter: Any) -> None:
    """Fail on a notebook parameter the chapter does not take (e.g. ``-p presett cpu``).

    Call it in the first cell after the ``parameters`` cell, with ``globals()``:
    every public name defined so far that holds a plain value (str, number,
    bool, None, list, dict — what papermill injects) must be ``preset``,
    ``results_dir`` or one of the chapter's ``overrides``.

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
    allowed = ["preset", "results_dir", *getattr(chapter, "overrides", ())]
    for name, value in namespace.items():
        if name.startswith("_") or name in _KERNEL_NAMES or name in allowed:
            continue
        if not isinstance(value, (str, int, float, bool, list, dict, tuple, type(None))):
            continue  # modules and functions imported by the cell, not parameters
        raise ValueError(f"unknown notebook parameter {name}={value!r} for chapter "
                         f"{chapter.name}; allowed: {allowed}")


def glue(name: str, value: Any, fmt: str = "{}") -> str:
    """Format ``value`` with ``fmt`` and glue the text under ``name`` (myst-nb, not displayed).

    The chapter's Markdown then shows it with ``{glue:text}`name```. Returns the
    text, so a cell can also print it. Outside a notebook kernel (or without
    myst-nb) only the text is returned.
    """
    text = fmt.format(value)
    try:
        from IPython import get_ipython
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb is part of the book extra
        return text
    if get_ipython() is not None:
        _glue(name, text, display=False)
    return text


def tag_parameter_cells(path: str | os.PathLike[str]) -> None:
    """Hide a papermill-executed notebook's default ``parameters`` cell in the book.

    The cell papermill injects (tag ``injected-parameters``) shows the values the
    chapter ran with; the defaults above it would only repeat or contradict it,
    so they get the Jupyter Book tag ``remove-cell``.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    if not any("injected-parameters" in t for t in tags):
        return
    for cell, t in zip(nb.cells, tags):
        if "parameters" in t and "remove-cell" not in t:
            cell.metadata["tags"] = [*t, "remove-cell"]
    nbformat.write(nb, path)


def run_table(ds: xr.Dataset) -> pd.DataFrame:
    """What was run: chapter, preset, number of runs, data sources, skipped data, commit.

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"chapter": "ch01", "preset": "smoke", "n_runs": 4,
    ...     "dataset_sources": '{"fashion-mnist": "debian fashion-mnist (sha256:ab…)"}',
    ...     "skipped_datasets": "", "git_commit": "0123456789abcdef", "git_dirty": 0})
    >>> run_table(ds).value.tolist()[:3]
    ['ch01', 'smoke', '4']
    """
    a = ds.attrs
    sources = json.loads(a.get("dataset_sources", "{}") or "{}")
    rows = [("chapter", a.get("chapter", "?")), ("preset", a.get("preset", "?")),
            ("runs", str(a.get("n_runs", "?")))]
    rows += [(f"data: {k}", v) for k, v in sources.items()]
    rows.append(("skipped data", a.get("skipped_datasets") or "none"))
    if "git_commit" in a:
        dirty = " (uncommitted changes)" if a.get("git_dirty") == 1 else ""
        rows.append(("code", f"git {str(a['git_commit'])[:10]}{dirty}"))
    else:  # runs made at different commits: each run file names its own
        rows.append(("code", "several git commits (each run file records its own)"))
    return pd.DataFrame(rows, columns=["", "value"])
