"""Figures of chapter 6 (aliasing and robust overfitting): pure functions of the chapter's results
(:func:`freqkit.experiments.ch06.run`).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit.figures import model_color, require_data
from freqkit.plots import style

__all__ = ["fig_aliasing_per_stage", "fig_training_curves"]

_PANELS = (
    ("clean_accuracy", "clean accuracy (held-out batch)"),
    ("pgd_accuracy", "PGD accuracy (held-out batch)"),
    ("fgsm_accuracy", "FGSM accuracy (held-out batch)"),
    ("first_stage_aliasing", "aliasing, first down-sampling stage"),
)


def _color(run: str) -> str:
    return model_color(run.split("-")[0])


def fig_training_curves(ds: xr.Dataset) -> go.Figure:
    """Per-epoch accuracies and first-stage aliasing of every run (one line per run, model and seed).

    Epoch 0 is the initial model. FGSM runs that overfit catastrophically
    show the PGD accuracy collapse while the FGSM accuracy stays up.

    Examples
    --------
    >>> from freqkit.experiments.ch06 import _toy_results
    >>> fig = fig_training_curves(_toy_results())
    >>> len(fig.data), fig.data[0].name
    (12, 'fgsm-co')
    """
    figure = "fig_training_curves"
    grid = ("model", "run", "seed", "epoch")
    require_data(ds, figure, {v: grid for v, _ in _PANELS[:3]} | {"aliasing_stage": (*grid, "stage")})
    fig = make_subplots(rows=2, cols=2, shared_xaxes=True, subplot_titles=[t for _, t in _PANELS],
                        horizontal_spacing=0.08, vertical_spacing=0.12)
    shown: set[str] = set()
    for model in ds.model.values:
        for run in ds.run.values:
            for seed in ds.seed.values:
                h = ds.sel(model=model, run=run, seed=seed)
                if bool(h.clean_accuracy.isnull().all()):
                    continue
                stages = [s for s in h.stage.values if not bool(h.aliasing_stage.sel(stage=s).isnull().all())]
                if not stages:
                    raise ValueError(f"{figure}: run {str(run)!r} (model {str(model)!r}, seed {int(seed)}) has "
                                     "accuracies but its aliasing_stage is NaN everywhere")
                series = {v: h[v] for v, _ in _PANELS[:3]}
                series["first_stage_aliasing"] = h.aliasing_stage.sel(stage=stages[0])
                for i, (var, _) in enumerate(_PANELS):
                    y = series[var].values.astype(float)
                    keep = np.isfinite(y)
                    name = str(run)
                    fig.add_trace(go.Scatter(
                        x=h.epoch.values[keep], y=y[keep], mode="lines+markers", name=name,
                        legendgroup=name, showlegend=name not in shown,
                        line={"color": _color(name), "width": 1.5, "dash": "dot" if "-co" in name else None},
                        marker={"size": 4},
                    ), row=i // 2 + 1, col=i % 2 + 1)
                    shown.add(name)
    style(fig, title="Training curves: accuracy and aliasing per epoch", legend_title="run", height=560)
    fig.update_xaxes(title_text="epoch", row=2)
    return fig


def fig_aliasing_per_stage(ds: xr.Dataset) -> go.Figure:
    """Final-epoch aliasing per down-sampling stage and run (mean over seeds; training images).

    Examples
    --------
    >>> from freqkit.experiments.ch06 import _toy_results
    >>> fig = fig_aliasing_per_stage(_toy_results())
    >>> [t.name for t in fig.data]
    ['fgsm-co', 'pgd', 'standard']
    """
    from freqkit.experiments.ch06 import aliasing_table

    grid = ("model", "run", "seed", "epoch")
    require_data(ds, "fig_aliasing_per_stage", {"clean_accuracy": grid, "aliasing_stage": (*grid, "stage"),
                                                "test_aliasing": ("model", "run", "seed", "checkpoint", "layer")},
                 values={"checkpoint": ("final",)})
    table = aliasing_table(ds)
    if table.empty:
        raise ValueError("fig_aliasing_per_stage: no run has a trained epoch with a finite aliasing_stage; "
                         "nothing to draw")
    fig = go.Figure()
    for run in dict.fromkeys(table.run):
        sub = table[table.run == run].groupby(["model", "stage"], sort=False).aliasing.mean().reset_index()
        fig.add_trace(go.Bar(x=[f"{m} {s}" for m, s in zip(sub.model, sub.stage)], y=sub.aliasing,
                             name=str(run), marker_color=_color(str(run))))
    style(fig, title="Aliasing at the end of training, per down-sampling stage", legend_title="run",
          height=380)
    fig.update_layout(barmode="group", yaxis_title="aliasing (Fourier L1, norm='forward')")
    return fig
