"""Figures of chapter 4 (steganographic shortcuts): pure functions of the chapter's results
(:func:`freqkit.experiments.ch04.run`) and of :func:`freqkit.experiments.ch04.gain_summary`.

The learning curves use the book's :func:`freqkit.figures.fig_learning_curves`
(one row per band); the tables are :func:`freqkit.experiments.ch04.table1` and
:func:`~freqkit.experiments.ch04.swap_table`.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit._validate import as_int
from freqkit.figures import model_color, require_choice, require_data
from freqkit.plots import style

__all__ = ["fig_examples", "fig_gains", "fig_shortcut_rates", "to_rgb"]


def to_rgb(img: np.ndarray, *, stretch: bool = False) -> np.ndarray:
    """A ``(C, H, W)`` image in [0, 1] as ``(H, W, 3)`` uint8 (grey repeated; clipped).

    With ``stretch`` the image is first rescaled to its own min..max (for a
    faint feature).

    Examples
    --------
    >>> to_rgb(np.full((1, 2, 2), 0.5)).shape, int(to_rgb(np.full((1, 2, 2), 0.5))[0, 0, 0])
    ((2, 2, 3), 128)
    >>> to_rgb(np.array([[[0.0, 0.01]]]), stretch=True)[0, :, 0].tolist()
    [0, 255]
    """
    img = np.asarray(img)
    if img.dtype.kind not in "biuf":
        raise ValueError(f"img has dtype {img.dtype}; allowed: real numbers in [0, 1]")
    img = img.astype(float)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"img has shape {img.shape}; expected (C, H, W) with C = 1 or 3")
    if not np.isfinite(img).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(img))[0])
        raise ValueError(f"img has a non-finite pixel {img[where]} at index {where}; allowed: finite values")
    if stretch:
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo if hi > lo else 1.0)
    img = np.clip(img, 0.0, 1.0).transpose(1, 2, 0)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return (255 * img).round().astype(np.uint8)


def _shortcut_bands(values: np.ndarray, figure: str = "") -> list[str]:
    bands = [b for b in ("low", "mid", "high") if b in values]
    if figure and not bands:
        raise ValueError(f"{figure}: ds has no shortcut band (bands {list(map(str, values))}); nothing to show")
    return bands


def fig_examples(ds: xr.Dataset, *, model: str | None = None, seed: int | None = None,
                 n_examples: int = 2) -> go.Figure:
    """Clean test image, the same image with its class feature, and the feature alone.

    One row per (shortcut band, example) of run ``model`` (default: the last
    model) and ``seed`` (default: the first); the feature is contrast-stretched
    and the title of each modified image gives its PSNR (from the stored images).

    Examples
    --------
    >>> from freqkit.experiments.ch04 import _toy_results
    >>> fig = fig_examples(_toy_results())
    >>> len(fig.data), fig.layout.annotations[0].text
    (6, 'high: class0 clean')
    """
    figure = "fig_examples"
    grid = ("model", "seed", "band", "example")
    require_data(ds, figure, {v: grid for v in ("example_clean", "example_modified", "example_feature")},
                 labels=("example_label",))
    bands = _shortcut_bands(ds.band.values, figure)
    model = str(ds.model.values[-1]) if model is None else require_choice(model, "model", ds.model.values)
    seed = int(ds.seed.values[0]) if seed is None else require_choice(seed, "seed", ds.seed.values)
    n_examples = as_int(n_examples, "n_examples", minimum=1)
    ex = ds.sel(model=model, seed=seed)
    n_ex = min(n_examples, ex.sizes["example"])
    classes = json.loads(ds.attrs.get("class_names", "[]"))
    titles, images = [], []
    for b in bands:
        for e in range(n_ex):
            one = ex.sel(band=b).isel(example=e)
            lab = int(one.example_label)
            name = classes[lab] if lab < len(classes) else str(lab)
            mse = float(((one.example_modified - one.example_clean) ** 2).mean())
            psnr = 10 * np.log10(1.0 / mse) if mse > 0 else np.inf
            titles += [f"{b}: {name} clean", f"{b}: modified ({psnr:.1f} dB)",
                       f"{b}: feature (stretched)"]
            images.append((to_rgb(one.example_clean.values), to_rgb(one.example_modified.values),
                           to_rgb(one.example_feature.values, stretch=True)))
    fig = make_subplots(rows=len(images), cols=3, subplot_titles=titles,
                        horizontal_spacing=0.03, vertical_spacing=0.04)
    for row, triple in enumerate(images, start=1):
        for col, img in enumerate(triple, start=1):
            fig.add_trace(go.Image(z=img), row=row, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, title="Clean vs modified vs feature", height=230 * len(images))


def fig_gains(summary: xr.Dataset, paper: dict[str, float] | None = None) -> go.Figure:
    """Accuracy gain over clean training per shortcut band and model (mean ± std over seeds).

    Bars in the book's model colours on a (band, model) axis; diamonds mark the
    paper's gains of the mid and high bands (``paper``, default
    :data:`freqkit.experiments.ch04.PAPER_GAIN_POINTS`).

    Examples
    --------
    >>> from freqkit.experiments.ch04 import _toy_results, gain_summary
    >>> fig = fig_gains(gain_summary(_toy_results()))
    >>> [t.name for t in fig.data]
    ['FKC', 'LC', 'LKC', 'paper (mid/high)']
    >>> [round(float(v), 1) for v in fig.data[2].y], list(fig.data[3].y)
    ([30.0], [1.5, 13.0, 31.0])
    """
    from freqkit.experiments.ch04 import PAPER_GAIN_POINTS

    require_data(summary, "fig_gains", {"gain_mean": ("model", "band")}, labels=("gain_std",))  # sd: NaN for 1 seed
    paper = PAPER_GAIN_POINTS if paper is None else paper
    if not isinstance(paper, dict):
        raise ValueError(f"paper={paper!r} is not allowed; allowed: None or a dict model -> gain")
    bands = _shortcut_bands(summary.band.values, "fig_gains")
    models = [str(m) for m in summary.model.values]
    fig = go.Figure()
    for m in models:
        g = summary.sel(model=m, band=bands)
        fig.add_trace(go.Bar(
            name=m.upper(), x=[bands, [m.upper()] * len(bands)], y=100 * g.gain_mean.values,
            error_y={"type": "data", "array": np.nan_to_num(100 * g.gain_std.values),
                     "visible": True},
            marker_color=model_color(m)))
    marked = [(b, m) for b in bands if b in ("mid", "high") for m in models if m in paper]
    if marked:
        fig.add_trace(go.Scatter(
            x=[[b for b, _ in marked], [m.upper() for _, m in marked]],
            y=[paper[m] for _, m in marked], mode="markers", name="paper (mid/high)",
            marker={"symbol": "diamond", "size": 11, "color": "black"}))
    fig.update_layout(barmode="overlay")
    return style(fig, title="Accuracy gain from the shortcut (mean ± std over seeds)",
                 xaxis_title="band / model", yaxis_title="gain over clean (percentage points)",
                 legend_title="model")


def fig_shortcut_rates(ds: xr.Dataset) -> go.Figure:
    """Swap-test shortcut rate per shortcut band and model (seed mean) against chance.

    Examples
    --------
    >>> from freqkit.experiments.ch04 import _toy_results
    >>> fig = fig_shortcut_rates(_toy_results())
    >>> [t.name for t in fig.data], round(fig.layout.shapes[0].y0, 2)
    (['FKC', 'LC', 'LKC'], 0.1)
    """
    require_data(ds, "fig_shortcut_rates", {"shortcut_rate": ("model", "band", "seed")})
    bands = _shortcut_bands(ds.band.values, "fig_shortcut_rates")
    require_data(ds.sel(band=bands), "fig_shortcut_rates", {"shortcut_rate": ("model", "band", "seed")})
    rate = ds.shortcut_rate.sel(band=bands).mean("seed")
    fig = go.Figure()
    for m in (str(v) for v in rate.model.values):
        fig.add_trace(go.Bar(name=m.upper(), x=bands, y=rate.sel(model=m).values,
                             marker_color=model_color(m)))
    n_classes = len(json.loads(ds.attrs.get("class_names", "[]")))
    if n_classes:
        fig.add_hline(y=1 / n_classes, line_dash="dash", annotation_text="chance")
    fig.update_layout(barmode="group")
    return style(fig, title="Swap test: test images carrying the next class's feature",
                 xaxis_title="band", yaxis_title="fraction classified as the feature's class",
                 legend_title="model")
