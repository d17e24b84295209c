"""Figures and tables of the book: pure functions of results datasets.

Each chapter has a module ``freqkit.figures.chNN`` of ``fig_*(ds, ...) ->
plotly.graph_objects.Figure`` functions (tested on small synthetic results); a
notebook only calls them and :func:`freqkit.plots.show`. Shared here:

- :data:`MODEL_COLORS` / :func:`model_color`: one colour per model or family for the whole book;
- :func:`fig_learning_curves`: per-epoch training loss, training and validation
  accuracy of the kept attempt of every run (variables ``curve_*`` on dim
  ``epoch``, :func:`freqkit.experiments.common.learning_curve_vars`);
- :func:`table`: a :class:`pandas.DataFrame` as a notebook output that renders
  as a table both in Jupyter (HTML) and in the book (Markdown);
- :func:`require_data`, :func:`require_table`, :func:`require_choice`: the checks
  every figure makes first. A figure given results that lack what it draws raises
  a ``ValueError`` naming the figure and the missing variable, the empty dim or
  the variable without a single finite value -- never an empty figure or NaN lines.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit._validate import as_int
from freqkit.plots import COLORS, style

__all__ = ["MODEL_COLORS", "fig_learning_curves", "model_color", "require_choice", "require_data",
           "require_table", "table", "table_bundle"]

#: One colour per model name / architecture family, used by every chapter.
MODEL_COLORS: dict[str, str] = {
    "fc": "#1f77b4", "fkc": "#d62728", "lkc": "#2ca02c", "lc": "#9467bd",
    "cnn": "#2ca02c", "vit": "#ff7f0e", "hybrid": "#8c564b", "mlp": "#e377c2",
    "convmixer": "#17becf", "standard": "#1f77b4", "pgd": "#2ca02c", "fgsm": "#d62728",
}


def model_color(name: Any) -> str:
    """The book's colour of a model or family (a stable fallback for other names).

    Examples
    --------
    >>> model_color("fkc"), model_color("FKC")
    ('#d62728', '#d62728')
    >>> model_color("something-new") == model_color("something-new")
    True
    """
    key = str(name).lower()
    if key in MODEL_COLORS:
        return MODEL_COLORS[key]
    return COLORS[sum(map(ord, key)) % len(COLORS)]


def require_data(ds: Any, figure: str, variables: Mapping[str, Sequence[str]] | Sequence[str] = (), *,
                 labels: Sequence[str] = (), dims: Sequence[str] = (),
                 values: Mapping[str, Sequence[Any]] | None = None) -> xr.Dataset:
    """Check that results ``ds`` hold what figure ``figure`` draws; return ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
    figure : str
        Name of the figure function (every message starts with it).
    variables : mapping of str to dims, or sequence of str
        Numeric variables the figure draws (with the dims each must have); each
        must hold at least one finite value.
    labels : sequence of str
        Variables or coordinates that must exist (any dtype).
    dims : sequence of str
        Dims ``ds`` must have, each of size >= 1.
    values : mapping of str to values, optional
        Coordinate values a dim must have (e.g. ``{"image_set": ["cifar10"]}``).

    Raises
    ------
    ValueError
        ``ds`` is not a Dataset; a variable, label or dim is missing; a dim is empty;
        a variable lacks a dim, is not numeric or is NaN everywhere.

    Examples
    --------
    >>> ds = xr.Dataset({"f50": ("seed", [np.nan, np.nan])})
    >>> require_data(ds, "fig_f50", {"f50": ("seed",)})
    Traceback (most recent call last):
    ...
    ValueError: fig_f50: ds.f50 is NaN everywhere (every run failed or none was run); nothing to draw
    >>> require_data(ds, "fig_f50", ["f50", "f50_noise"])
    Traceback (most recent call last):
    ...
    ValueError: fig_f50: ds has no variable 'f50_noise'; the figure draws ['f50', 'f50_noise'] (re-run the chapter, or pass the results the figure is made from)
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"{figure}: ds must be an xarray.Dataset (the chapter's results), got {type(ds).__name__}")
    needed = dict(variables) if isinstance(variables, Mapping) else {v: () for v in variables}
    missing = [v for v in (*needed, *labels) if v not in ds.variables]
    if missing:
        raise ValueError(f"{figure}: ds has no variable {', '.join(map(repr, missing))}; the figure draws "
                         f"{list(needed) + list(labels)} (re-run the chapter, or pass the results the figure "
                         "is made from)")
    all_dims = list(dict.fromkeys([*dims, *(d for want in needed.values() for d in want)]))
    for d in all_dims:
        if d not in ds.dims:
            raise ValueError(f"{figure}: ds has no dim {d!r} (dims {list(ds.dims)})")
        if ds.sizes[d] == 0:
            raise ValueError(f"{figure}: ds has an empty dim {d!r} (size 0); nothing to draw")
    for d, wanted in (values or {}).items():
        have = [v.item() if isinstance(v, np.generic) else v for v in ds[d].values] if d in ds.dims else []
        absent = [v for v in wanted if v not in have]
        if absent:
            raise ValueError(f"{figure}: ds has no {d} {', '.join(map(repr, absent))} (the {d} values are "
                             f"{have}); the figure draws {list(wanted)}")
    for name, want in needed.items():
        var = ds[name]
        lacking = [d for d in want if d not in var.dims]
        if lacking:
            raise ValueError(f"{figure}: ds.{name} has dims {var.dims}; allowed: dims including {tuple(want)}")
        if var.dtype.kind not in "biuf":
            raise ValueError(f"{figure}: ds.{name} has dtype {var.dtype}; allowed: real numbers")
        if var.size == 0 or not bool(np.isfinite(var.values).any()):
            raise ValueError(f"{figure}: ds.{name} is NaN everywhere (every run failed or none was run); "
                             "nothing to draw")
    return ds


def require_table(table: Any, figure: str, columns: Sequence[str], *, numeric: Sequence[str] = ()) -> pd.DataFrame:
    """Check that a summary table has the ``columns`` figure ``figure`` draws and a row; return it.

    Each column in ``numeric`` must hold at least one finite number.

    Examples
    --------
    >>> require_table(pd.DataFrame({"model": []}), "fig_f50", ["model"])
    Traceback (most recent call last):
    ...
    ValueError: fig_f50: the table is empty (no rows); nothing to draw
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{figure}: table must be a pandas.DataFrame (the chapter's summary table), got "
                         f"{type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{figure}: the table has no column {', '.join(map(repr, missing))}; the figure draws "
                         f"{list(columns)}")
    if table.empty:
        raise ValueError(f"{figure}: the table is empty (no rows); nothing to draw")
    for c in numeric:
        values = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).any():
            raise ValueError(f"{figure}: the table's column {c!r} has no finite number (every run failed?); "
                             "nothing to draw")
    return table


def require_choice(value: Any, name: str, allowed: Iterable[Any]) -> Any:
    """``value`` if it equals one of ``allowed`` (e.g. a dim's coordinate values), else ValueError.

    Examples
    --------
    >>> require_choice("vit", "model", np.array(["fc", "lkc"]))
    Traceback (most recent call last):
    ...
    ValueError: model='vit' is not in the results; allowed: ['fc', 'lkc']
    """
    options = [v.item() if isinstance(v, np.generic) else v for v in allowed]
    if not any(type(value) is not bool and value == v for v in options):
        raise ValueError(f"{name}={value!r} is not in the results; allowed: {options}")
    return value


_CURVE_PANELS = (("curve_train_loss", "training loss"),
                 ("curve_train_accuracy", "training accuracy"),
                 ("curve_val_accuracy", "validation accuracy"))


def fig_learning_curves(ds: xr.Dataset, *, color: str = "model", facet: str | None = None,
                        title: str = "Learning curves (kept training attempt)") -> go.Figure:
    """Training loss, training and validation accuracy against epoch for every run.

    One line per run (all grid points), coloured by ``color``; with ``facet``
    one row of panels per value of that dim. Runs without a curve are skipped.

    Examples
    --------
    >>> ds = xr.Dataset({v: (("model", "seed", "epoch"), np.arange(8.0).reshape(2, 2, 2))
    ...                  for v, _ in _CURVE_PANELS},
    ...                 coords={"model": ["fc", "fkc"], "seed": [0, 1], "epoch": [1, 2]})
    >>> fig = fig_learning_curves(ds)
    >>> len(fig.data), fig.data[0].y.tolist(), fig.data[0].line.color
    (12, [0.0, 1.0], '#1f77b4')
    """
    figure = "fig_learning_curves"
    require_data(ds, figure, [v for v, _ in _CURVE_PANELS], dims=("epoch",))
    for arg, dim in (("color", color), ("facet", facet)):
        if dim is not None and dim not in ds.dims:
            raise ValueError(f"{figure}: {arg}={dim!r} is not a dim of ds; allowed: one of {list(ds.dims)}")
    require_data(ds, figure, {v: ("epoch",) for v, _ in _CURVE_PANELS}, dims=(color,) + ((facet,) if facet else ()))
    facets: Sequence[Any] = list(ds[facet].values) if facet else [None]
    fig = make_subplots(rows=len(facets), cols=3, shared_xaxes=True,
                        column_titles=[t for _, t in _CURVE_PANELS],
                        row_titles=[str(f) for f in facets] if facet else None,
                        horizontal_spacing=0.06, vertical_spacing=0.08)
    shown: set[str] = set()
    for r, f in enumerate(facets, start=1):
        sub = ds.sel({facet: f}) if facet else ds
        for c, (var, _) in enumerate(_CURVE_PANELS, start=1):
            da = sub[var]
            others = [d for d in da.dims if d not in ("epoch", color)]
            stacked = da.stack(run=others) if others else da.expand_dims(run=[0])
            colors = list(da[color].values) if color in da.dims else [None]
            for cval in colors:
                part = stacked.sel({color: cval}) if cval is not None else stacked
                for i in range(part.sizes["run"]):
                    y = part.isel(run=i).transpose("epoch").values.astype(float)
                    if not np.isfinite(y).any():
                        continue
                    name = str(cval)
                    fig.add_trace(go.Scatter(
                        x=part.epoch.values, y=y, mode="lines", name=name.upper(),
                        legendgroup=name, showlegend=name not in shown,
                        line={"color": model_color(name), "width": 1.2}, opacity=0.7,
                    ), row=r, col=c)
                    shown.add(name)
    if not fig.data:
        raise ValueError(f"{figure}: no run has a finite learning curve; nothing to draw")
    style(fig, title=title, legend_title=color, height=240 * len(facets) + 100)
    fig.update_xaxes(title_text="epoch", row=len(facets))
    return fig


def table_bundle(df: pd.DataFrame, caption: str = "", *, index: bool = False,
                 digits: int = 3) -> dict[str, str]:
    """``{"text/markdown": ..., "text/html": ...}`` of a data frame (no tabulate needed).

    Floats are rounded to ``digits`` significant digits; ``|`` is escaped in Markdown.

    Examples
    --------
    >>> b = table_bundle(pd.DataFrame({"model": ["fc"], "acc": [0.12345]}), "Accuracy")
    >>> print(b["text/markdown"])
    Accuracy
    <BLANKLINE>
    | model | acc |
    |---|---|
    | fc | 0.123 |
    >>> "<th>acc</th>" in b["text/html"]
    True
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas.DataFrame, got {type(df).__name__}")
    digits = as_int(digits, "digits", minimum=1)
    frame = df.reset_index() if index else df

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{float(v):.{digits}g}"
        return str(v)

    header = [str(c) for c in frame.columns]
    rows = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    md = ("" if not caption else caption + "\n\n") + "| " + " | ".join(header) + " |\n|" \
        + "---|" * len(header) + "\n" \
        + "\n".join("| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in rows)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    htm = (f"<p>{html.escape(caption)}</p>" if caption else "") + '<table class="table"><thead><tr>' \
        + "".join(f"<th>{html.escape(h)}</th>" for h in header) + f"</tr></thead><tbody>{body}" \
        + "</tbody></table>"
    return {"text/markdown": md, "text/html": htm}


def table(df: pd.DataFrame, caption: str = "", **kwargs: Any) -> None:
    """Display :func:`table_bundle` of ``df`` in a notebook."""
    from IPython.display import display

    display(table_bundle(df, caption, **kwargs), raw=True)
