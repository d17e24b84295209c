"""Bad input to the rest of freqkit's public API: plots, figures, imagenet, archs, resnet, advtrain, images
and aliasing's model hooks (issue 11, continued from ``tests/test_bad_input.py``).

The framework (:class:`Kind`, :class:`Call`, :class:`Env`, ``raises``, ``returns``, ``classify``, the
handled / weak / silent verdicts) is that of ``tests/test_bad_input.py``; only the kinds are new. A
figure function given results that lack what it draws must raise a ``ValueError`` naming the figure and
the missing variable (or the empty dim, or the variable that holds no finite value): a figure silently
drawing nothing, or NaN lines, is a silent wrong result. ``python tests/test_bad_input_modules.py --raw``
classifies every kind (``-v``: every call with its message; ``--before FILE``: the rows below). The
"before" column was measured with ``PYTHONPATH`` pointing at a copy of the package whose files of this
change (plots, figures, imagenet, archs, resnet, advtrain, images, aliasing) were as before the fixes.

Covered modules: plots, figures (``__init__`` and ch00 ... ch06), imagenet, archs, resnet, advtrain,
images, aliasing (its model hooks; ``aliasing_measure``/``alias_free_spectrum`` are covered in
``test_bad_input.py``); ``test_every_public_callable_is_covered`` checks every name in their ``__all__``.

==========================  ==================================================  =======  =======
kind                        misuse                                              before   after
==========================  ==================================================  =======  =======
plots-style                 style/show: str/bool height, str log flags, a dict  silent   handled
plots-line-with-error       NaN-only/empty data, x=seed dim, str alpha/values   silent   handled
figures-learning-curves     missing curve vars, bad color/facet, NaN-only       silent   handled
figures-table               not a DataFrame; digits 0 / float / numpy           silent   handled
ch00-figures-missing        ch00 figures on results missing a variable          weak     handled
ch00-figures-empty-nan      ch00 figures on empty / NaN-only data; max_side     silent   handled
ch00-helpers                png_uri/log_power/crop: NaN, negative, non-square   silent   handled
ch01-figures                missing vars, no seed dim, NaN-only, str epsilon    silent   handled
ch02-figures                missing vars, unknown/empty dataset, str flat       silent   handled
ch03-figures                missing vars/theory lines, NaN-only, float k        silent   handled
ch04-figures                NaN pixels, unknown model, n_examples=0, missing    silent   handled
ch05-figures                missing columns, empty table, no ViTs, no spectra   silent   handled
ch06-figures                missing vars, NaN-only, no runs, a DataFrame        silent   handled
images-pixels               NaN, uint8, float16, object, big-endian pixels      silent   handled
images-args                 numpy radii/ints, negative radii, seeds, sizes      weak     handled
aliasing-hooks              numpy/empty/NaN/float64 x, str layers, callback     silent   handled
aliasing-stages             mixed shapes, strings, a list, int names            weak     handled
resnet-create               unknown name, numpy ints, seeds, NaN/str mean       silent   handled
resnet-forward              uint8/float64/numpy/1-channel/unbatched images      silent   handled
resnet-parts                block stride/planes, dict config, no depth          silent   handled
archs-create                unknown name, numpy ints, seeds, NaN std, mean      silent   handled
archs-forward               uint8/float64/numpy images, wrong image size        silent   handled
archs-parts                 input_shape, NaN std, std <= 0, unknown family      silent   handled
imagenet-load               unknown model, str flags/sources, seeds, bad files  silent   handled
imagenet-preprocessing      float size, NaN mean, inf/str std, spec fields      silent   handled
imagenet-classifier         uint8/float64/numpy input, wrong size, batch_size   silent   handled
imagenet-labels             labels out of range / float; min_accuracy < 0       silent   handled
imagenet-spectra            NaN images, n_boot/ci/seed/chunk, str attacks       silent   handled
imagenet-data               no images, truncated archive / labels, bad args     weak     handled
advtrain-config             bool/<=0 eps, steps <= 0, None alpha, str bools     silent   handled
advtrain-attack             eps/steps/alpha <= 0, pixels out of box, labels     silent   handled
advtrain-pieces             str t/drop, dict config, bad x/generator/padding    silent   handled
advtrain-train              labels, pixels 0..255/NaN, dict config, callback    silent   handled
==========================  ==================================================  =======  =======

33 kinds of misuse tried (276 calls; calls before: 69 handled / 128 weak / 79 silent): before 0 handled / 4
weak / 29 silent; after 33 handled / 0 weak / 0 silent.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
import xarray as xr
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_bad_input as base
from test_bad_input import (
    ORDER,
    assert_covered,
    assert_docstring_table,
    assert_handled,
    Call,
    Env,
    Kind,
    _assert,
    _imagenet_tar,
    isolated,
    patched,
    raises,
    returns,
)

torch.set_num_threads(1)

COVERED_MODULES = ("plots", "figures", "figures.ch00", "figures.ch01", "figures.ch02", "figures.ch03",
                   "figures.ch04", "figures.ch05", "figures.ch06", "imagenet", "archs", "resnet", "advtrain",
                   "images", "aliasing")


def fk(module: str) -> Any:
    return importlib.import_module(f"freqkit.{module}")


def fig(ch: str) -> Any:
    return fk(f"figures.{ch}")


NAN = float("nan")


# =========================================================================== shared objects


def toy(env: Env, ch: str) -> xr.Dataset:
    """A fresh copy of a chapter's hand-made results (the figures' doctest data)."""
    def make() -> Any:
        ex = fk(f"experiments.{ch}")
        return getattr(ex, {"ch00": "_toy_run", "ch01": "_toy_summary"}.get(ch, "_toy_results"))()
    return env.once(f"toy-{ch}", make).copy(deep=True)


def all_nan(ds: xr.Dataset, *names: str) -> xr.Dataset:
    out = ds.copy(deep=True)
    for n in names:
        out[n] = out[n].astype(float) * np.nan
    return out


def empty_along(ds: xr.Dataset, dim: str) -> xr.Dataset:
    return ds.isel({dim: slice(0, 0)})


def curves(models: tuple[str, ...] = ("fc", "fkc")) -> xr.Dataset:
    v = np.arange(4.0 * len(models)).reshape(len(models), 2, 2)
    return xr.Dataset({n: (("model", "seed", "epoch"), v) for n in
                       ("curve_train_loss", "curve_train_accuracy", "curve_val_accuracy")},
                      coords={"model": list(models), "seed": [0, 1], "epoch": [1, 2]})


def depth_da(values: Any = ((1.0, 3.0), (2.0, 6.0))) -> xr.DataArray:
    return xr.DataArray(np.asarray(values), dims=("depth", "seed"), coords={"depth": [1, 2]},
                        attrs={"long_name": "f50"})


def beta_spectra_ds(env: Env) -> xr.Dataset:
    ds = fk("experiments.ch01")._toy_results()
    shape = tuple(ds.sizes[d] for d in ("model", "dataset", "depth", "nonlinearity", "kernel_size", "seed"))
    power = np.random.default_rng(0).random(shape + (4, 4))
    return ds.assign(beta_power=(("model", "dataset", "depth", "nonlinearity", "kernel_size", "seed", "freq_row",
                                  "freq_col"), power))


def radial_ds(env: Env) -> xr.Dataset:
    ds = toy(env, "ch05")
    shape = tuple(ds.sizes[d] for d in ("model", "dataset", "seed", "attack"))
    power = np.random.default_rng(0).random(shape + (8, 8)) + 0.1
    return ds.assign(delta_power=(("model", "dataset", "seed", "attack", "freq_row", "freq_col"), power))


def strided_net(env: Env) -> nn.Module:
    def make() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1))
    return env.once("strided", make)


def images(n: int = 4, c: int = 3, size: int = 8, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tiny_cnn(env: Env) -> nn.Module:
    return env.once("cnn", lambda: fk("resnet").create_cnn("preact-resnet18", width=2, seed=0))


def tiny_arch(env: Env) -> nn.Module:
    return env.once("arch", lambda: fk("archs").create_arch("resnet", width=4, depth=1, seed=0))


def tiny_clf(env: Env) -> Any:
    return env.once("clf", lambda: fk("imagenet").load_classifier("vit-b8", pretrained=False, tiny=True))


def linear(env: Env, classes: int = 3, size: int = 8) -> nn.Module:
    def make() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, classes))
    return env.once(f"linear-{classes}-{size}", make)


def same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    _assert(list(sa) == list(sb), "different state-dict keys")
    _assert(all(torch.equal(sa[k], sb[k]) for k in sa), "different weights")


def python_fields(obj: Any) -> None:
    bad = {k: type(v).__name__ for k, v in dataclasses.asdict(obj).items()
           if isinstance(v, (np.generic,)) or (isinstance(v, tuple) and any(isinstance(e, np.generic) for e in v))}
    _assert(not bad, f"numpy scalars kept in the config: {bad}")


def equal_arrays(expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        _assert(np.array_equal(np.asarray(result), np.asarray(expected)), f"{result} differs from {expected}")
    return check


# =========================================================================== plots / figures package


def plots_calls_style(env: Env) -> list[Call]:
    P = fk("plots")
    return [
        raises("show('not a figure')", lambda: P.show("<div>"), "fig", "str"),
        raises("style(height='400')", lambda: P.style(go.Figure(), height="400"), "height", "'400'"),
        raises("style(height=True)", lambda: P.style(go.Figure(), height=True), "height", "True"),
        raises("style(width=-5)", lambda: P.style(go.Figure(), width=-5), "width", "-5"),
        raises("style(log_y='no')", lambda: P.style(go.Figure(), log_y="no"), "log_y", "'no'"),
        raises("style(a dict for fig)", lambda: P.style({"data": []}), "fig", "dict"),
        returns("style(height=np.int64(300))", lambda: P.style(go.Figure(), height=np.int64(300)),
                lambda f: _assert(f.layout.height == 300, f"{f.layout.height!r}")),
    ]


def plots_calls_line_with_error(env: Env) -> list[Call]:
    P = fk("plots")
    da = depth_da()
    return [
        raises("line_with_error(NaN-only values)", lambda: P.line_with_error(da * np.nan, x="depth"), "da", "NaN"),
        raises("line_with_error(empty x dim)", lambda: P.line_with_error(da.isel(depth=slice(0, 0)), x="depth"),
               "depth", "empty"),
        raises("line_with_error(x=seed_dim)", lambda: P.line_with_error(da, x="seed"), "x", "'seed'"),
        raises("line_with_error(color=x)", lambda: P.line_with_error(da, x="depth", color="depth"), "color",
               "'depth'"),
        raises("line_with_error(string values)", lambda: P.line_with_error(da.astype(str), x="depth"), "da", "<U"),
        raises("line_with_error(band_alpha='0.2')", lambda: P.line_with_error(da, x="depth", band_alpha="0.2"),
               "band_alpha", "'0.2'"),
        raises("line_with_error(fig='f')", lambda: P.line_with_error(da, x="depth", fig="f"), "fig", "str"),
        raises("line_with_error(a Dataset)", lambda: P.line_with_error(da.to_dataset(name="v"), x="depth"), "da",
               "Dataset"),
    ]


def figures_calls_learning_curves(env: Env) -> list[Call]:
    F = fk("figures")
    return [
        raises("fig_learning_curves(no curve_val_accuracy)",
               lambda: F.fig_learning_curves(curves().drop_vars("curve_val_accuracy")), "fig_learning_curves",
               "curve_val_accuracy"),
        raises("fig_learning_curves(color='modle')", lambda: F.fig_learning_curves(curves(), color="modle"),
               "color", "'modle'"),
        raises("fig_learning_curves(facet='depth' not a dim)", lambda: F.fig_learning_curves(curves(), facet="depth"),
               "facet", "'depth'"),
        raises("fig_learning_curves(NaN-only curves)",
               lambda: F.fig_learning_curves(all_nan(curves(), "curve_train_loss", "curve_train_accuracy",
                                                     "curve_val_accuracy")), "fig_learning_curves", "NaN"),
        raises("fig_learning_curves(a DataFrame)",
               lambda: F.fig_learning_curves(curves().to_dataframe()), "fig_learning_curves", "DataFrame"),
        raises("fig_learning_curves(no epoch dim)",
               lambda: F.fig_learning_curves(curves().isel(epoch=0)), "fig_learning_curves", "epoch"),
    ]


def figures_calls_table(env: Env) -> list[Call]:
    F = fk("figures")
    df = pd.DataFrame({"model": ["fc"], "acc": [0.12345]})
    return [
        raises("table_bundle(a dict)", lambda: F.table_bundle({"model": ["fc"]}), "df", "dict"),
        raises("table_bundle(digits=0)", lambda: F.table_bundle(df, digits=0), "digits", "0"),
        raises("table_bundle(digits=2.5)", lambda: F.table_bundle(df, digits=2.5), "digits", "2.5"),
        raises("table(an xarray Dataset)", lambda: F.table(xr.Dataset({"a": ("x", [1.0])})), "df", "Dataset"),
        returns("table_bundle(digits=np.int64(2))", lambda: F.table_bundle(df, digits=np.int64(2))["text/markdown"],
                lambda md: _assert("| fc | 0.12 |" in md, md)),
    ]


# --------------------------------------------------------------------------- chapter figures


def ch00_calls_missing(env: Env) -> list[Call]:
    C = fig("ch00")
    ds = toy(env, "ch00")
    return [
        raises("fig_example_images(no example_image)", lambda: C.fig_example_images(ds.drop_vars("example_image")),
               "fig_example_images", "example_image"),
        raises("fig_power_spectra(no mean_power)", lambda: C.fig_power_spectra(ds.drop_vars("mean_power")),
               "fig_power_spectra", "mean_power"),
        raises("fig_radial_cumulative(no radial_cumulative)",
               lambda: C.fig_radial_cumulative(ds.drop_vars("radial_cumulative")), "fig_radial_cumulative",
               "radial_cumulative"),
        raises("fig_f50(no f50_noise)", lambda: C.fig_f50(ds.drop_vars("f50_noise")), "fig_f50", "f50_noise"),
        raises("fig_jpeg_pairs(no pair_psnr)", lambda: C.fig_jpeg_pairs(ds.drop_vars("pair_psnr")),
               "fig_jpeg_pairs", "pair_psnr"),
        raises("fig_kernel_kappa(no kernel_padded_size)",
               lambda: C.fig_kernel_kappa(ds.drop_vars("kernel_padded_size")), "fig_kernel_kappa",
               "kernel_padded_size"),
        raises("fig_lfc_examples(no hfc)", lambda: C.fig_lfc_examples(ds.drop_vars("hfc")), "fig_lfc_examples",
               "hfc"),
        raises("fig_lfc_energy(no lfc_energy_fraction)",
               lambda: C.fig_lfc_energy(ds.drop_vars("lfc_energy_fraction")), "fig_lfc_energy",
               "lfc_energy_fraction"),
        raises("fig_f50(a DataArray)", lambda: C.fig_f50(ds.f50), "fig_f50", "DataArray"),
        raises("fig_radial_cumulative(no 'noise' spectrum)",
               lambda: C.fig_radial_cumulative(ds.sel(spectrum=["images", "blurred"])), "fig_radial_cumulative",
               "noise"),
    ]


def ch00_calls_empty_nan(env: Env) -> list[Call]:
    C = fig("ch00")
    ds = toy(env, "ch00")
    return [
        raises("fig_example_images(NaN-only images)", lambda: C.fig_example_images(all_nan(ds, "example_image")),
               "fig_example_images", "example_image"),
        raises("fig_f50(NaN-only f50)", lambda: C.fig_f50(all_nan(ds, "f50")), "fig_f50", "f50"),
        raises("fig_lfc_energy(no image sets)", lambda: C.fig_lfc_energy(empty_along(ds, "image_set")),
               "fig_lfc_energy", "image_set"),
        raises("fig_radial_cumulative(NaN-only)", lambda: C.fig_radial_cumulative(all_nan(ds, "radial_cumulative")),
               "fig_radial_cumulative", "radial_cumulative"),
        raises("fig_power_spectra(max_side=0)", lambda: C.fig_power_spectra(ds, max_side=0), "max_side", "0"),
        raises("fig_kernel_kappa(no kernel sizes)", lambda: C.fig_kernel_kappa(empty_along(ds, "kernel_size")),
               "fig_kernel_kappa", "kernel_size"),
    ]


def ch00_calls_helpers(env: Env) -> list[Call]:
    C = fig("ch00")
    nan_img = np.full((3, 4, 4), 0.5)
    nan_img[1, 2, 3] = np.nan
    neg = np.ones((8, 8))
    neg[1, 2] = -1.0
    return [
        raises("png_uri(NaN pixel)", lambda: C.png_uri(nan_img), "image", "nan"),
        raises("png_uri(2-D image)", lambda: C.png_uri(np.zeros((3, 4))), "image", "(3, 4)"),
        raises("png_uri(strings)", lambda: C.png_uri(np.full((1, 2, 2), "a")), "image", "<U1"),
        raises("log_power(non-square)", lambda: C.log_power(np.ones((4, 6))), "power", "(4, 6)"),
        raises("log_power(negative power)", lambda: C.log_power(neg), "power", "-1.0"),
        raises("log_power(max_side=2.5)", lambda: C.log_power(np.ones((8, 8)), 2.5), "max_side", "2.5"),
        raises("crop(a numpy array)", lambda: C.crop(np.ones((2, 2))), "da", "ndarray"),
        returns("log_power(max_side=np.int64(4))", lambda: C.log_power(np.full((16, 16), 100.0), np.int64(4)),
                lambda r: _assert(r[0].shape == (4, 4) and r[1] == 4, f"{r[0].shape}, {r[1]}")),
    ]


def ch01_calls(env: Env) -> list[Call]:
    C = fig("ch01")
    s = toy(env, "ch01")
    return [
        raises("fig_norms(no delta_l2_hat_maxnorm)", lambda: C.fig_norms(s.drop_vars("delta_l2_hat_maxnorm"), 1.0),
               "fig_norms", "delta_l2_hat_maxnorm"),
        raises("fig_norms(epsilon='0.1')", lambda: C.fig_norms(s, "0.1"), "epsilon", "'0.1'"),
        raises("fig_norms(no seed dim)", lambda: C.fig_norms(s.isel(seed=0), 1.0), "fig_norms", "seed"),
        raises("fig_scale_free(NaN-only beta_sparsity)", lambda: C.fig_scale_free(all_nan(s, "beta_sparsity")),
               "fig_scale_free", "beta_sparsity"),
        raises("fig_scale_free(no models)", lambda: C.fig_scale_free(empty_along(s, "model")), "fig_scale_free",
               "model"),
        raises("fig_beta_spectra(no beta_power)", lambda: C.fig_beta_spectra(fk("experiments.ch01")._toy_results()),
               "fig_beta_spectra", "beta_power"),
        raises("fig_beta_spectra(NaN-only beta_power)",
               lambda: C.fig_beta_spectra(all_nan(beta_spectra_ds(env), "beta_power")), "fig_beta_spectra",
               "beta_power"),
        returns("fig_beta_spectra(a valid beta_power)", lambda: C.fig_beta_spectra(beta_spectra_ds(env)),
                lambda f: _assert(len(f.data) == 4, f"{len(f.data)} heatmaps")),
    ]


def ch02_calls(env: Env) -> list[Call]:
    C = fig("ch02")
    E = fk("experiments.ch02")
    runs = env.once("ch02-runs", lambda: E.f50_runs(toy(env, "ch02")))
    summary = env.once("ch02-summary", lambda: E.f50_summary(toy(env, "ch02")))
    return [
        raises("fig_f50_datasets(no delta_f50)", lambda: C.fig_f50_datasets(summary.drop_vars("delta_f50")),
               "fig_f50_datasets", "delta_f50"),
        raises("fig_f50_datasets(NaN-only)", lambda: C.fig_f50_datasets(all_nan(summary, "beta_f50", "delta_f50")),
               "fig_f50_datasets", "NaN"),
        raises("fig_f50_by_depth(dataset='zz')", lambda: C.fig_f50_by_depth(runs, "zz"), "dataset", "'zz'"),
        raises("fig_f50_by_depth(no datasets)", lambda: C.fig_f50_by_depth(empty_along(runs, "dataset")),
               "fig_f50_by_depth", "dataset"),
        raises("fig_f50_vs_accuracy(no test_accuracy)",
               lambda: C.fig_f50_vs_accuracy(runs.drop_vars("test_accuracy")), "fig_f50_vs_accuracy",
               "test_accuracy"),
        raises("fig_f50_vs_accuracy(flat='0.4')", lambda: C.fig_f50_vs_accuracy(runs, flat="0.4"), "flat", "'0.4'"),
        raises("fig_f50_vs_accuracy(NaN-only beta_f50)", lambda: C.fig_f50_vs_accuracy(all_nan(runs, "beta_f50")),
               "fig_f50_vs_accuracy", "beta_f50"),
    ]


def ch03_calls(env: Env) -> list[Call]:
    C = fig("ch03")
    E = fk("experiments.ch03")
    s = env.once("ch03-summary", lambda: E.kappa_summary(toy(env, "ch03")))
    theory = env.once("ch03-theory", lambda: E.theory_curves([3, 11, 32], [1, 3], draws=4))
    return [
        raises("fig_kappa(no beta_kappa_high)", lambda: C.fig_kappa(s.drop_vars("beta_kappa_high")), "fig_kappa",
               "beta_kappa_high"),
        raises("fig_kappa(theory without 'bound')", lambda: C.fig_kappa(s, theory.drop_vars("bound")), "fig_kappa",
               "bound"),
        raises("fig_kappa(NaN-only)", lambda: C.fig_kappa(all_nan(s, "beta_kappa_high")), "fig_kappa",
               "beta_kappa_high"),
        raises("fig_kappa_vs_accuracy(no test_accuracy)",
               lambda: C.fig_kappa_vs_accuracy(s.drop_vars("test_accuracy")), "fig_kappa_vs_accuracy",
               "test_accuracy"),
        raises("kernel_size_colors([3.5, 11])", lambda: C.kernel_size_colors([3.5, 11]), "kernel_sizes", "3.5"),
        raises("ch03.fig_learning_curves(no kernel_size dim)",
               lambda: C.fig_learning_curves(toy(env, "ch03").isel(kernel_size=0)), "fig_learning_curves",
               "kernel_size"),
        returns("kernel_size_colors(np.array of int64)", lambda: C.kernel_size_colors(np.array([3, 32])),
                lambda r: _assert(r == C.kernel_size_colors([3, 32]) and all(type(k) is int for k in r), f"{r}")),
    ]


def ch04_calls(env: Env) -> list[Call]:
    C = fig("ch04")
    ds = toy(env, "ch04")
    gains = env.once("ch04-gains", lambda: fk("experiments.ch04").gain_summary(toy(env, "ch04")))
    nan_img = np.full((1, 2, 2), 0.5)
    nan_img[0, 1, 0] = np.nan
    return [
        raises("to_rgb(NaN pixel)", lambda: C.to_rgb(nan_img), "img", "nan"),
        raises("to_rgb(2 channels)", lambda: C.to_rgb(np.zeros((2, 4, 4))), "img", "(2, 4, 4)"),
        raises("fig_examples(model='vit')", lambda: C.fig_examples(ds, model="vit"), "model", "'vit'"),
        raises("fig_examples(n_examples=0)", lambda: C.fig_examples(ds, n_examples=0), "n_examples", "0"),
        raises("fig_examples(no example_feature)", lambda: C.fig_examples(ds.drop_vars("example_feature")),
               "fig_examples", "example_feature"),
        raises("fig_examples(only the clean band)", lambda: C.fig_examples(ds.sel(band=["clean"])), "fig_examples",
               "band"),
        raises("fig_gains(no gain_mean)", lambda: C.fig_gains(gains.drop_vars("gain_mean")), "fig_gains",
               "gain_mean"),
        raises("fig_shortcut_rates(NaN-only)", lambda: C.fig_shortcut_rates(all_nan(ds, "shortcut_rate")),
               "fig_shortcut_rates", "shortcut_rate"),
        raises("fig_shortcut_rates(no shortcut_rate)", lambda: C.fig_shortcut_rates(ds.drop_vars("shortcut_rate")),
               "fig_shortcut_rates", "shortcut_rate"),
    ]


def ch05_calls(env: Env) -> list[Call]:
    C = fig("ch05")
    table = env.once("ch05-table", lambda: fk("experiments.ch05").summary_table(toy(env, "ch05")))
    return [
        raises("fig_f50(no delta_f50_low column)", lambda: C.fig_f50(table.drop(columns="delta_f50_low")), "fig_f50",
               "delta_f50_low"),
        raises("fig_f50(empty table)", lambda: C.fig_f50(table.iloc[:0]), "fig_f50", "empty"),
        raises("fig_f50(the Dataset, not the table)", lambda: C.fig_f50(toy(env, "ch05")), "fig_f50", "Dataset"),
        raises("fig_patch_size(no ViT rows)", lambda: C.fig_patch_size(table[table.family != "vit"]),
               "fig_patch_size", "vit"),
        raises("model_order(no family column)", lambda: C.model_order(table.drop(columns="family")), "model_order",
               "family"),
        raises("fig_radial_energy(attack='pgd-l3')", lambda: C.fig_radial_energy(radial_ds(env), "pgd-l3"), "attack",
               "'pgd-l3'"),
        raises("fig_radial_energy(no delta_power)", lambda: C.fig_radial_energy(toy(env, "ch05"), "pgd-l2"),
               "fig_radial_energy", "delta_power"),
        raises("fig_radial_energy(NaN-only delta_power)",
               lambda: C.fig_radial_energy(all_nan(radial_ds(env), "delta_power"), "pgd-l2"), "fig_radial_energy",
               "delta_power"),
        returns("fig_radial_energy(a valid delta_power)", lambda: C.fig_radial_energy(radial_ds(env), "pgd-l2"),
                lambda f: _assert(len(f.data) == 3, f"{len(f.data)} curves")),
    ]


def ch06_calls(env: Env) -> list[Call]:
    C = fig("ch06")
    ds = toy(env, "ch06")
    return [
        raises("fig_training_curves(no aliasing_stage)",
               lambda: C.fig_training_curves(ds.drop_vars("aliasing_stage")), "fig_training_curves", "aliasing_stage"),
        raises("fig_training_curves(NaN-only clean_accuracy)",
               lambda: C.fig_training_curves(all_nan(ds, "clean_accuracy")), "fig_training_curves", "clean_accuracy"),
        raises("fig_training_curves(no runs)", lambda: C.fig_training_curves(empty_along(ds, "run")),
               "fig_training_curves", "run"),
        raises("fig_aliasing_per_stage(no aliasing_stage)",
               lambda: C.fig_aliasing_per_stage(ds.drop_vars("aliasing_stage")), "fig_aliasing_per_stage",
               "aliasing_stage"),
        raises("fig_aliasing_per_stage(a DataFrame)",
               lambda: C.fig_aliasing_per_stage(fk("experiments.ch06").aliasing_table(ds)), "fig_aliasing_per_stage",
               "DataFrame"),
    ]


# =========================================================================== images


def images_calls_pixels(env: Env) -> list[Call]:
    I = fk("images")
    x = np.random.default_rng(0).random((2, 1, 8, 8))
    nan = x.copy()
    nan[1, 0, 3, 4] = np.nan
    return [
        raises("image_f50(NaN pixel)", lambda: I.image_f50(nan), "x", "nan"),
        raises("image_f50(uint8 images)", lambda: I.image_f50((x * 255).astype(np.uint8)), "x", "uint8"),
        raises("image_f50(float16 images)", lambda: I.image_f50(x.astype(np.float16)), "x", "float16"),
        raises("image_f50(object array)", lambda: I.image_f50(x.astype(object)), "x", "object"),
        returns("image_f50(big-endian) = native", lambda: I.image_f50(x.astype(">f8")), equal_arrays(I.image_f50(x))),
        raises("band_energy_fraction(NaN pixel)", lambda: I.band_energy_fraction(nan, "high"), "x", "nan"),
        raises("lfc_energy_fraction(NaN pixel)", lambda: I.lfc_energy_fraction(nan, [1.0]), "x", "nan"),
        raises("gaussian_blur(NaN pixel)", lambda: I.gaussian_blur(nan, 1.0), "x", "nan"),
        raises("gaussian_blur(uint8 tensor)", lambda: I.gaussian_blur(torch.zeros(4, 4, dtype=torch.uint8), 1.0), "x",
               "uint8"),
        raises("band_energy_fraction(non-square)", lambda: I.band_energy_fraction(np.ones((1, 1, 8, 6)) * x[0, :, :, :6],
                                                                                  "high"), "x", "(1, 1, 8, 6)"),
    ]


def images_calls_args(env: Env) -> list[Call]:
    I = fk("images")
    x = np.random.default_rng(0).random((2, 1, 8, 8))
    return [
        returns("lfc_energy_fraction(radii=np.array)", lambda: I.lfc_energy_fraction(x, np.array([1.0, 2.0])),
                equal_arrays(I.lfc_energy_fraction(x, [1.0, 2.0]))),
        raises("lfc_energy_fraction(radii=[-1.0])", lambda: I.lfc_energy_fraction(x, [-1.0]), "radi", "-1.0"),
        raises("lfc_energy_fraction(radii=[1.0, '2'])", lambda: I.lfc_energy_fraction(x, [1.0, "2"]), "radi", "'2'"),
        raises("band_energy_fraction(band='ultra')", lambda: I.band_energy_fraction(x, "ultra"), "band", "'ultra'"),
        raises("white_noise(seed=-1)", lambda: I.white_noise((2, 3), -1), "seed", "-1"),
        raises("white_noise(shape=5)", lambda: I.white_noise(5, 0), "shape", "5"),
        returns("white_noise(numpy shape and seed)", lambda: I.white_noise((np.int64(2), np.int32(3)), np.int64(4)),
                lambda t: _assert(torch.equal(t, I.white_noise((2, 3), 4)), "differs")),
        raises("gaussian_kernel(k=3.0)", lambda: I.gaussian_kernel(3.0, 1.0), "k", "3.0"),
        raises("gaussian_blur(sigma='1')", lambda: I.gaussian_blur(x, "1"), "sigma", "'1'"),
        raises("flat_spectrum_f50(n=True)", lambda: I.flat_spectrum_f50(True), "n", "True"),
        returns("grid_median_radius(np.int64(32))", lambda: I.grid_median_radius(np.int64(32)),
                equal_arrays(I.grid_median_radius(32))),
        raises("image_f50(remove_mean='no')", lambda: I.image_f50(x, remove_mean="no"), "remove_mean", "'no'"),
    ]


# =========================================================================== aliasing model hooks


def aliasing_calls_hooks(env: Env) -> list[Call]:
    A = fk("aliasing")
    net = strided_net(env)
    x = images(4, 3, 16)
    nan_x = x.clone()
    nan_x[2, 1, 5, 5] = NAN
    cnn = tiny_cnn(env)
    return [
        raises("model_aliasing(numpy x)", lambda: A.model_aliasing(net, x.numpy()), "x", "ndarray"),
        returns("model_aliasing(batch_size=np.int64(2)) = batch_size=2",
                lambda: A.model_aliasing(net, x, batch_size=np.int64(2))["2"],
                lambda r: _assert(torch.allclose(r, A.model_aliasing(net, x, batch_size=2)["2"]), "differs")),
        raises("model_aliasing(batch_size=2.5)", lambda: A.model_aliasing(net, x, batch_size=2.5), "batch_size", "2.5"),
        raises("model_aliasing(empty x)", lambda: A.model_aliasing(net, x[:0]), "x", "(0, 3, 16, 16)"),
        raises("model_aliasing(NaN pixel)", lambda: A.model_aliasing(net, nan_x), "x", "nan"),
        raises("model_aliasing(float64 x, float32 model)", lambda: A.model_aliasing(net, x.double()), "x", "float64"),
        raises("model_aliasing(odd 15x15 images)", lambda: A.model_aliasing(net, x[..., :15, :15]), "15"),
        raises("model_aliasing(model without strided conv)",
               lambda: A.model_aliasing(nn.Sequential(nn.Conv2d(3, 2, 3)), x), "model", "strided"),
        raises("model_aliasing(a function for the model)", lambda: A.model_aliasing(lambda t: t, x), "model",
               "function"),
        raises("strided_hooks(layers='layer2.0.conv1')",
               lambda: A.strided_hooks(cnn, lambda *a: None, layers="layer2.0.conv1").__enter__(), "layers",
               "'layer2.0.conv1'"),
        raises("strided_hooks(callback=None)", lambda: A.strided_hooks(net, None).__enter__(), "callback", "None"),
        raises("strided_feature_maps(unbatched (3, 16, 16))", lambda: A.strided_feature_maps(net, x[0]), "x",
               "(3, 16, 16)"),
        raises("strided_convolutions(stride 3)",
               lambda: A.strided_convolutions(nn.Sequential(nn.Conv2d(1, 1, 3, stride=3))), "stride", "3"),
        raises("strided_convolutions('resnet')", lambda: A.strided_convolutions("resnet"), "model", "str"),
    ]


def aliasing_calls_stages(env: Env) -> list[Call]:
    A = fk("aliasing")
    return [
        raises("stage_means(tensors of different shapes)",
               lambda: A.stage_means({"layer2.0": torch.ones(3), "layer2.1": torch.ones(4)}), "values", "layer2"),
        raises("stage_means(strings)", lambda: A.stage_means({"layer2.0": "0.5"}), "values", "'0.5'"),
        raises("stage_means(a list)", lambda: A.stage_means([1.0, 2.0]), "values", "list"),
        raises("stage_of(3)", lambda: A.stage_of(3), "name", "3"),
        returns("stage_means(numpy floats)", lambda: A.stage_means({"a.0": np.float32(1.0), "a.1": np.float64(3.0)}),
                lambda r: _assert(r == {"a": 2.0} and type(r["a"]) is float, f"{r!r}")),
    ]


# =========================================================================== resnet


def resnet_calls_create(env: Env) -> list[Call]:
    R = fk("resnet")

    def numpy_same() -> tuple[nn.Module, nn.Module]:
        return (R.create_cnn("preact-resnet18", num_classes=np.int64(3), width=np.int64(2), seed=np.int64(1)),
                R.create_cnn("preact-resnet18", num_classes=3, width=2, seed=1))

    return [
        raises("create_cnn('resnet18')", lambda: R.create_cnn("resnet18"), "'resnet18'", "preact-resnet18"),
        returns("create_cnn(numpy ints) = Python ints", numpy_same,
                lambda r: (same_state(*r), python_fields(r[0].config),
                           _assert(r[0].config == r[1].config, f"{r[0].config} != {r[1].config}"))),
        returns("create_cnn('wide-resnet', depth=np.int64(10))",
                lambda: R.create_cnn("wide-resnet", depth=np.int64(10), width=1, seed=0),
                lambda m: (python_fields(m.config), same_state(m, R.create_cnn("wide-resnet", depth=10, width=1,
                                                                               seed=0)))),
        raises("create_cnn(seed=-1)", lambda: R.create_cnn("preact-resnet18", width=2, seed=-1), "seed", "-1",
               accepted="weak"),
        raises("create_cnn(seed=1.5)", lambda: R.create_cnn("preact-resnet18", width=2, seed=1.5), "seed", "1.5"),
        raises("create_cnn(mean with NaN)", lambda: R.create_cnn("preact-resnet18", width=2, mean=(NAN, 0.5, 0.5)),
               "mean", "nan"),
        raises("create_cnn(mean='abc')", lambda: R.create_cnn("preact-resnet18", width=2, mean="abc"), "mean",
               "'abc'"),
        raises("create_cnn(std with inf)",
               lambda: R.create_cnn("preact-resnet18", width=2, std=(0.2, math.inf, 0.2)), "std", "inf"),
        raises("create_cnn(width=0)", lambda: R.create_cnn("preact-resnet18", width=0), "width", "0"),
        raises("create_cnn('wide-resnet', depth=12)", lambda: R.create_cnn("wide-resnet", depth=12), "depth", "12"),
    ]


def resnet_calls_forward(env: Env) -> list[Call]:
    net = tiny_cnn(env)
    x = images(2, 3, 8)
    return [
        raises("preact(uint8 images)", lambda: net((x * 255).to(torch.uint8)), "x", "uint8"),
        raises("preact(float64 images, float32 model)", lambda: net(x.double()), "x", "float64"),
        raises("preact(numpy images)", lambda: net(x.numpy()), "x", "ndarray"),
        raises("preact(1-channel images)", lambda: net(x[:, :1]), "x", "(2, 1, 8, 8)"),
        raises("preact(unbatched (3, 8, 8))", lambda: net(x[0]), "x", "(3, 8, 8)"),
        raises("preact(empty batch)", lambda: net(x[:0]), "x", "(0, 3, 8, 8)"),
    ]


def resnet_calls_parts(env: Env) -> list[Call]:
    R = fk("resnet")
    return [
        raises("PreActBlock(stride=3)", lambda: R.PreActBlock(4, 8, stride=3), "stride", "3"),
        raises("PreActBlock(in_planes=4.5)", lambda: R.PreActBlock(4.5, 8), "in_planes", "4.5"),
        raises("WideBlock(stride=0)", lambda: R.WideBlock(4, 8, stride=0), "stride", "0"),
        raises("WideBlock(planes=0)", lambda: R.WideBlock(4, 0), "planes", "0"),
        raises("PreActResNet(a dict config)", lambda: R.PreActResNet({"name": "preact-resnet18", "width": 2}),
               "config", "dict"),
        raises("WideResNet(CNNConfig without depth)", lambda: R.WideResNet(R.CNNConfig("wide-resnet", width=1)),
               "depth", "None"),
        raises("rebuild_cnn('preact-resnet18')", lambda: R.rebuild_cnn("preact-resnet18"), "config", "str"),
        raises("rebuild_cnn(CNNConfig of an unknown name)", lambda: R.rebuild_cnn(R.CNNConfig("resnet-9")),
               "'resnet-9'", "preact-resnet18"),
    ]


# =========================================================================== archs


def archs_calls_create(env: Env) -> list[Call]:
    A = fk("archs")

    def numpy_same() -> tuple[nn.Module, nn.Module]:
        return (A.create_arch("resnet", num_classes=np.int64(3), image_size=np.int64(16), width=np.int64(4),
                              depth=np.int64(1), seed=np.int64(2)),
                A.create_arch("resnet", num_classes=3, image_size=16, width=4, depth=1, seed=2))

    return [
        raises("create_arch('vit')", lambda: A.create_arch("vit"), "'vit'", "vit-p8"),
        returns("create_arch(numpy ints) = Python ints", numpy_same,
                lambda r: (same_state(*r), _assert(r[0][0].input_shape == (3, 16, 16)
                                                   and all(type(v) is int for v in r[0][0].input_shape), "shape"))),
        raises("create_arch(seed=-1)", lambda: A.create_arch("resnet", width=4, seed=-1), "seed", "-1",
               accepted="weak"),
        raises("create_arch(seed=1.5)", lambda: A.create_arch("resnet", width=4, seed=1.5), "seed", "1.5"),
        raises("create_arch(seed=True)", lambda: A.create_arch("resnet", width=4, seed=True), "seed", "True"),
        raises("create_arch(std with NaN)", lambda: A.create_arch("resnet", width=4, std=(0.2, NAN, 0.2)), "std",
               "nan"),
        raises("create_arch(mean=None, std given)", lambda: A.create_arch("resnet", width=4, mean=None), "mean",
               "None"),
        raises("create_arch(1 mean for 3 channels)", lambda: A.create_arch("resnet", width=4, mean=(0.5,),
                                                                           std=(0.25,)), "mean", "(0.5,)"),
        raises("create_arch('vit-p8', image_size=36)", lambda: A.create_arch("vit-p8", image_size=36), "image_size",
               "36"),
    ]


def archs_calls_forward(env: Env) -> list[Call]:
    net = tiny_arch(env)
    x = images(2, 3, 32)
    return [
        raises("arch(uint8 images)", lambda: net((x * 255).to(torch.uint8)), "x", "uint8"),
        raises("arch(float64 images)", lambda: net(x.double()), "x", "float64"),
        raises("arch(numpy images)", lambda: net(x.numpy()), "x", "ndarray"),
        raises("arch(16x16 images for a 32x32 model)", lambda: net(x[..., :16, :16]), "x", "(2, 3, 16, 16)",
               "(N, 3, 32, 32)"),
    ]


def archs_calls_parts(env: Env) -> list[Call]:
    A = fk("archs")
    head = nn.Linear(3, 2)
    nn.init.zeros_(head.weight)
    return [
        raises("Normalise(input_shape=(3, 32))", lambda: A.Normalise(None, None, input_shape=(3, 32)), "input_shape",
               "(3, 32)"),
        raises("Normalise(std=(0.25, nan))", lambda: A.Normalise((0.5, 0.5), (0.25, NAN)), "std", "nan"),
        raises("init_zero_heads(std=0.0)", lambda: A.init_zero_heads(head, std=0.0), "std", "0.0"),
        raises("init_zero_heads(std=-1)", lambda: A.init_zero_heads(head, std=-1), "std", "-1"),
        raises("init_zero_heads('net')", lambda: A.init_zero_heads("net"), "net", "str"),
        raises("ArchSpec(family='transformer')", lambda: A.ArchSpec("x", "transformer", None, 4, 8, 1), "family",
               "'transformer'"),
        raises("ArchSpec(width=0)", lambda: A.ArchSpec("x", "cnn", 3, None, 0, 1), "width", "0"),
    ]


# =========================================================================== imagenet


def imagenet_calls_load(env: Env) -> list[Call]:
    IM = fk("imagenet")

    def empty_dir() -> Path:
        return env.mkdir("weights")

    def garbage(suffix: str) -> Path:
        path = env.mkdir("weights") / f"resnet50.tv_in1k{suffix}"
        path.write_bytes(b"\x80\x02not a checkpoint" * 10)
        return path

    def other_model() -> Path:
        path = env.mkdir("weights") / "resnet50.tv_in1k.pth"
        torch.save({"fc.weight": torch.zeros(2, 2)}, path)
        return path

    def load(**kw: Any) -> Any:
        return IM.load_classifier(**{"name": "vit-b8", "pretrained": False, "tiny": True, **kw})

    return [
        raises("load_classifier('vit-b99')", lambda: load(name="vit-b99"), "'vit-b99'", "vit-b8"),
        raises("load_classifier(pretrained='no')", lambda: load(pretrained="no"), "pretrained", "'no'"),
        raises("load_classifier(tiny='yes')", lambda: load(tiny="yes"), "tiny", "'yes'"),
        raises("load_classifier(sources='hub')", lambda: IM.load_classifier("vit-b8", sources="hub"), "sources",
               "'hub'"),
        raises("load_classifier(seed=-1)", lambda: load(seed=-1), "seed", "-1", accepted="weak"),
        raises("load_classifier(seed=1.5)", lambda: load(seed=1.5), "seed", "1.5"),
        returns("load_classifier(seed=np.int64(3)) = seed=3", lambda: (load(seed=np.int64(3)), load(seed=3)),
                lambda r: (same_state(*r), _assert(r[0].weights_source == r[1].weights_source,
                                                   r[0].weights_source))),
        raises("load_classifier(weights=an empty directory)",
               lambda: IM.load_classifier("resnet50", weights=empty_dir()), "weights directory", "resnet50"),
        raises("load_classifier(weights=a garbage .pth)", lambda: IM.load_classifier("resnet50", weights=garbage(".pth")),
               "resnet50.tv_in1k.pth"),
        raises("load_classifier(weights=a garbage .safetensors)",
               lambda: IM.load_classifier("resnet50", weights=garbage(".safetensors")), "resnet50.tv_in1k.safetensors"),
        raises("load_classifier(weights=another model's state dict)",
               lambda: IM.load_classifier("resnet50", weights=other_model()), "resnet50.tv_in1k.pth", "missing"),
        raises("find_weights(sources=('ftp',))", lambda: IM.find_weights("vit-b8", sources=("ftp",)), "sources",
               "'ftp'"),
    ]


def imagenet_calls_preprocessing(env: Env) -> list[Call]:
    IM = fk("imagenet")

    def pre(**kw: Any) -> Any:
        return IM.Preprocessing(**{"input_size": (3, 32, 32), "crop_pct": 0.875, "interpolation": "bicubic",
                                   "mean": (0.5,) * 3, "std": (0.5,) * 3, **kw})

    return [
        raises("Preprocessing(input_size=(3, 224, 224.5))", lambda: pre(input_size=(3, 224, 224.5)), "input_size",
               "224.5"),
        raises("Preprocessing(mean with NaN)", lambda: pre(mean=(0.5, NAN, 0.5)), "mean", "nan"),
        raises("Preprocessing(std with inf)", lambda: pre(std=(0.5, 0.5, math.inf)), "std", "inf"),
        raises("Preprocessing(std=('a', 'b', 'c'))", lambda: pre(std=("a", "b", "c")), "std", "'a'"),
        raises("Preprocessing(crop_pct=nan)", lambda: pre(crop_pct=NAN), "crop_pct", "nan"),
        raises("Preprocessing(interpolation='cubic')", lambda: pre(interpolation="cubic"), "interpolation",
               "'cubic'"),
        returns("Preprocessing(numpy input_size)", lambda: pre(input_size=(np.int64(3), np.int64(32), np.int64(32))),
                lambda p: _assert(p.input_size == (3, 32, 32) and all(type(v) is int for v in p.input_size),
                                  f"{p.input_size!r}")),
        raises("ImageNetModelSpec(timm_name without tag)",
               lambda: IM.ImageNetModelSpec("x", "resnet50", "cnn", 7, None), "timm_name", "'resnet50'"),
        raises("ImageNetModelSpec(patch_size=0)", lambda: IM.ImageNetModelSpec("x", "vit_x.tag", "vit", None, 0),
               "patch_size", "0"),
    ]


def imagenet_calls_classifier(env: Env) -> list[Call]:
    IM = fk("imagenet")
    clf = tiny_clf(env)
    x = images(2, 3, 32)
    return [
        raises("classifier(uint8 images)", lambda: clf((x * 255).to(torch.uint8)), "x", "uint8"),
        raises("classifier(float64 images)", lambda: clf(x.double()), "x", "float64"),
        raises("classifier(numpy images)", lambda: clf(x.numpy()), "x", "ndarray"),
        raises("classifier(64x64 images for 32x32)", lambda: clf(images(1, 3, 64)), "(1, 3, 64, 64)",
               "(N, 3, 32, 32)"),
        raises("ImageNetClassifier(spec='vit-b8')",
               lambda: IM.ImageNetClassifier(nn.Identity(), "vit-b8", clf.preprocessing, "random"), "spec", "'vit-b8'"),
        raises("foolbox_classifier(an nn.Module)", lambda: IM.foolbox_classifier(nn.Identity()), "classifier",
               "Identity"),
        raises("predict(batch_size=0)", lambda: IM.predict(clf, x, batch_size=0), "batch_size", "0"),
        raises("predict(empty x)", lambda: IM.predict(clf, x[:0]), "x", "(0, 3, 32, 32)"),
        returns("predict(batch_size=np.int64(1)) = batch_size=2",
                lambda: IM.predict(clf, x, batch_size=np.int64(1)),
                lambda r: _assert(torch.allclose(r, IM.predict(clf, x, batch_size=2), atol=1e-5), "differs")),
    ]


def imagenet_calls_labels(env: Env) -> list[Call]:
    IM = fk("imagenet")
    clf = tiny_clf(env)
    x = images(2, 3, 32)
    y_bad = torch.tensor([0, 1000])
    lin = linear(env)
    x8 = images(3, 3, 8)
    return [
        raises("top1_accuracy(label 1000)", lambda: IM.top1_accuracy(clf, x, y_bad), "y", "1000"),
        raises("top1_accuracy(float labels)", lambda: IM.top1_accuracy(clf, x, torch.tensor([0.0, 1.0])), "y",
               "float32"),
        raises("validate_classifier(label -1)", lambda: IM.validate_classifier(clf, x, torch.tensor([0, -1]),
                                                                              min_accuracy=0.0), "y", "-1"),
        raises("validate_classifier(min_accuracy=-0.1)",
               lambda: IM.validate_classifier(clf, x, torch.tensor([0, 1]), min_accuracy=-0.1), "min_accuracy",
               "-0.1"),
        raises("saliency(label 3 of 3 classes)", lambda: IM.saliency(lin, x8, torch.tensor([0, 1, 3])), "y", "3"),
        raises("saliency(float labels)", lambda: IM.saliency(lin, x8, torch.tensor([0.0, 1.0, 2.0])), "y", "float32"),
        raises("saliency(batch_size=0)", lambda: IM.saliency(lin, x8, torch.tensor([0, 1, 2]), batch_size=0),
               "batch_size", "0"),
        raises("measure_spectra(label 5 of 3 classes)",
               lambda: IM.measure_spectra(lin, x8, torch.tensor([0, 1, 5]), [("pgd-linf", 0.1)], n_boot=0), "y", "5"),
    ]


def imagenet_calls_spectra(env: Env) -> list[Call]:
    IM = fk("imagenet")
    S = fk("spectra")
    power = np.stack([S.power_spectrum(np.random.default_rng(i).random((8, 8))) for i in range(4)])
    nan = np.random.default_rng(0).random((2, 3, 8, 8))
    nan[1, 2, 3, 3] = np.nan
    lin = linear(env)
    x8 = images(3, 3, 8)
    y8 = torch.tensor([0, 1, 2])
    return [
        raises("normalised_power(NaN pixel)", lambda: IM.normalised_power(nan), "images", "nan"),
        raises("normalised_power(3-D)", lambda: IM.normalised_power(nan[0]), "images", "(3, 8, 8)"),
        returns("bootstrap_f50(n_boot=np.int64(20)) = n_boot=20", lambda: IM.bootstrap_f50(power, n_boot=np.int64(20)),
                equal_arrays(IM.bootstrap_f50(power, n_boot=20))),
        raises("bootstrap_f50(n_boot=True)", lambda: IM.bootstrap_f50(power, n_boot=True), "n_boot", "True"),
        raises("bootstrap_f50(ci='0.9')", lambda: IM.bootstrap_f50(power, ci="0.9"), "ci", "'0.9'"),
        raises("bootstrap_f50(seed=-1)", lambda: IM.bootstrap_f50(power, n_boot=5, seed=-1), "seed", "-1"),
        raises("bootstrap_f50(chunk=0)", lambda: IM.bootstrap_f50(power, n_boot=5, chunk=0), "chunk", "0"),
        raises("measure_spectra(attacks='pgd-linf')", lambda: IM.measure_spectra(lin, x8, y8, "pgd-linf"), "attacks",
               "'pgd-linf'"),
        raises("measure_spectra(epsilon='big')", lambda: IM.measure_spectra(lin, x8, y8, [("pgd-linf", "big")]),
               "epsilon", "'big'"),
        raises("measure_spectra(n_boot=-1)", lambda: IM.measure_spectra(lin, x8, y8, [("pgd-linf", 0.1)], n_boot=-1),
               "n_boot", "-1"),
    ]


def imagenet_calls_data(env: Env) -> list[Call]:
    IM = fk("imagenet")
    pre = IM.Preprocessing((3, 16, 16), 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3)

    def no_images() -> Path:
        folder = env.mkdir("imagenet-root")
        (folder / "README.txt").write_text("the images are elsewhere\n")
        return folder

    def labels_cut() -> Path:
        """An extracted folder whose dataset.txt has a truncated last line."""
        folder = env.mkdir("imagenet-dir") / "imagenet-val-1300"
        with tarfile.open(_imagenet_tar(env, 3)) as tar:
            tar.extractall(folder.parent, filter="data")
        text = (folder / "dataset.txt").read_text()
        (folder / "dataset.txt").write_text(text[: text.rindex(",") + 1])
        return folder

    def load(root: Path) -> Any:
        with patched(env=isolated(env)):
            return IM.load_images(pre, root=root)

    return [
        raises("load_images('vit-b16')", lambda: IM.load_images("vit-b16", root=no_images()), "preprocessing",
               "'vit-b16'"),
        raises("load_images(root without the images)", lambda: load(no_images()), "imagenet-val-1300",
               "imagenet-root"),
        raises("load_images(tarball cut short)", lambda: load(_imagenet_tar(env, cut=0.6)), "imagenet-val-1300.tar.gz",
               "cut short"),
        raises("load_images(dataset.txt with a cut last line)", lambda: load(labels_cut()), "dataset.txt"),
        raises("load_images(dataset.txt lists a missing file)", lambda: load(_imagenet_tar(env, listed=4)),
               "imagenet-val-1300", "missing"),
        raises("load_images(n=2.5)", lambda: IM.load_images(pre, n=2.5, root=no_images()), "n", "2.5"),
        raises("load_images(non-square input_size)",
               lambda: IM.load_images(dataclasses.replace(pre, input_size=(3, 16, 24)), root=no_images()),
               "input_size", "(3, 16, 24)"),
    ]


# =========================================================================== advtrain


def advtrain_calls_config(env: Env) -> list[Call]:
    AT = fk("advtrain")
    C = AT.AdvTrainConfig

    def same_json(**kw: Any) -> Callable[[], tuple[Any, Any]]:
        return lambda: (C(**kw), C(**{k: (v.item() if isinstance(v, np.generic) else v) for k, v in kw.items()}))

    def check_same(r: tuple[Any, Any]) -> None:
        _assert(r[0].to_json() == r[1].to_json(), f"{r[0].to_json()} != {r[1].to_json()}")
        python_fields(r[0])

    return [
        raises("AdvTrainConfig(epsilon=True)", lambda: C(epsilon=True), "epsilon", "True"),
        raises("AdvTrainConfig(epsilon=-0.1)", lambda: C(epsilon=-0.1), "epsilon", "-0.1"),
        raises("AdvTrainConfig(alpha=0)", lambda: C(alpha=0), "alpha", "0"),
        raises("AdvTrainConfig(train_steps=0)", lambda: C(mode="pgd", train_steps=0), "train_steps", "0"),
        raises("AdvTrainConfig(eval_steps=-1)", lambda: C(eval_steps=-1), "eval_steps", "-1"),
        raises("AdvTrainConfig(eval_alpha=None)", lambda: C(eval_alpha=None), "eval_alpha", "None"),
        raises("AdvTrainConfig(eval_epsilon=0)", lambda: C(eval_epsilon=0), "eval_epsilon", "0"),
        raises("AdvTrainConfig(random_start='no')", lambda: C(random_start="no"), "random_start", "'no'"),
        raises("AdvTrainConfig(augment=1)", lambda: C(augment=1), "augment", "1"),
        raises("AdvTrainConfig(seed=-1)", lambda: C(seed=-1), "seed", "-1", accepted="weak"),
        raises("AdvTrainConfig(seed=1.5)", lambda: C(seed=1.5), "seed", "1.5"),
        returns("AdvTrainConfig(numpy ints and floats) = Python", same_json(
            epsilon=np.float64(8 / 255), alpha=np.float32(0.5), train_steps=np.int64(3), epochs=np.int32(2),
            batch_size=np.int64(16), seed=np.int64(5), random_start=np.bool_(False)), check_same),
    ]


def advtrain_calls_attack(env: Env) -> list[Call]:
    AT = fk("advtrain")
    lin = linear(env)
    x = images(3, 3, 8)
    y = torch.tensor([0, 1, 2])
    nan_x = x.clone()
    nan_x[1, 0, 2, 2] = NAN

    def pgd(**kw: Any) -> Any:
        args = {"x": x, "y": y, "epsilon": 0.1, "alpha": 0.05, "steps": 2, **kw}
        return AT.pgd_attack(lin, args.pop("x"), args.pop("y"), **args)

    return [
        raises("pgd_attack(epsilon=-0.1)", lambda: pgd(epsilon=-0.1), "epsilon", "-0.1"),
        raises("pgd_attack(steps=0)", lambda: pgd(steps=0), "steps", "0"),
        raises("pgd_attack(alpha=0)", lambda: pgd(alpha=0.0), "alpha", "0.0"),
        raises("pgd_attack(images in [0, 255])", lambda: pgd(x=x * 255), "x", "[0, 1]"),
        raises("pgd_attack(uint8 images)", lambda: pgd(x=(x * 255).to(torch.uint8)), "x", "uint8"),
        raises("pgd_attack(NaN pixel)", lambda: pgd(x=nan_x), "x", "nan"),
        raises("pgd_attack(label 3 of 3 classes)", lambda: pgd(y=torch.tensor([0, 1, 3])), "y", "3"),
        raises("pgd_attack(float labels)", lambda: pgd(y=y.float()), "y", "float32"),
        raises("evaluate_robustness(fgsm_alpha=0.0)", lambda: AT.evaluate_robustness(lin, x, y, fgsm_alpha=0.0),
               "fgsm_alpha", "0.0"),
        raises("evaluate_robustness(steps=0)", lambda: AT.evaluate_robustness(lin, x, y, steps=0), "steps", "0"),
        raises("evaluate_robustness(2 labels for 3 images)", lambda: AT.evaluate_robustness(lin, x, y[:2]), "y",
               "(2,)"),
        returns("pgd_attack(steps=np.int64(2)) = steps=2",
                lambda: pgd(steps=np.int64(2), generator=torch.Generator().manual_seed(0)),
                lambda d: _assert(torch.equal(d, pgd(generator=torch.Generator().manual_seed(0))), "differs")),
    ]


def advtrain_calls_pieces(env: Env) -> list[Call]:
    AT = fk("advtrain")
    cfg = AT.AdvTrainConfig(epochs=10)
    x = images(4, 3, 6)
    gen = torch.Generator().manual_seed(0)
    series = [1.0, 1.1, 0.9, 1.05, 1.6, 2.0]
    return [
        raises("learning_rate('2')", lambda: AT.learning_rate("2", cfg), "t", "'2'"),
        raises("learning_rate(config=a dict)", lambda: AT.learning_rate(2, {"epochs": 10}), "config", "dict"),
        raises("augment(3-D x)", lambda: AT.augment(x[0], gen), "x", "(3, 6, 6)"),
        raises("augment(generator=0)", lambda: AT.augment(x, 0), "generator", "0"),
        raises("augment(padding=-1)", lambda: AT.augment(x, gen, padding=-1), "padding", "-1"),
        raises("pgd_stop(drop='0.2')", lambda: AT.pgd_stop([0.3, 0.1], drop="0.2"), "drop", "'0.2'"),
        raises("aliasing_stop(threshold=True)", lambda: AT.aliasing_stop(series, threshold=True), "threshold", "True"),
        returns("aliasing_stop(numpy threshold/window)", lambda: AT.aliasing_stop(
            series, threshold=np.float32(0.33), window=np.int64(3), min_history=np.int64(1)),
            lambda r: _assert(r == AT.aliasing_stop(series, threshold=0.33, window=3), f"{r}")),
    ]


def advtrain_calls_train(env: Env) -> list[Call]:
    AT = fk("advtrain")
    R = fk("resnet")
    cfg = AT.AdvTrainConfig(mode="fgsm", epochs=1, batch_size=8, eval_steps=1, check_steps=1, augment=False)
    x = images(8, 3, 8)
    y = torch.arange(8) % 10

    def run(model: Any = None, config: Any = cfg, train_xy: Any = None, eval_xy: Any = None, alias: Any = None,
            **kw: Any) -> Any:
        model = model if model is not None else R.create_cnn("preact-resnet18", width=2, seed=0)
        return AT.train_adversarial(model, config, train_xy or (x, y), eval_xy or (x, y),
                                    alias if alias is not None else x[:2], **kw)

    nan_x = x.clone()
    nan_x[3, 1, 2, 2] = NAN
    return [
        raises("train_adversarial(train label 10 of 10 classes)", lambda: run(train_xy=(x, y + 3)), "train", "10"),
        raises("train_adversarial(eval labels float)", lambda: run(eval_xy=(x, y.float())), "eval", "float32"),
        raises("train_adversarial(images in [0, 255])", lambda: run(train_xy=(x * 255, y)), "train", "[0, 1]"),
        raises("train_adversarial(NaN pixel)", lambda: run(train_xy=(nan_x, y)), "train", "nan"),
        raises("train_adversarial(config=a dict)", lambda: run(config={"mode": "fgsm"}), "config", "dict"),
        raises("train_adversarial(callback=3)", lambda: run(callback=3), "callback", "3"),
        raises("train_adversarial(keep_states='no')", lambda: run(keep_states="no"), "keep_states", "'no'"),
        raises("train_adversarial(numpy train images)", lambda: run(train_xy=(x.numpy(), y)), "train", "ndarray"),
        raises("train_adversarial(model without strided conv)",
               lambda: run(model=nn.Sequential(nn.Flatten(), nn.Linear(192, 10))), "model", "strided"),
    ]


# =========================================================================== the kinds


def _f(module: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{module}.{n}" for n in names)


CH00 = "figures.ch00"

KINDS: list[Kind] = [
    Kind("plots-style", _f("plots", "style", "show", "configure_offline", "reset", "plotlyjs_embedded"),
         "style/show: str/bool height, str log flags, a dict", plots_calls_style),
    Kind("plots-line-with-error", _f("plots", "line_with_error"),
         "NaN-only/empty data, x=seed dim, str alpha/values", plots_calls_line_with_error),
    Kind("figures-learning-curves", _f("figures", "fig_learning_curves", "model_color"),
         "missing curve vars, bad color/facet, NaN-only", figures_calls_learning_curves),
    Kind("figures-table", _f("figures", "table", "table_bundle"), "not a DataFrame; digits 0 / float / numpy",
         figures_calls_table),
    Kind("ch00-figures-missing", _f(CH00, "fig_example_images", "fig_power_spectra", "fig_radial_cumulative",
                                    "fig_f50", "fig_jpeg_pairs", "fig_kernel_kappa", "fig_lfc_examples",
                                    "fig_lfc_energy", "image_set_color") + _f("figures", "require_data"),
         "ch00 figures on results missing a variable", ch00_calls_missing),
    Kind("ch00-figures-empty-nan", _f(CH00, "fig_example_images", "fig_f50", "fig_lfc_energy",
                                      "fig_radial_cumulative", "fig_power_spectra", "fig_kernel_kappa"),
         "ch00 figures on empty / NaN-only data; max_side", ch00_calls_empty_nan),
    Kind("ch00-helpers", _f(CH00, "png_uri", "log_power", "crop"),
         "png_uri/log_power/crop: NaN, negative, non-square", ch00_calls_helpers),
    Kind("ch01-figures", _f("figures.ch01", "fig_norms", "fig_scale_free", "fig_beta_spectra", "NORM_PANELS",
                            "SCALE_FREE_PANELS"),
         "missing vars, no seed dim, NaN-only, str epsilon", ch01_calls),
    Kind("ch02-figures", _f("figures.ch02", "fig_f50_datasets", "fig_f50_by_depth", "fig_f50_vs_accuracy"),
         "missing vars, unknown/empty dataset, str flat", ch02_calls),
    Kind("ch03-figures", _f("figures.ch03", "fig_kappa", "fig_kappa_vs_accuracy", "kernel_size_colors",
                            "fig_learning_curves"),
         "missing vars/theory lines, NaN-only, float k", ch03_calls),
    Kind("ch04-figures", _f("figures.ch04", "to_rgb", "fig_examples", "fig_gains", "fig_shortcut_rates")
         + _f("figures", "require_choice"),
         "NaN pixels, unknown model, n_examples=0, missing", ch04_calls),
    Kind("ch05-figures", _f("figures.ch05", "fig_f50", "fig_patch_size", "fig_radial_energy", "model_order")
         + _f("figures", "require_table"),
         "missing columns, empty table, no ViTs, no spectra", ch05_calls),
    Kind("ch06-figures", _f("figures.ch06", "fig_training_curves", "fig_aliasing_per_stage"),
         "missing vars, NaN-only, no runs, a DataFrame", ch06_calls),
    Kind("images-pixels", _f("images", "image_f50", "band_energy_fraction", "lfc_energy_fraction", "gaussian_blur"),
         "NaN, uint8, float16, object, big-endian pixels", images_calls_pixels),
    Kind("images-args", _f("images", "lfc_energy_fraction", "band_energy_fraction", "white_noise", "gaussian_kernel",
                           "gaussian_blur", "flat_spectrum_f50", "grid_median_radius", "image_f50"),
         "numpy radii/ints, negative radii, seeds, sizes", images_calls_args),
    Kind("aliasing-hooks", _f("aliasing", "model_aliasing", "strided_hooks", "strided_feature_maps",
                              "strided_convolutions"),
         "numpy/empty/NaN/float64 x, str layers, callback", aliasing_calls_hooks),
    Kind("aliasing-stages", _f("aliasing", "stage_means", "stage_of"), "mixed shapes, strings, a list, int names",
         aliasing_calls_stages),
    Kind("resnet-create", _f("resnet", "create_cnn", "CNNS", "CNNConfig"),
         "unknown name, numpy ints, seeds, NaN/str mean", resnet_calls_create),
    Kind("resnet-forward", _f("resnet", "PreActResNet", "WideResNet"),
         "uint8/float64/numpy/1-channel/unbatched images", resnet_calls_forward),
    Kind("resnet-parts", _f("resnet", "PreActBlock", "WideBlock", "PreActResNet", "WideResNet", "rebuild_cnn",
                            "CNNConfig"),
         "block stride/planes, dict config, no depth", resnet_calls_parts),
    Kind("archs-create", _f("archs", "create_arch", "ARCHS"),
         "unknown name, numpy ints, seeds, NaN std, mean", archs_calls_create),
    Kind("archs-forward", _f("archs", "create_arch", "Normalise"),
         "uint8/float64/numpy images, wrong image size", archs_calls_forward),
    Kind("archs-parts", _f("archs", "Normalise", "init_zero_heads", "ArchSpec"),
         "input_shape, NaN std, std <= 0, unknown family", archs_calls_parts),
    Kind("imagenet-load", _f("imagenet", "load_classifier", "find_weights", "IMAGENET_MODELS",
                             "WeightsUnavailableError"),
         "unknown model, str flags/sources, seeds, bad files", imagenet_calls_load),
    Kind("imagenet-preprocessing", _f("imagenet", "Preprocessing", "ImageNetModelSpec"),
         "float size, NaN mean, inf/str std, spec fields", imagenet_calls_preprocessing),
    Kind("imagenet-classifier", _f("imagenet", "ImageNetClassifier", "foolbox_classifier", "predict"),
         "uint8/float64/numpy input, wrong size, batch_size", imagenet_calls_classifier),
    Kind("imagenet-labels", _f("imagenet", "top1_accuracy", "validate_classifier", "saliency", "measure_spectra"),
         "labels out of range / float; min_accuracy < 0", imagenet_calls_labels),
    Kind("imagenet-spectra", _f("imagenet", "normalised_power", "bootstrap_f50", "measure_spectra"),
         "NaN images, n_boot/ci/seed/chunk, str attacks", imagenet_calls_spectra),
    Kind("imagenet-data", _f("imagenet", "load_images"),
         "no images, truncated archive / labels, bad args", imagenet_calls_data),
    Kind("advtrain-config", _f("advtrain", "AdvTrainConfig", "MODES", "SCHEDULES"),
         "bool/<=0 eps, steps <= 0, None alpha, str bools", advtrain_calls_config),
    Kind("advtrain-attack", _f("advtrain", "pgd_attack", "evaluate_robustness"),
         "eps/steps/alpha <= 0, pixels out of box, labels", advtrain_calls_attack),
    Kind("advtrain-pieces", _f("advtrain", "learning_rate", "augment", "pgd_stop", "aliasing_stop"),
         "str t/drop, dict config, bad x/generator/padding", advtrain_calls_pieces),
    Kind("advtrain-train", _f("advtrain", "train_adversarial", "AdvTrainResult"),
         "labels, pixels 0..255/NaN, dict config, callback", advtrain_calls_train),
]

# =========================================================================== tests


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_misuse_is_handled(kind: Kind, env: Env) -> None:
    assert_handled(kind, env)


def test_every_public_callable_is_covered() -> None:
    assert_covered(KINDS, COVERED_MODULES, also=base.KINDS)


def test_table_in_docstring_lists_every_kind() -> None:
    assert_docstring_table(__doc__, KINDS, set(ORDER))


if __name__ == "__main__":
    sys.exit(base.main(sys.argv[1:], KINDS))
