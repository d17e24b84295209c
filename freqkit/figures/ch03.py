"""Figures of chapter 3 (κ_high vs kernel size): pure functions of
:func:`freqkit.experiments.ch03.kappa_summary`, :func:`freqkit.experiments.ch03.theory_curves`
and the chapter's combined results."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.colors import sample_colorscale

from freqkit import figures
from freqkit._validate import as_int
from freqkit.experiments.ch03 import flat_kappa_high
from freqkit.figures import require_data
from freqkit.plots import COLORS, line_with_error, style

__all__ = ["THEORY_LINES", "VARIABLES", "fig_kappa", "fig_kappa_vs_accuracy",
           "fig_learning_curves", "kernel_size_colors"]

#: Measured variables of :func:`~freqkit.experiments.ch03.kappa_summary` -> symbol.
VARIABLES: dict[str, str] = {"beta_kappa_high": "β̂", "delta_kappa_high": "δ̂"}
#: Theory variables of :func:`~freqkit.experiments.ch03.theory_curves` -> (legend name, dash).
THEORY_LINES: dict[str, tuple[str, str]] = {"box": ("box kernel", "dash"),
                                           "bound": ("uncertainty bound", "dot"),
                                           "random_mean": ("random kernel", "dashdot")}


def _depth_labels(values: np.ndarray) -> list[str]:
    return [f"L = {int(d)}" for d in values]


def fig_kappa(summary: xr.Dataset, theory: xr.Dataset | None = None,
              var: str = "beta_kappa_high") -> go.Figure:
    """The paper's figure 4: κ_high of β̂ or δ̂ against kernel size, one line per depth.

    Measured: mean ± sd over seeds (failed runs left out); ``theory``: the box
    kernel, uncertainty bound and random-kernel curves of each depth, dashed,
    in the colour of that depth's measured line.

    Examples
    --------
    >>> from freqkit.experiments.ch03 import _toy_results, kappa_summary, theory_curves
    >>> s = kappa_summary(_toy_results())
    >>> fig = fig_kappa(s, theory_curves([3, 11, 32], [1, 3], draws=8))
    >>> len(fig.data), fig.data[1].y.round(2).tolist(), fig.data[4].line.dash
    (10, [0.81, 0.46, 0.11], 'dash')
    >>> fig_kappa(s, var="accuracy")
    Traceback (most recent call last):
    ...
    ValueError: var='accuracy' is not allowed; use one of ['beta_kappa_high', 'delta_kappa_high']
    """
    if var not in VARIABLES:
        raise ValueError(f"var={var!r} is not allowed; use one of {list(VARIABLES)}")
    require_data(summary, "fig_kappa", {var: ("depth", "kernel_size")})
    if theory is not None:
        require_data(theory, "fig_kappa (theory)", {tv: ("depth", "kernel_size") for tv in THEORY_LINES})
    da = summary[var].assign_coords(depth=_depth_labels(summary.depth.values))
    fig = line_with_error(da, x="kernel_size", color="depth", name_format="LKC {} (measured)")
    if theory is not None:
        for i, depth in enumerate(theory.depth.values):
            for tv, (name, dash) in THEORY_LINES.items():
                fig.add_trace(go.Scatter(
                    x=theory.kernel_size.values, y=theory[tv].sel(depth=depth).values,
                    mode="lines", opacity=0.7, name=f"{name}, L = {int(depth)} (theory)",
                    line={"dash": dash, "width": 1.5, "color": COLORS[i % len(COLORS)]}))
    k = summary.attrs.get("kappa_k", 15)
    label = VARIABLES[var] + (f" (ε = {summary.attrs['epsilon']:g})"
                              if var.startswith("delta") and "epsilon" in summary.attrs else "")
    return style(fig, title=f"κ_high({k}) of {label} vs kernel size",
                 xaxis_title="kernel size k", yaxis_title=f"κ_high({k})")


def fig_kappa_vs_accuracy(summary: xr.Dataset) -> go.Figure:
    """κ_high(β̂) against test accuracy, one marker per run (colour: depth, label: k).

    A horizontal line marks κ_high of a flat spectrum (a random, untrained
    kernel stack, :func:`~freqkit.experiments.ch03.flat_kappa_high`).

    Examples
    --------
    >>> from freqkit.experiments.ch03 import _toy_results, kappa_summary
    >>> fig = fig_kappa_vs_accuracy(kappa_summary(_toy_results()))
    >>> len(fig.data), fig.data[0].name, len(fig.data[0].x), fig.data[0].text[0]
    (2, 'L = 1', 6, 'k = 3')
    """
    require_data(summary, "fig_kappa_vs_accuracy",
                 {v: ("depth", "kernel_size", "seed") for v in ("test_accuracy", "beta_kappa_high")})
    fig = go.Figure()
    for i, depth in enumerate(summary.depth.values):
        sub = summary.sel(depth=depth).transpose("kernel_size", "seed")
        ks = np.repeat(sub.kernel_size.values, sub.sizes["seed"])
        fig.add_trace(go.Scatter(
            x=100 * sub.test_accuracy.values.ravel(), y=sub.beta_kappa_high.values.ravel(),
            mode="markers+text", text=[f"k = {int(k)}" for k in ks], textposition="top center",
            name=f"L = {int(depth)}", marker={"color": COLORS[i % len(COLORS)], "size": 8}))
    flat = flat_kappa_high(int(summary.attrs.get("image_size", 32)),
                           int(summary.attrs.get("kappa_k", 15)))
    fig.add_hline(y=flat, line_dash="dashdot", line_color="#555555", line_width=1.5, opacity=0.8,
                  annotation_text=f"flat spectrum (random kernels): {flat:.2f}")
    return style(fig, title="κ_high(β̂) vs test accuracy (one marker per run)",
                 xaxis_title="test accuracy [%]", yaxis_title="κ_high(β̂)", legend_title="depth")


def kernel_size_colors(kernel_sizes: np.ndarray | list[int]) -> dict[int, str]:
    """One colour per kernel size along a sequential scale (small k dark, large k light).

    Examples
    --------
    >>> kernel_size_colors([3, 32])
    {3: 'rgb(68, 1, 84)', 32: 'rgb(253, 231, 37)'}
    """
    ks = [as_int(k, "kernel_sizes", minimum=1) for k in kernel_sizes]
    points = [0.5] if len(ks) == 1 else list(np.linspace(0, 1, len(ks)))
    return dict(zip(ks, sample_colorscale("Viridis", points)))


def fig_learning_curves(ds: xr.Dataset) -> go.Figure:
    """Learning curves of every run's kept attempt, one row per depth, coloured by kernel size.

    :func:`freqkit.figures.fig_learning_curves` with a sequential colour per
    kernel size (:func:`kernel_size_colors`).

    Examples
    --------
    >>> from freqkit.experiments.ch03 import _toy_results
    >>> fig = fig_learning_curves(_toy_results())
    >>> len(fig.data), fig.data[0].name, fig.data[0].line.color
    (36, 'k = 3', 'rgb(68, 1, 84)')
    """
    require_data(ds, "fig_learning_curves", dims=("depth", "kernel_size"))
    d = ds.assign_coords(depth=_depth_labels(ds.depth.values))
    fig = figures.fig_learning_curves(d, color="kernel_size", facet="depth",
                                      title="Learning curves (kept training attempt of every run)")
    colors = kernel_size_colors(ds.kernel_size.values)
    for trace in fig.data:
        k = int(trace.legendgroup)
        trace.update(name=f"k = {k}", line_color=colors[k])
    fig.update_layout(legend_title_text="kernel size")
    return fig
