"""Figures of chapter 0 (the Fourier toolkit on real images): pure functions of the
chapter's combined results (:func:`freqkit.experiments.ch00.combine`).

The image sets of a combined result have different sizes, so their variables
are NaN-padded to the largest grid; :func:`crop` cuts one set's own grid back
out. Images are embedded as exact 8-bit PNG data URIs (:func:`png_uri`) and
spectra of large images are block-averaged for display (:func:`log_power`).
Each image set has one colour in every figure (:func:`image_set_color`).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from freqkit._validate import as_int
from freqkit.figures import model_color, require_data
from freqkit.plots import COLORS, style

__all__ = ["crop", "fig_example_images", "fig_f50", "fig_jpeg_pairs", "fig_kernel_kappa", "fig_lfc_energy",
           "fig_lfc_examples", "fig_power_spectra", "fig_radial_cumulative", "image_set_color", "log_power",
           "png_uri"]

_SPECTRUM_DASH = {"images": "solid", "blurred": "dot", "noise": "dash"}


def image_set_color(name: str) -> str:
    """Colour of an image set: by its place in :data:`~freqkit.experiments.ch00.IMAGE_SETS`.

    Examples
    --------
    >>> image_set_color("foolbox-cifar10") == COLORS[0], image_set_color("cifar10") == COLORS[3]
    (True, True)
    """
    from freqkit.experiments.ch00 import IMAGE_SETS

    return COLORS[IMAGE_SETS.index(name)] if name in IMAGE_SETS else model_color(name)


def png_uri(image: np.ndarray) -> str:
    """A ``(C, H, W)`` image in ``[0, 1]`` (C = 1 or 3) as a PNG data URI (exact 8-bit pixels) for ``go.Image``.

    Values outside ``[0, 1]`` are clipped.

    Examples
    --------
    >>> png_uri(np.zeros((1, 2, 2)))[:22]
    'data:image/png;base64,'
    """
    from PIL import Image

    a = np.asarray(image)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"image has dtype {a.dtype}; allowed: real numbers in [0, 1]")
    if a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"image must have shape (C, H, W) with C = 1 or 3, got {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"image has a non-finite pixel {a[where]} at index {where}; allowed: finite values "
                         "(crop the padding first, see crop)")
    a = np.clip(a, 0, 1)
    a = np.repeat(a, 3, 0) if a.shape[0] == 1 else a
    buf = io.BytesIO()
    Image.fromarray(np.round(255 * a.transpose(1, 2, 0)).astype(np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def crop(da: xr.DataArray) -> xr.DataArray:
    """One image set's own grid out of the outer-joined (NaN-padded) results.

    Drops all-NaN ``channel``/``row``/``col`` or ``fy``/``fx`` entries.

    Examples
    --------
    >>> da = xr.DataArray(np.pad(np.ones((2, 2)), 1, constant_values=np.nan), dims=("fy", "fx"))
    >>> crop(da).shape
    (2, 2)
    """
    if not isinstance(da, (xr.DataArray, xr.Dataset)):
        raise ValueError(f"da must be an xarray.DataArray, got {type(da).__name__}")
    for dim in ("channel", "row", "col", "fy", "fx"):
        if dim in da.dims:
            da = da.dropna(dim, how="all")
    return da


def log_power(power: np.ndarray, max_side: int = 56) -> tuple[np.ndarray, int]:
    """``(log10 P, f)``: a centred power spectrum with DC masked, block-averaged by ``f`` to at most ``max_side`` bins.

    Examples
    --------
    >>> z, f = log_power(np.full((112, 112), 100.0))
    >>> z.shape, f, float(np.nanmax(z))
    ((56, 56), 2, 2.0)
    """
    a = np.array(power)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"power has dtype {a.dtype}; allowed: real numbers")
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"power has shape {a.shape}; allowed: a centred square spectrum (n, n)")
    a = a.astype(np.float64)
    if (a < 0).any():
        where = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise ValueError(f"power has a negative entry {a[where]} at index {where}; allowed: a power spectrum "
                         "(entries >= 0; NaN for missing bins)")
    max_side = as_int(max_side, "max_side", minimum=1)
    n = a.shape[-1]
    a[n // 2, n // 2] = np.nan
    f = max(1, n // max_side)
    if f > 1:
        m = n // f * f
        a = np.nanmean(a[:m, :m].reshape(m // f, f, m // f, f), axis=(1, 3))
    with np.errstate(divide="ignore"):
        return np.round(np.log10(a), 2), f


def _sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds.image_set.values]


def fig_example_images(ds: xr.Dataset) -> go.Figure:
    """The stored example images of every image set (one row per set).

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_example_images(_toy_run())
    >>> len(fig.data), fig.data[0].type
    (4, 'image')
    """
    require_data(ds, "fig_example_images", {"example_image": ("image_set", "example", "channel", "row", "col")})
    sets = _sets(ds)
    n_ex = ds.sizes["example"]
    fig = make_subplots(rows=len(sets), cols=n_ex, horizontal_spacing=0.02, vertical_spacing=0.03,
                        row_titles=sets)
    for i, s in enumerate(sets):
        for j in range(n_ex):
            img = crop(ds.example_image.sel(image_set=s, example=j))
            if img.size and np.isfinite(img.values).all():
                fig.add_trace(go.Image(source=png_uri(img.values)), row=i + 1, col=j + 1)
    if not fig.data:
        raise ValueError("fig_example_images: no stored example image is complete (all have NaN pixels); "
                         "nothing to draw")
    fig.update_xaxes(visible=False).update_yaxes(visible=False)
    return style(fig, title="Example images", height=220 * len(sets))


def fig_power_spectra(ds: xr.Dataset, max_side: int = 56) -> go.Figure:
    """log10 power spectra (DC masked) of the example images and each set's mean spectrum.

    Spectra larger than ``max_side`` bins are block-averaged (:func:`log_power`).

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_power_spectra(_toy_run())
    >>> len(fig.data), fig.data[0].z.shape
    (6, (12, 12))
    """
    require_data(ds, "fig_power_spectra", {"example_power": ("image_set", "example", "fy", "fx"),
                                           "mean_power": ("image_set", "spectrum", "fy", "fx")},
                 values={"spectrum": ("images",)})
    max_side = as_int(max_side, "max_side", minimum=1)
    sets = _sets(ds)
    n_ex = ds.sizes["example"]
    fig = make_subplots(rows=len(sets), cols=n_ex + 1, horizontal_spacing=0.03, vertical_spacing=0.04,
                        column_titles=[f"example {j}" for j in range(n_ex)] + ["mean spectrum"], row_titles=sets)
    for i, s in enumerate(sets):
        powers = [crop(ds.example_power.sel(image_set=s, example=j)) for j in range(n_ex)]
        powers.append(crop(ds.mean_power.sel(image_set=s, spectrum="images")))
        for j, pw in enumerate(powers):
            z, f = log_power(pw.values, max_side)
            n = pw.sizes["fy"]
            axis = (np.arange(z.shape[0]) * f + (f - 1) / 2 - n // 2) / n
            fig.add_trace(go.Heatmap(z=z, x=axis, y=axis, coloraxis="coloraxis",
                                     hovertemplate="f_x %{x:.3f}, f_y %{y:.3f}: log10 P = %{z}<extra></extra>"),
                          row=i + 1, col=j + 1)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {"title": "log₁₀ P"}})
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return style(fig, title="Power spectra (centred; DC masked; axes −0.5 … 0.5 cycles/pixel)",
                 height=200 * len(sets) + 60)


def fig_radial_cumulative(ds: xr.Dataset) -> go.Figure:
    """Cumulative energy fraction of the mean spectrum within radius r: images, blurred, noise.

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_radial_cumulative(_toy_run())
    >>> len(fig.data), fig.data[0].name, float(fig.data[0].y[-1])
    (6, 'fashion-mnist: images', 1.0)
    """
    require_data(ds, "fig_radial_cumulative", {"radial_cumulative": ("image_set", "spectrum", "radius")},
                 values={"spectrum": tuple(_SPECTRUM_DASH)})
    fig = go.Figure()
    for s in _sets(ds):
        for kind in _SPECTRUM_DASH:
            c = ds.radial_cumulative.sel(image_set=s, spectrum=kind).dropna("radius")
            fig.add_trace(go.Scatter(x=c.radius.values, y=np.round(c.values, 4), mode="lines",
                                     line={"color": image_set_color(s), "dash": _SPECTRUM_DASH[kind]},
                                     name=f"{s}: {kind}", legendgroup=s))
    fig.add_hline(y=0.5, line={"color": "grey", "width": 1})
    return style(fig, title="Cumulative energy fraction of the mean spectrum within radius r",
                 xaxis_title="radius r (cycles/pixel)", yaxis_title="fraction of energy (mean removed)", height=480)


def fig_f50(ds: xr.Dataset) -> go.Figure:
    """Box plots of f50 per image: images, blurred images and white noise, per image set.

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_f50(_toy_run())
    >>> [t.name for t in fig.data], len(fig.data[0].y)
    (['images', 'blurred (σ = 1 px)', 'white noise'], 264)
    """
    from freqkit.images import CONTINUOUS_NOISE_F50

    require_data(ds, "fig_f50", {v: ("image_set", "sample") for v in ("f50", "f50_blurred", "f50_noise")}
                 | {"blur_sigma": ()})
    sigma = float(ds.blur_sigma.max())
    fig = go.Figure()
    for kind, var, color in (("images", "f50", COLORS[0]), (f"blurred (σ = {sigma:g} px)", "f50_blurred", COLORS[2]),
                             ("white noise", "f50_noise", COLORS[1])):
        xs, ys = [], []
        for s in _sets(ds):
            v = ds[var].sel(image_set=s).dropna("sample").values
            xs += [s] * len(v)
            ys += np.round(v, 4).tolist()
        fig.add_trace(go.Box(x=xs, y=ys, name=kind, marker_color=color, boxpoints=False))
    fig.update_layout(boxmode="group")
    fig.add_hline(y=CONTINUOUS_NOISE_F50, line={"dash": "dot", "color": "grey"},
                  annotation_text="1/√(2π)", annotation_position="top left")
    return style(fig, title="f50 per image", yaxis_title="f50 (cycles/pixel)", height=450)


def fig_jpeg_pairs(ds: xr.Dataset) -> go.Figure:
    """f50 of the same CIFAR-10 images: foolbox's exact PNG (x) vs the dataset source (y).

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_jpeg_pairs(_toy_run())
    >>> len(fig.data), len(fig.data[0].x)
    (2, 20)
    """
    pairs = {v: ("pair",) for v in ("pair_f50_exact", "pair_f50_source", "pair_psnr")}
    require_data(ds, "fig_jpeg_pairs", pairs, dims=("image_set",), values={"image_set": ("cifar10",)})
    d = require_data(ds.sel(image_set="cifar10"), "fig_jpeg_pairs (image set cifar10)", pairs)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.round(d.pair_f50_exact.values, 4), y=np.round(d.pair_f50_source.values, 4),
                             mode="markers", name="image pairs", marker={"color": image_set_color("cifar10")},
                             text=[f"PSNR {v:.1f} dB" for v in d.pair_psnr.values]))
    lo, hi = float(d.pair_f50_exact.min()) * 0.9, float(d.pair_f50_exact.max()) * 1.1
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dash", "color": "grey"},
                             name="y = x"))
    return style(fig, title="f50 of the same CIFAR-10 images: exact PNG vs the dataset source",
                 xaxis_title="f50, foolbox exact (cycles/pixel)", yaxis_title="f50, dataset source (cycles/pixel)",
                 height=420, width=600)


def fig_kernel_kappa(ds: xr.Dataset) -> go.Figure:
    """κ_high(k) of k×k box and Gaussian kernels by FFT (markers) and the box's closed form (line).

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_kernel_kappa(_toy_run())
    >>> [t.name for t in fig.data]
    ['box, closed form', 'box, FFT', 'gaussian-k/4, FFT', 'gaussian-k/6, FFT']
    """
    require_data(ds, "fig_kernel_kappa", {"kappa_high": ("kernel_family", "kernel_size"),
                                          "kappa_high_box_closed_form": ("kernel_size",), "kernel_padded_size": ()})
    n = int(ds.kernel_padded_size)
    k = ds.kernel_size.values
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=k, y=ds.kappa_high_box_closed_form.values, mode="lines", name="box, closed form",
                             line={"color": COLORS[0]}))
    symbols = ["circle", "square", "diamond"]
    for i, fam in enumerate(ds.kernel_family.values):  # box first: same colour as its closed form
        fig.add_trace(go.Scatter(x=k, y=ds.kappa_high.sel(kernel_family=fam).values, mode="markers",
                                 name=f"{fam}, FFT", marker={"color": COLORS[i % len(COLORS)],
                                                             "symbol": symbols[i % 3]}))
    return style(fig, title=f"κ_high(k) of k×k kernels zero-padded to {n}×{n}",
                 xaxis_title="kernel size k", yaxis_title="κ_high(k)", height=420)


def fig_lfc_examples(ds: xr.Dataset) -> go.Figure:
    """The first stored image of each set, its LFCs and its HFCs (shown as 0.5 + HFC) at every radius.

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_lfc_examples(_toy_run())
    >>> len(fig.data)  # 2 sets × (image + 2 LFC + 2 HFC)
    10
    """
    require_data(ds, "fig_lfc_examples", {"lfc_image": ("image_set", "lfc_example", "channel"),
                                          "lfc": ("image_set", "lfc_example", "lfc_radius", "channel"),
                                          "hfc": ("image_set", "lfc_example", "lfc_radius", "channel")})
    sets = _sets(ds)
    radii = ds.lfc_radius.values
    fig = make_subplots(rows=len(sets), cols=1 + 2 * len(radii), horizontal_spacing=0.01, vertical_spacing=0.03,
                        column_titles=["image"] + [f"LFC r={r:g}" for r in radii] + [f"HFC r={r:g}" for r in radii],
                        row_titles=sets)
    for i, s in enumerate(sets):
        d = ds.sel(image_set=s, lfc_example=0)
        ch = crop(d.lfc_image).channel
        fig.add_trace(go.Image(source=png_uri(crop(d.lfc_image.sel(channel=ch)).values)), row=i + 1, col=1)
        for j, r in enumerate(radii):
            lfc = crop(d.lfc.sel(lfc_radius=r, channel=ch)).values
            hfc = crop(d.hfc.sel(lfc_radius=r, channel=ch)).values
            fig.add_trace(go.Image(source=png_uri(lfc)), row=i + 1, col=2 + j)
            fig.add_trace(go.Image(source=png_uri(0.5 + hfc)), row=i + 1, col=2 + len(radii) + j)
    fig.update_xaxes(visible=False).update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    return style(fig, title="LFC / HFC reconstructions (first image of each set)", height=140 * len(sets) + 80)


def fig_lfc_energy(ds: xr.Dataset) -> go.Figure:
    """Share of each image's (mean-removed) energy in its LFC against the radius (mean ± sd over images).

    Examples
    --------
    >>> from freqkit.experiments.ch00 import _toy_run
    >>> fig = fig_lfc_energy(_toy_run())
    >>> [t.name for t in fig.data], len(fig.data[0].y)
    (['fashion-mnist', 'cifar10'], 2)
    """
    require_data(ds, "fig_lfc_energy", {"lfc_energy_fraction": ("image_set", "sample", "lfc_radius")})
    radii = ds.lfc_radius.values
    fig = go.Figure()
    for s in _sets(ds):
        f = ds.lfc_energy_fraction.sel(image_set=s).dropna("sample")
        fig.add_trace(go.Scatter(x=radii, y=np.round(f.mean("sample").values, 4), mode="lines+markers", name=s,
                                 error_y={"type": "data", "array": np.round(f.std("sample").values, 4)},
                                 line={"color": image_set_color(s)}))
    return style(fig, title="Share of each image's energy (mean removed) in its LFC (mean ± sd over images)",
                 xaxis_title="radius r (DFT index units)", yaxis_title="‖LFC‖² / ‖x − x̄‖²", height=400)
