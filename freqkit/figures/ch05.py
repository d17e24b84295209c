"""Figures of chapter 5 (architectures): pure functions of :func:`freqkit.experiments.ch05.summary_table`
and of the chapter's combined results.

- :func:`fig_f50`: f50 of δ̂ and β̂ per model with bootstrap intervals, coloured by family,
  one column per attack and one row per dataset (figure 5 of Caro et al. 2024);
- :func:`fig_patch_size`: the ViTs' f50 against their patch size;
- :func:`fig_radial_energy`: cumulative energy of the mean δ̂ spectrum against radius.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit.figures import model_color, require_choice, require_data, require_table
from freqkit.plots import style

__all__ = ["fig_f50", "fig_patch_size", "fig_radial_energy", "model_order"]

_FAMILY_RANK = {"cnn": 0, "hybrid": 1, "mlp": 2, "vit": 3}
_F50_COLUMNS = tuple(f"{q}_f50{s}" for q in ("delta", "beta") for s in ("", "_low", "_high"))


def model_order(table: pd.DataFrame) -> list[str]:
    """Models sorted by family (CNN, hybrid, MLP, ViT), then patch size, then name.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["vit-p8", "resnet", "vit-p2"], "family": ["vit", "cnn", "vit"],
    ...                   "patch_size": [8, 0, 2]})
    >>> model_order(t)
    ['resnet', 'vit-p2', 'vit-p8']
    """
    return _model_order(require_table(table, "model_order", ["model", "family", "patch_size"]))


def _model_order(table: pd.DataFrame) -> list[str]:
    rows = table[["model", "family", "patch_size"]].drop_duplicates("model")
    key = sorted(rows.itertuples(), key=lambda r: (_FAMILY_RANK.get(r.family, 9), r.patch_size, r.model))
    return [r.model for r in key]


def _grid(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    return list(dict.fromkeys(table.dataset)), list(dict.fromkeys(table.attack))


def fig_f50(table: pd.DataFrame) -> go.Figure:
    """f50 of δ̂ (filled) and β̂ (open) per model with bootstrap intervals.

    Examples
    --------
    >>> from freqkit.experiments.ch05 import _toy_results, summary_table
    >>> fig = fig_f50(summary_table(_toy_results()))
    >>> len(fig.data), fig.data[0].name
    (8, 'cnn-a δ̂')
    """
    require_table(table, "fig_f50", ["dataset", "attack", "model", "family", "patch_size", "accuracy",
                                     *_F50_COLUMNS], numeric=("delta_f50", "beta_f50"))
    datasets, attacks = _grid(table)
    fig = make_subplots(rows=len(datasets), cols=len(attacks), shared_yaxes=True,
                        subplot_titles=[f"{d}, {a}" for d in datasets for a in attacks])
    for i, dataset in enumerate(datasets, 1):
        for j, attack in enumerate(attacks, 1):
            g = table[(table.dataset == dataset) & (table.attack == attack)]
            order = _model_order(g)
            for model in order:
                r = g[g.model == model].iloc[0]
                for q, symbol in (("delta", "circle"), ("beta", "circle-open")):
                    f, lo, hi = r[f"{q}_f50"], r[f"{q}_f50_low"], r[f"{q}_f50_high"]
                    fig.add_trace(go.Scatter(
                        x=[model], y=[f], mode="markers",
                        marker={"color": model_color(r.family), "symbol": symbol, "size": 10},
                        error_y={"type": "data", "symmetric": False,
                                 "array": [max(hi - f, 0) if np.isfinite(hi) else 0],
                                 "arrayminus": [max(f - lo, 0) if np.isfinite(lo) else 0]},
                        name=f"{model} {'δ̂' if q == 'delta' else 'β̂'}",
                        legendgroup=r.family, showlegend=False,
                        hovertext=f"{r.family}, accuracy {r.accuracy:.3f}"), row=i, col=j)
    for family, rank in sorted(_FAMILY_RANK.items(), key=lambda kv: kv[1]):
        if family in set(table.family):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=family,
                                     marker={"color": model_color(family), "size": 10}))
    fig.update_yaxes(title_text="f50 (cycles/pixel)", col=1)
    return style(fig, height=330 * len(datasets))


def fig_patch_size(table: pd.DataFrame) -> go.Figure:
    """f50 of δ̂ and β̂ of the ViTs against their patch size, one line per (dataset, attack).

    Examples
    --------
    >>> from freqkit.experiments.ch05 import _toy_results, summary_table
    >>> fig_patch_size(summary_table(_toy_results())).data[0].x.tolist()
    [8, 16]
    """
    require_table(table, "fig_patch_size", ["dataset", "attack", "family", "patch_size", *_F50_COLUMNS])
    vit = table[table.family == "vit"].sort_values("patch_size")
    if vit.empty:
        raise ValueError(f"fig_patch_size: the table has no ViT rows (family 'vit'; families "
                         f"{sorted(set(table.family))}); nothing to draw")
    require_table(vit, "fig_patch_size (the ViT rows)", ["patch_size"], numeric=("delta_f50", "beta_f50"))
    fig = go.Figure()
    for (dataset, attack), g in vit.groupby(["dataset", "attack"], sort=False):
        for q, dash in (("delta", "solid"), ("beta", "dot")):
            fig.add_trace(go.Scatter(
                x=g.patch_size.to_numpy(), y=g[f"{q}_f50"].to_numpy(), mode="lines+markers",
                line={"dash": dash},
                error_y={"type": "data", "symmetric": False,
                         "array": (g[f"{q}_f50_high"] - g[f"{q}_f50"]).clip(lower=0).fillna(0).to_numpy(),
                         "arrayminus": (g[f"{q}_f50"] - g[f"{q}_f50_low"]).clip(lower=0).fillna(0).to_numpy()},
                name=f"{dataset} {attack} {'δ̂' if q == 'delta' else 'β̂'}"))
    fig.update_xaxes(title_text="patch size (pixels)", type="log")
    fig.update_yaxes(title_text="f50 (cycles/pixel)")
    return style(fig, height=360)


def fig_radial_energy(ds: xr.Dataset, attack: str, *, seed: int | None = None) -> go.Figure:
    """Cumulative energy fraction of the mean δ̂ spectrum vs radius, one curve per model.

    ``ds`` is the chapter's combined results (spectra ``delta_power_<n>x<n>`` per image
    size, or ``delta_power`` when all runs share one size); one column per dataset.
    """
    from freqkit import spectra

    figure = "fig_radial_energy"
    require_data(ds, figure, dims=("attack", "dataset", "model", "seed"))
    names = [v for v in ds.data_vars if re.fullmatch(r"delta_power(_\d+x\d+)?", str(v))]
    if not names:
        raise ValueError(f"{figure}: ds has no variable 'delta_power' (nor delta_power_<n>x<n>); re-run the chapter "
                         "with the spectra stored")
    for name in names:
        require_data(ds, figure, {name: ("attack", "dataset", "model", "seed")})
    require_choice(attack, "attack", ds.attack.values)
    if seed is not None:
        require_choice(seed, "seed", ds.seed.values)
    datasets = [str(d) for d in ds.dataset.values]
    fig = make_subplots(rows=1, cols=len(datasets), subplot_titles=datasets, shared_yaxes=True)
    for name in names:
        power = ds[name].sel(attack=attack)
        power = power.isel(seed=0) if seed is None else power.sel(seed=seed)
        for j, dataset in enumerate(datasets, 1):
            for model in ds.model.values:
                p = power.sel(dataset=dataset, model=model).values.astype(float)
                if not np.isfinite(p).all() or p.sum() <= 0:
                    continue
                radius, cum = spectra.radial_energy(p)
                family = str(ds.family.sel(dataset=dataset, model=model).values.flat[0]) \
                    if "family" in ds else ""
                fig.add_trace(go.Scatter(x=radius, y=cum, mode="lines", name=str(model),
                                         line={"color": model_color(family)}), row=1, col=j)
    if not fig.data:
        raise ValueError(f"{figure}: no model has a finite, non-zero {' / '.join(map(str, names))} for attack "
                         f"{attack!r} and {'the first seed' if seed is None else f'seed {seed}'}; nothing to draw")
    fig.update_xaxes(title_text="radius (cycles/pixel)")
    fig.update_yaxes(title_text="cumulative energy fraction", col=1)
    return style(fig, height=380)
