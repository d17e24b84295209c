"""Tests for freqkit.plots: offline embedding of plotly.js and the plotting helpers."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest
import xarray as xr
from IPython.display import HTML
from plotly.offline import get_plotlyjs

from freqkit import plots

SCRIPT_SRC = re.compile(r"<script[^>]*\ssrc\s*=", re.IGNORECASE)
PLOTLYJS_HEADER = get_plotlyjs()[:120]


@pytest.fixture(autouse=True)
def _fresh_kernel():
    plots.reset()
    yield
    plots.reset()


def _fig(y=(1.0, 3.0, 2.0)) -> go.Figure:
    return go.Figure(go.Scatter(y=list(y)))


def test_first_figure_embeds_full_plotlyjs_without_any_remote_script():
    html = plots.show(_fig())
    assert isinstance(html, HTML)
    assert PLOTLYJS_HEADER in html.data  # the bundle itself ...
    assert len(html.data) > len(get_plotlyjs())  # ... all of it
    assert SCRIPT_SRC.search(html.data) is None  # nothing loaded from anywhere
    assert "cdn.plot.ly/plotly" not in html.data
    outside_bundle = html.data.replace(get_plotlyjs(), "")
    assert "mathjax" not in outside_bundle.lower().replace("mathjaxconfig", "")
    assert "Plotly.newPlot" in html.data
    assert plots.plotlyjs_embedded()


def test_later_figures_reference_the_embedded_bundle():
    first = plots.show(_fig())
    second = plots.show(_fig((4.0, 5.0)))
    assert PLOTLYJS_HEADER not in second.data
    assert len(second.data) < 50_000 < len(first.data)
    assert "Plotly.newPlot" in second.data and SCRIPT_SRC.search(second.data) is None
    # bundle appears exactly once across the two outputs
    assert (first.data + second.data).count(PLOTLYJS_HEADER) == 1


def test_reset_and_configure_offline_embed_again():
    plots.show(_fig())
    plots.reset()
    assert PLOTLYJS_HEADER in plots.show(_fig()).data
    plots.configure_offline()
    assert PLOTLYJS_HEADER in plots.show(_fig()).data


def test_bundle_is_shielded_from_amd_loaders():
    data = plots.show(_fig()).data
    start = data.index("(function(define, module, exports)")
    assert start < data.index(PLOTLYJS_HEADER) < data.index("}).call(window);")


def test_show_rejects_non_figures():
    with pytest.raises(ValueError, match="fig must be"):
        plots.show({"data": []})


def test_style_sets_layout():
    fig = plots.style(_fig(), title="T", xaxis_title="kernel size", yaxis_title="f50",
                      legend_title="model", height=300, log_x=True)
    assert fig.layout.title.text == "T"
    assert fig.layout.xaxis.title.text == "kernel size"
    assert fig.layout.yaxis.title.text == "f50"
    assert fig.layout.legend.title.text == "model"
    assert fig.layout.height == 300 and fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.type is None
    assert list(fig.layout.template.layout.colorway) == list(plots.COLORS)
    with pytest.raises(ValueError, match="height"):
        plots.style(_fig(), height=0)


def _sweep() -> xr.DataArray:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 4, 5))  # model, depth, seed
    values[1, 2, 0] = np.nan  # a failed run
    return xr.DataArray(
        values, dims=("model", "depth", "seed"),
        coords={"model": ["fc", "lkc", "fkc"], "depth": [1, 2, 3, 4], "seed": range(5)},
        name="f50", attrs={"units": "cycles/pixel", "long_name": "half-power frequency"},
    )


def test_line_with_error_draws_mean_and_sample_std_band_per_group():
    da = _sweep()
    fig = plots.line_with_error(da, x="depth", color="model")
    assert len(fig.data) == 6  # (band, mean) per model
    for i, model in enumerate(["fc", "lkc", "fkc"]):
        band, line = fig.data[2 * i], fig.data[2 * i + 1]
        vals = da.sel(model=model).values  # (depth, seed)
        mean = np.array([np.mean(row[~np.isnan(row)]) for row in vals])
        std = np.array([np.std(row[~np.isnan(row)], ddof=1) for row in vals])
        np.testing.assert_allclose(line.y, mean, rtol=1e-12)
        np.testing.assert_allclose(band.y, np.concatenate([mean + std, (mean - std)[::-1]]),
                                   rtol=1e-12)
        np.testing.assert_array_equal(band.x, [1, 2, 3, 4, 4, 3, 2, 1])
        assert line.name == model and band.fill == "toself"
        assert band.line.width == 0 and not band.showlegend
        assert line.line.color == plots.COLORS[i]
    assert fig.layout.yaxis.title.text == "half-power frequency [cycles/pixel]"
    assert fig.layout.xaxis.title.text == "depth"


def test_line_with_error_single_seed_has_zero_width_band_and_no_seed_dim_works():
    da = _sweep().sel(model="fc").isel(seed=[1])
    fig = plots.line_with_error(da, x="depth")
    np.testing.assert_allclose(fig.data[0].y[:4], fig.data[1].y)
    fig2 = plots.line_with_error(da.isel(seed=0, drop=True), x="depth")
    np.testing.assert_allclose(fig2.data[1].y, da.isel(seed=0).values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"x": "width"}, "x='width'"), ({"x": "depth", "color": "net"}, "color='net'"),
     ({"x": "depth"}, "\\['model'\\]"), ({"x": "depth", "color": "model", "band_alpha": 2},
                                        "band_alpha")],
)
def test_line_with_error_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.line_with_error(_sweep(), **kwargs)
