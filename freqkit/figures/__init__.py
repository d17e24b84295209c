"""Figures and tables of the book: pure functions of results datasets.

Each chapter has a module ``freqkit.figures.chNN`` of ``fig_*(ds, ...) ->
plotly.graph_objects.Figure`` functions (tested on small synthetic results); a
notebook only calls them and :func:`freqkit.plots.show`. Shared here:

- :data:`MODEL_COLORS` / :func:`model_color`: one colour per model or family for the whole book;
- :func:`fig_learning_curves`: per-epoch training loss, training and validation
  accuracy of the kept attempt of every run (variables ``curve_*`` on dim
  ``epoch``, :func:`freqkit.experiments.common.learning_curve_vars`);
- :func:`table`: a :class:`pandas.DataFrame` as a notebook output that renders
  as a table both in Jupyter (HTML) and in the book (Markdown).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit.plots import COLORS, style

__all__ = ["MODEL_COLORS", "fig_learning_curves", "model_color", "table", "table_bundle"]

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
    missing = [v for v, _ in _CURVE_PANELS if v not in ds]
    if missing:
        raise ValueError(f"ds has no learning curves (missing {missing}); re-run the chapter")
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
