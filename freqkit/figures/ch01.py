"""Figures of chapter 1 (implicit bias in norms, FC vs FKC): pure functions of
:func:`freqkit.experiments.ch01.norm_summary` / the chapter's results."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit._validate import as_real
from freqkit.figures import model_color, require_data
from freqkit.plots import style

__all__ = ["NORM_PANELS", "SCALE_FREE_PANELS", "fig_beta_spectra", "fig_norms", "fig_scale_free"]

#: Figure-2 panels: variable of :func:`~freqkit.experiments.ch01.norm_summary` -> title.
NORM_PANELS = (("beta_l1_hat_maxnorm", "(a) ‖β̂‖₁"), ("beta_l2_hat_maxnorm", "(b) ‖β̂‖₂ = ‖β‖₂"),
               ("delta_l1_hat_maxnorm", "(c) ‖δ̄̂‖₁"), ("delta_l2_hat_maxnorm", "(d) ‖δ̄̂‖₂"))
SCALE_FREE_PANELS = (("beta_sparsity", "‖β̂‖₁/‖β̂‖₂"), ("delta_sparsity", "‖δ̄̂‖₁/‖δ̄̂‖₂"),
                     ("beta_l2_per_margin", "‖β‖₂ / median margin"))


def _panels_vs_depth(summary: xr.Dataset, panels, title: str, figure: str) -> go.Figure:
    grid = ("dataset", "nonlinearity", "model", "depth", "seed")
    require_data(summary, figure, {var: grid for var, _ in panels})
    groups = [(d, n) for d in summary.dataset.values for n in summary.nonlinearity.values]
    fig = make_subplots(rows=len(groups), cols=len(panels), shared_xaxes=True,
                        column_titles=[t for _, t in panels],
                        row_titles=[f"{d} / {n}" for d, n in groups],
                        horizontal_spacing=0.06, vertical_spacing=0.06)
    for r, (d, n) in enumerate(groups, start=1):
        for c, (var, _) in enumerate(panels, start=1):
            for model in summary.model.values:
                da = summary[var].sel(dataset=d, nonlinearity=n, model=model)
                mean = da.mean("seed")
                sd = da.std("seed", ddof=1) if da.sizes["seed"] > 1 else 0 * mean
                fig.add_trace(go.Scatter(
                    x=da.depth.values, y=mean.values, error_y={"array": np.asarray(sd)},
                    name=str(model).upper(), legendgroup=str(model),
                    showlegend=(r == 1 and c == 1), mode="lines+markers",
                    line={"color": model_color(model)}), row=r, col=c)
    style(fig, title=title, legend_title="model", height=260 * len(groups) + 80)
    fig.update_xaxes(title_text="depth L", row=len(groups), dtick=1)
    return fig


def fig_norms(summary: xr.Dataset, epsilon: float) -> go.Figure:
    """The paper's figure 2: max-normalised norms of β̂ and δ̄̂ against depth (mean ± sd over seeds).

    Examples
    --------
    >>> from freqkit.experiments.ch01 import _toy_summary
    >>> fig = fig_norms(_toy_summary(), 1.0)
    >>> len(fig.data), fig.data[0].name, fig.data[0].y.tolist()
    (8, 'FC', [1.0, 0.5])
    """
    epsilon = as_real(epsilon, "epsilon", minimum=0, min_open=True)
    return _panels_vs_depth(summary, NORM_PANELS,
                            f"Max-normalised norms vs depth (ε = {epsilon} for δ)", "fig_norms")


def fig_scale_free(summary: xr.Dataset) -> go.Figure:
    """Frequency sparsity ‖·̂‖₁/‖·̂‖₂ of β̂ and δ̄̂, and ‖β‖₂ per median margin, against depth.

    Examples
    --------
    >>> from freqkit.experiments.ch01 import _toy_summary
    >>> len(fig_scale_free(_toy_summary()).data)
    6
    """
    return _panels_vs_depth(summary, SCALE_FREE_PANELS, "Scale-free comparisons vs depth", "fig_scale_free")


def fig_beta_spectra(ds: xr.Dataset) -> go.Figure:
    """log10 power spectrum of β̂ (seed 0) per model and depth, first dataset and nonlinearity.

    With datasets of different image sizes the spectra are stored per size
    (``beta_power_<h>x<w>``); the first one with data is shown.
    """
    figure = "fig_beta_spectra"
    require_data(ds, figure, dims=("dataset", "nonlinearity", "model", "depth", "seed"))
    names = [v for v in ds.data_vars if str(v).startswith("beta_power")]
    if not names:
        raise ValueError(f"{figure}: ds has no variable 'beta_power' (nor beta_power_<h>x<w>); re-run the chapter")
    d0, n0 = ds.dataset.values[0], ds.nonlinearity.values[0]
    for v in names:
        require_data(ds, figure, {v: ("dataset", "nonlinearity", "model", "depth", "seed")})
    first = [ds[v].sel(dataset=d0, nonlinearity=n0).isel(seed=0) for v in names]
    first = [b.squeeze("kernel_size", drop=True) if "kernel_size" in b.dims else b for b in first]
    bp = next((b for b in first if np.isfinite(b).any()), None)
    if bp is None:
        raise ValueError(f"{figure}: {', '.join(names)} is NaN everywhere for dataset {d0!r}, nonlinearity "
                         f"{n0!r}, seed {int(ds.seed.values[0])}; nothing to draw")
    bp = bp.rename({d: "_".join(d.split("_")[:2]) for d in bp.dims if d.startswith("freq_")})
    models, depths = [str(m) for m in bp.model.values], [int(v) for v in bp.depth.values]
    fig = make_subplots(rows=len(models), cols=len(depths),
                        column_titles=[f"L={v}" for v in depths],
                        row_titles=[m.upper() for m in models],
                        horizontal_spacing=0.03, vertical_spacing=0.05)
    for r, m in enumerate(models, start=1):
        for c, depth in enumerate(depths, start=1):
            z = bp.sel(model=m, depth=depth).values
            fig.add_trace(go.Heatmap(z=np.log10(z / np.nanmax(z) + 1e-12), x=bp.freq_col.values,
                                     y=bp.freq_row.values, coloraxis="coloraxis"), row=r, col=c)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "colorbar_title": "log10 power/max"})
    style(fig, title=f"Power spectrum of β̂ ({d0}, {n0}, seed 0)", height=260 * len(models) + 80)
    fig.update_yaxes(scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return fig
