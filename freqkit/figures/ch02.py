"""Figures of chapter 2 (half-power frequency f50 across datasets): pure functions of
:func:`freqkit.experiments.ch02.f50_summary` / :func:`~freqkit.experiments.ch02.f50_runs`."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit._validate import as_real
from freqkit.experiments.ch02 import F50_VARS
from freqkit.figures import model_color, require_choice, require_data
from freqkit.plots import style

__all__ = ["fig_f50_by_depth", "fig_f50_datasets", "fig_f50_vs_accuracy"]


def _seed_sd(da: xr.DataArray) -> np.ndarray:
    """Standard deviation over seeds (zeros with a single seed)."""
    sd = da.std("seed", ddof=1) if da.sizes["seed"] > 1 else 0 * da.mean("seed")
    return np.asarray(sd)


def fig_f50_datasets(summary: xr.Dataset) -> go.Figure:
    """The paper's figure 3: bars of f50(β̂) and f50(δ̂) per dataset and model.

    Bar: mean over seeds of the depth- and nonlinearity-averaged f50
    (:func:`~freqkit.experiments.ch02.f50_summary`); error bar: sd over seeds.

    Examples
    --------
    >>> from freqkit.experiments.ch02 import _toy_results, f50_summary
    >>> fig = fig_f50_datasets(f50_summary(_toy_results()))
    >>> len(fig.data), fig.data[0].name, fig.data[0].y.round(4).tolist()
    (6, 'LKC', [0.323, 0.323])
    """
    require_data(summary, "fig_f50_datasets", {var: ("dataset", "model", "seed") for var in F50_VARS})
    fig = make_subplots(rows=1, cols=len(F50_VARS), shared_yaxes=True,
                        subplot_titles=[f"f50 of {s}" for s in F50_VARS.values()])
    for c, var in enumerate(F50_VARS, start=1):
        for model in summary.model.values:
            da = summary[var].sel(model=model)
            fig.add_trace(go.Bar(
                x=[str(d) for d in da.dataset.values], y=da.mean("seed").values,
                error_y={"array": _seed_sd(da)}, name=str(model).upper(),
                marker_color=model_color(model), legendgroup=str(model), showlegend=(c == 1),
            ), row=1, col=c)
    style(fig, title="Half-power frequency (averaged over depths and nonlinearities)",
          legend_title="model", yaxis_title="f50 [cycles/pixel]")
    fig.update_layout(barmode="group")
    return fig


def fig_f50_by_depth(runs: xr.Dataset, dataset: str | None = None) -> go.Figure:
    """f50(β̂) and f50(δ̂) against depth, a row per nonlinearity (mean ± sd over seeds).

    ``runs`` is :func:`~freqkit.experiments.ch02.f50_runs`; ``dataset`` defaults
    to the first one.

    Examples
    --------
    >>> from freqkit.experiments.ch02 import _toy_results, f50_runs
    >>> fig = fig_f50_by_depth(f50_runs(_toy_results()), "b")
    >>> len(fig.data), fig.data[0].y.round(4).tolist()
    (12, [0.3105, 0.3205, 0.3305])
    """
    grid = ("dataset", "nonlinearity", "model", "depth", "seed")
    require_data(runs, "fig_f50_by_depth", {var: grid for var in F50_VARS})
    name = str(runs.dataset.values[0]) if dataset is None else dataset
    require_choice(name, "dataset", runs.dataset.values)
    full = require_data(runs.sel(dataset=name), f"fig_f50_by_depth (dataset {name!r})",
                        {var: grid[1:] for var in F50_VARS})
    nls = [str(n) for n in full.nonlinearity.values]
    fig = make_subplots(rows=len(nls), cols=len(F50_VARS), shared_xaxes=True, row_titles=nls,
                        column_titles=[f"f50 of {s}" for s in F50_VARS.values()])
    for r, nl in enumerate(nls, start=1):
        for c, var in enumerate(F50_VARS, start=1):
            for model in full.model.values:
                m = full[var].sel(nonlinearity=nl, model=model)
                fig.add_trace(go.Scatter(
                    x=m.depth.values, y=m.mean("seed").values, error_y={"array": _seed_sd(m)},
                    mode="lines+markers", name=str(model).upper(), legendgroup=str(model),
                    line={"color": model_color(model)}, showlegend=(r == 1 and c == 1),
                ), row=r, col=c)
    style(fig, title=f"f50 vs depth ({name})", legend_title="model", height=300 * len(nls) + 80)
    fig.update_xaxes(title_text="depth L", dtick=1, row=len(nls))
    return fig


def fig_f50_vs_accuracy(runs: xr.Dataset, flat: float | None = None) -> go.Figure:
    """f50(β̂) of every run against its test accuracy, coloured by model, a symbol per dataset.

    ``runs`` is :func:`~freqkit.experiments.ch02.f50_runs`; ``flat`` (e.g.
    :func:`~freqkit.experiments.ch02.flat_f50`) draws the f50 of a flat spectrum
    as a dashed line.

    Examples
    --------
    >>> from freqkit.experiments.ch02 import _toy_results, f50_runs
    >>> fig = fig_f50_vs_accuracy(f50_runs(_toy_results()), flat=0.4)
    >>> len(fig.data), len(fig.data[0].x), fig.data[0].marker.color
    (6, 12, '#2ca02c')
    """
    require_data(runs, "fig_f50_vs_accuracy", {v: ("dataset", "model") for v in ("beta_f50", "test_accuracy")})
    flat = as_real(flat, "flat", minimum=0, allow_none=True)
    fig = go.Figure()
    symbols = ("circle", "square", "diamond", "triangle-up", "x", "cross")
    for i, dataset in enumerate(runs.dataset.values):
        for model in runs.model.values:
            sub = runs.sel(dataset=dataset, model=model)
            f, a = sub.beta_f50.values.ravel(), sub.test_accuracy.values.ravel()
            ok = np.isfinite(f) & np.isfinite(a)
            fig.add_trace(go.Scatter(
                x=a[ok], y=f[ok], mode="markers", name=f"{str(model).upper()} · {dataset}",
                legendgroup=str(model),
                marker={"color": model_color(model), "symbol": symbols[i % len(symbols)],
                        "size": 8, "opacity": 0.8},
            ))
    if not any(len(t.x) for t in fig.data):
        raise ValueError("fig_f50_vs_accuracy: no run has both a finite beta_f50 and a finite test_accuracy; "
                         "nothing to draw")
    if flat is not None:
        fig.add_hline(y=flat, line_dash="dash", line_color="gray",
                      annotation_text=f"flat spectrum: {flat:.3f}")
    style(fig, title="f50 of β̂ and test accuracy (one point per run)", legend_title="model · data",
          xaxis_title="test accuracy", yaxis_title="f50 of β̂ [cycles/pixel]")
    return fig
