"""Offline plotly helpers for the book.

Figures are shown with :func:`show`, which returns an
:class:`IPython.display.HTML` object: the first figure of a kernel embeds the
complete plotly.js bundle (no CDN), later figures only call ``Plotly.newPlot``.
MathJax is never pulled in by plotly; the book vendors its own copy.

:func:`style` gives every figure the same layout and :func:`line_with_error`
draws mean ± standard deviation over seeds straight from an
:class:`xarray.DataArray`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import xarray as xr
from IPython.display import HTML

from freqkit._validate import as_bool, as_int, as_real

__all__ = [
    "COLORS",
    "configure_offline",
    "line_with_error",
    "plotlyjs_embedded",
    "reset",
    "show",
    "style",
]

#: Colour cycle (Okabe-Ito, colour-blind safe) shared by all chapters.
COLORS: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
)

TEMPLATE_NAME = "freqkit"
DEFAULT_HEIGHT = 420

_state = {"plotlyjs_embedded": False}


def _register_template() -> None:
    if TEMPLATE_NAME in pio.templates:
        return
    template = go.layout.Template(pio.templates["simple_white"])
    template.layout.update(
        colorway=list(COLORS),
        font={"family": "Helvetica, Arial, sans-serif", "size": 13},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        xaxis={"showgrid": True, "gridcolor": "#eeeeee"},
        yaxis={"showgrid": True, "gridcolor": "#eeeeee"},
        legend={"bgcolor": "rgba(255,255,255,0.6)"},
    )
    pio.templates[TEMPLATE_NAME] = template


def reset() -> None:
    """Forget that plotly.js was embedded (the next :func:`show` embeds it again).

    Examples
    --------
    >>> reset(); plotlyjs_embedded()
    False
    """
    _state["plotlyjs_embedded"] = False


def plotlyjs_embedded() -> bool:
    """Whether this kernel has already emitted the plotly.js bundle."""
    return bool(_state["plotlyjs_embedded"])


def configure_offline() -> None:
    """Prepare a chapter kernel: register the ``freqkit`` template, make it the
    default and forget any earlier embedding (call once at the top of a notebook).

    Examples
    --------
    >>> configure_offline(); pio.templates.default, plotlyjs_embedded()
    ('freqkit', False)
    """
    _register_template()
    pio.templates.default = TEMPLATE_NAME
    reset()


def _plotlyjs_bundle() -> str:
    """The plotly.js bundle in a ``<script>``, isolated from AMD/CommonJS loaders.

    A page that loads require.js defines ``define``; UMD bundles then register as
    an anonymous AMD module (and require.js errors) instead of setting
    ``window.Plotly``. Shadowing ``define``/``module``/``exports`` with function
    parameters makes the bundle take its browser-global branch whatever the page
    has loaded.
    """
    from plotly.offline import get_plotlyjs

    source = get_plotlyjs()
    return (
        '<script type="text/javascript">'
        "window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        '<script type="text/javascript" charset="utf-8">'
        "(function(define, module, exports) {\n"
        f"{source}\n"
        "if (typeof Plotly !== 'undefined' && !window.Plotly) { window.Plotly = Plotly; }\n"
        "}).call(window);</script>\n"
    )


def show(fig: go.Figure) -> HTML:
    """Return ``fig`` as self-contained, offline HTML for a notebook output.

    The first call in a kernel (or after :func:`reset`) embeds the full
    plotly.js bundle; later calls reference the already-loaded ``Plotly``.
    MathJax is never included.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure

    Returns
    -------
    IPython.display.HTML

    Examples
    --------
    >>> reset()
    >>> first = show(go.Figure(go.Scatter(y=[1, 3, 2])))
    >>> second = show(go.Figure(go.Scatter(y=[2, 1])))
    >>> len(first.data) > 1_000_000, len(second.data) < 50_000
    (True, True)
    >>> import re; re.findall(r"<script[^>]*\\ssrc=", first.data + second.data)
    []
    """
    if not isinstance(fig, go.Figure):
        raise ValueError(f"fig must be a plotly.graph_objects.Figure, got {type(fig).__name__}")
    figure_html = pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_height=f"{DEFAULT_HEIGHT}px",
        config={"responsive": True, "displaylogo": False},
    )
    prefix = "" if _state["plotlyjs_embedded"] else _plotlyjs_bundle()
    _state["plotlyjs_embedded"] = True
    return HTML(prefix + figure_html)


def style(
    fig: go.Figure,
    *,
    title: str | None = None,
    xaxis_title: str | None = None,
    yaxis_title: str | None = None,
    legend_title: str | None = None,
    height: int = DEFAULT_HEIGHT,
    width: int | None = None,
    log_x: bool = False,
    log_y: bool = False,
) -> go.Figure:
    """Apply the book's layout to ``fig`` (in place) and return it.

    Examples
    --------
    >>> fig = style(go.Figure(), title="f50 vs depth", xaxis_title="depth", log_y=True)
    >>> fig.layout.title.text, fig.layout.xaxis.title.text, fig.layout.yaxis.type
    ('f50 vs depth', 'depth', 'log')
    >>> fig.layout.height
    420
    """
    if not isinstance(fig, go.Figure):
        raise ValueError(f"fig must be a plotly.graph_objects.Figure, got {type(fig).__name__}")
    height = as_int(height, "height", minimum=10)  # plotly's minimum (pixels)
    width = as_int(width, "width", minimum=10, allow_none=True)
    log_x, log_y = as_bool(log_x, "log_x"), as_bool(log_y, "log_y")
    _register_template()
    fig.update_layout(
        template=TEMPLATE_NAME,
        height=height,
        width=width,
        title={"text": title, "x": 0.02, "xanchor": "left"} if title is not None else None,
        legend_title_text=legend_title,
    )
    if xaxis_title is not None:
        fig.update_xaxes(title_text=xaxis_title)
    if yaxis_title is not None:
        fig.update_yaxes(title_text=yaxis_title)
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def line_with_error(
    da: xr.DataArray,
    *,
    x: str,
    color: str | None = None,
    seed_dim: str = "seed",
    fig: go.Figure | None = None,
    name_format: str = "{}",
    title: str | None = None,
    xaxis_title: str | None = None,
    yaxis_title: str | None = None,
    band_alpha: float = 0.2,
) -> go.Figure:
    """Mean ± standard deviation over ``seed_dim`` as lines with shaded bands.

    Parameters
    ----------
    da : xarray.DataArray
        Values with dims ``x``, optionally ``color`` and ``seed_dim``; no others
        (select them away first). NaNs (failed runs) are skipped.
    x : str
        Dim on the horizontal axis.
    color : str, optional
        Dim giving one line per value (e.g. ``"model"``).
    seed_dim : str
        Dim averaged over; the band is the sample standard deviation
        (``ddof=1``; zero width when there is a single seed). Absent dim: no band.
    fig : plotly Figure, optional
        Figure to add to; a new one by default.
    name_format : str
        Legend name of a line from its ``color`` value.
    title, xaxis_title, yaxis_title : str, optional
        Passed to :func:`style` (axis titles default to ``x`` and the
        variable's ``long_name`` [``units``]).
    band_alpha : float
        Opacity of the bands.

    Returns
    -------
    plotly.graph_objects.Figure
        Per line: a band trace (``fill="toself"``) followed by the mean trace.

    Examples
    --------
    >>> da = xr.DataArray([[1.0, 3.0], [2.0, 6.0]], dims=("depth", "seed"),
    ...                   coords={"depth": [1, 2]}, attrs={"long_name": "f50"})
    >>> fig = line_with_error(da, x="depth")
    >>> fig.data[1].y.tolist(), fig.data[0].y.tolist()
    ([2.0, 4.0], [3.414213562373095, 6.82842712474619, 1.1715728752538097, 0.5857864376269049])
    """
    if not isinstance(da, xr.DataArray):
        raise ValueError(f"da must be an xarray.DataArray, got {type(da).__name__}")
    if fig is not None and not isinstance(fig, go.Figure):
        raise ValueError(f"fig must be None or a plotly.graph_objects.Figure, got {type(fig).__name__}")
    allowed = {x} | ({color} if color else set()) | {seed_dim}
    for argname, dim in (("x", x), ("color", color)):
        if dim is not None and dim not in da.dims:
            raise ValueError(f"{argname}={dim!r} is not a dim of da; dims are {da.dims}")
    if x == seed_dim:
        raise ValueError(f"x={x!r} is seed_dim, the dim averaged over; allowed: another dim of da {da.dims}")
    if color is not None and color in (x, seed_dim):
        raise ValueError(f"color={color!r} is also x or seed_dim; allowed: a third dim of da {da.dims}")
    extra = [d for d in da.dims if d not in allowed]
    if extra:
        raise ValueError(
            f"da has dims {extra} besides x={x!r}, color={color!r}, seed_dim={seed_dim!r}; "
            "select or reduce them first"
        )
    band_alpha = as_real(band_alpha, "band_alpha", minimum=0, maximum=1)
    if da.dtype.kind not in "biuf":
        raise ValueError(f"da has dtype {da.dtype}; allowed: real numbers")
    empty = [d for d in da.dims if da.sizes[d] == 0]
    if empty:
        raise ValueError(f"da has an empty dim {empty[0]!r} (size 0); nothing to draw")
    if not bool(np.isfinite(da.values).any()):
        raise ValueError(f"da{' ' + repr(da.name) if da.name else ''} is NaN (or inf) everywhere; nothing to draw")

    if seed_dim in da.dims:
        mean = da.mean(seed_dim, skipna=True)
        n = da.notnull().sum(seed_dim)
        std = da.std(seed_dim, ddof=1, skipna=True).where(n > 1, 0.0)
    else:
        mean, std = da, xr.zeros_like(da)
    fig = go.Figure() if fig is None else fig
    groups: Sequence = list(mean[color].values) if color else [None]
    offset = len(fig.data) // 2
    for i, value in enumerate(groups):
        m = mean.sel({color: value}) if color else mean
        s = std.sel({color: value}) if color else std
        m = m.transpose(x).values.astype(float)
        s = s.transpose(x).values.astype(float)
        xs = np.asarray(da[x].values)
        line_color = COLORS[(offset + i) % len(COLORS)]
        name = name_format.format(value) if color else (da.name or "mean")
        group = f"{name}-{offset + i}"
        fig.add_trace(go.Scatter(
            x=np.concatenate([xs, xs[::-1]]),
            y=np.concatenate([m + s, (m - s)[::-1]]),
            fill="toself", fillcolor=_rgba(line_color, band_alpha),
            line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=group,
            name=f"{name} ± std",
        ))
        fig.add_trace(go.Scatter(
            x=xs, y=m, mode="lines+markers", name=str(name), legendgroup=group,
            line={"color": line_color}, showlegend=bool(color),
        ))
    units = da.attrs.get("units")
    default_y = da.attrs.get("long_name", da.name or "")
    if units and units != "1":
        default_y = f"{default_y} [{units}]"
    return style(
        fig,
        title=title,
        xaxis_title=xaxis_title if xaxis_title is not None else x,
        yaxis_title=yaxis_title if yaxis_title is not None else default_y,
        legend_title=color,
    )
