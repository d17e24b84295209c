"""Chapter 1: implicit bias in norms -- FC vs FKC (figure 2 of Caro et al. 2024).

Gunasekar et al. (2018) proved that gradient descent on linearly separable data
drives a deep *linear* network's end-to-end predictor β in the direction of a
max-margin solution whose norm depends on the parameterisation: a fully
connected (FC) network of any depth gives the minimum-‖β‖₂ solution, while a
depth-``L`` network of full-kernel circular convolutions (FKC) gives a
stationary point of ``min ‖β̂‖_{2/L}`` -- for ``L >= 2`` a sparsity-inducing
(quasi-)norm of the DFT β̂. This chapter trains FC and FKC networks, linear and
ReLU, of depth 1–3 and compares the ℓ1/ℓ2 norms of β̂ and of the averaged
adversarial perturbation δ̂ (panels a–d of the paper's figure 2).

The chapter is a :class:`freqkit.experiments.scaffold.Chapter` (:data:`CHAPTER`:
:data:`PRESETS`, :func:`configs`, the shared run
:func:`freqkit.experiments.common.run_model_experiment`, the pure analysis
:func:`norm_summary` / :func:`claims_table`); the notebook
``notebooks/01_implicit_bias_norms.ipynb`` runs it and plots the results with
:mod:`freqkit.figures.ch01`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from freqkit._validate import as_bool, as_real
from freqkit.experiments.common import (
    RunConfig,
    SweepPreset,
    combine_mixed_runs,
    run_model_experiment,
    trained_by_rule,
)
from freqkit.experiments.scaffold import (
    Chapter,
    as_names,
    check_sweep_preset,
    register,
    takes_results,
)
from freqkit.train import TrainConfig

__all__ = ["CHAPTER", "PRESETS", "Preset", "accuracy_table", "claims_table", "configs", "get_preset",
           "norm_summary", "run"]



#: A (dataset, nonlinearity) group whose mean test accuracy is below this (10-class chance:
#: 0.1) is marked "not trained" in the chapter's claims table: its β describes an
#: initialisation more than a learned predictor.
TRAINED_ACCURACY = 0.3


@dataclass(frozen=True, kw_only=True)
class Preset(SweepPreset):
    """Size of the chapter-1 sweep (grid = datasets × models × depths × nonlinearities × seeds;
    FC and FKC, :class:`~freqkit.experiments.common.SweepPreset`)."""

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()
        check_sweep_preset(self)


#: The chapter's presets by name: ``smoke`` (CI), ``cpu`` (a reduced reproduction on a 2-core CPU), ``paper`` (the paper's scale).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", datasets=("fashion-mnist",), seeds=(0,), n_train=512, n_val=128,
        n_test=128, train=TrainConfig(epochs=1, batch_size=64, chance_patience=0, max_retries=0),
        n_attack=8, epsilons=(1.0,), depths=(1, 2), nonlinearities=("linear",), n_beta=64,
        notes="pipeline check only: 1 epoch on 512 images, depths 1-2, linear",
    ),
    "cpu": Preset(
        name="cpu", datasets=("fashion-mnist", "cifar10"), seeds=(0, 1, 2), n_train=8_000,
        n_val=1_000, n_test=1_000, train=TrainConfig(epochs=12, batch_size=128, cycle_epochs=6),
        n_attack=100, epsilons=(0.5, 1.0), lr_grid=(0.1, 0.03, 0.01), lr_select_epochs=1,
        notes="reduced reproduction on 2 CPU cores: 8k training images, 12 epochs in two "
              "6-epoch learning-rate cycles (the paper's 40 epochs in two 20-epoch cycles, "
              "scaled down), learning rate per run from (0.1, 0.03, 0.01), 3 seeds; CIFAR-10 "
              "in grayscale (JPEG copy) when present",
    ),
    "paper": Preset(
        name="paper", datasets=("fashion-mnist", "cifar10"), seeds=(0, 1, 2, 3, 4),
        n_train=None, n_val=5_000, n_test=None, train=TrainConfig(epochs=40, batch_size=128),
        n_attack=1_000, epsilons=(0.5, 1.0, 2.0),
        notes="paper scale: full training sets, 40 epochs, 5 seeds (GPU advised)",
    ),
}


def configs(preset: str | Preset, *, available: tuple[str, ...] | None = None) -> list[RunConfig]:
    """The chapter's grid of runs (pure): one :class:`RunConfig` per grid point.

    ``available`` restricts the preset's datasets (to those that load here).

    Examples
    --------
    >>> cs = configs("smoke")
    >>> len(cs), sorted({c.model for c in cs}), sorted({c.depth for c in cs})
    (4, ['fc', 'fkc'], [1, 2])
    >>> len(configs("cpu"))
    72
    """
    return CHAPTER.get_preset(preset).run_configs(as_names(available, "available"))


# --------------------------------------------------------------------------- analysis (pure)
@takes_results("ch01")
def norm_summary(ds: xr.Dataset, epsilon: float, *, trained_only: bool = False) -> xr.Dataset:
    """Figure-2 quantities per (dataset, nonlinearity, model, depth, seed).

    Returns a dataset with the raw norms ``beta_l1_hat``, ``beta_l2_hat``,
    ``beta_l2``, ``delta_l1_hat``, ``delta_l2_hat`` (of the averaged
    perturbation at ``epsilon``), their max-normalised versions (``*_maxnorm``:
    divided by the maximum over models and depths of the seed-mean, per dataset
    and nonlinearity, as in the paper's figure) and the scale-free frequency
    sparsity ratios ``beta_sparsity = ‖β̂‖₁ / ‖β̂‖₂`` and
    ``delta_sparsity = ‖δ̂‖₁ / ‖δ̂‖₂`` (smaller = sparser in frequency; between
    1 and √(C·H·W·K)) and ``beta_l2_per_margin = ‖β‖₂ / margin_median``.
    Runs flagged ``failed`` by the trainer are NaN (left out of the means); with
    ``trained_only`` so are the runs that do not meet the training rule
    (:func:`freqkit.experiments.common.trained_by_rule`).
    """
    epsilon = as_real(epsilon, "epsilon")
    trained_only = as_bool(trained_only, "trained_only")
    if "epsilon" in ds.dims and epsilon not in ds.epsilon.values:
        raise ValueError(f"epsilon={epsilon!r} is not in the results; use one of {ds.epsilon.values.tolist()}")
    sel = ds.squeeze("kernel_size", drop=True) if "kernel_size" in ds.dims else ds
    d = sel.sel(epsilon=epsilon)
    keep = d.failed == 0  # runs stuck at chance after all retries are left out
    if trained_only:
        keep = keep & trained_by_rule(d)
    d = d.where(keep)
    out = xr.Dataset({
        "beta_l1_hat": d.beta_l1_hat,
        "beta_l2_hat": d.beta_l2_hat,
        "beta_l2": d.beta_l2,
        "delta_l1_hat": d.delta_avg_l1_hat,
        "delta_l2_hat": d.delta_avg_l2_hat,
    })
    for name in list(out.data_vars):
        mean = out[name].mean("seed")
        out[f"{name}_maxnorm"] = out[name] / mean.max(("model", "depth"))
    out["beta_sparsity"] = d.beta_l1_hat / d.beta_l2_hat
    out["beta_l2_per_margin"] = d.beta_l2 / d.margin_median
    out["delta_sparsity"] = d.delta_avg_l1_hat / d.delta_avg_l2_hat
    return out


@takes_results("ch01")
def claims_table(ds: xr.Dataset, epsilon: float, *, trained_only: bool = False) -> pd.DataFrame:
    """Claim-vs-measurement rows (seed means) for every dataset and nonlinearity.

    Claims (depth ``L``; "sparsity" = ‖·̂‖₁/‖·̂‖₂, smaller is sparser):

    1. FKC's β̂ is sparser in frequency than FC's at every depth ``L >= 2``;
    2. FKC's β̂ gets sparser with depth (``L = max`` vs ``L = 1``);
    3. FKC's averaged δ̂ is sparser in frequency than FC's at every depth ``L >= 2``;
    4. FC's ‖β‖₂ is smaller than FKC's at every depth ``L >= 2`` at equal
       margin: ‖β‖₂ divided by the median test margin ``f_y - max_{j≠y} f_j``
       of correctly classified images (Gunasekar et al.: FC → min ‖β‖₂ among
       predictors with margin ≥ 1).

    ``trained_only``: only the runs that meet the training rule (:func:`norm_summary`).
    ``holds`` judges the seed means (``n/a`` when a value it needs is missing, e.g.
    every seed of a model failed); ``seeds`` says in how many seeds (of those with
    every value measured) the claim holds on that seed's runs alone.

    Examples
    --------
    >>> c = claims_table(_toy_results(), 1.0)
    >>> c[["claim", "holds", "seeds"]].values.tolist()[0]
    ['FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)', 'no', '0 of 2']
    """
    per_seed = norm_summary(ds, epsilon, trained_only=trained_only)
    s = per_seed.mean("seed")
    rows = []
    depths = [int(v) for v in s.depth.values]
    deep = [L for L in depths if L >= 2]
    ends = sorted({min(depths), max(depths)})

    def below(var: str, a: str, b: str) -> Callable[[xr.Dataset], tuple[xr.DataArray, xr.DataArray]]:
        """Model ``a`` below model ``b`` at every depth L >= 2 (and whether both are measured)."""
        def check(g: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
            x, y = g[var].sel(model=a, depth=deep), g[var].sel(model=b, depth=deep)
            return (x < y).all("depth"), (x.notnull() & y.notnull()).all("depth")
        return check

    def deeper(g: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
        v = g.beta_sparsity.sel(model="fkc", depth=ends)
        return (v.sel(depth=max(depths)) < v.sel(depth=min(depths))), v.notnull().all("depth")

    checks = (
        ("FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)", ("beta_sparsity", ("fc", "fkc")),
         below("beta_sparsity", "fkc", "fc")),
        ("FKC β̂ sparser with depth (L=max vs L=1)", ("beta_sparsity", ("fkc",)), deeper),
        ("FKC averaged δ̂ sparser than FC (‖δ̂‖₁/‖δ̂‖₂, L ≥ 2)", ("delta_sparsity", ("fc", "fkc")),
         below("delta_sparsity", "fkc", "fc")),
        ("FC ‖β‖₂ smaller than FKC at equal margin (‖β‖₂ / median margin, L ≥ 2)",
         ("beta_l2_per_margin", ("fc", "fkc")), below("beta_l2_per_margin", "fc", "fkc")),
    )
    for dataset in s.dataset.values:
        for nl in s.nonlinearity.values:
            g = s.sel(dataset=dataset, nonlinearity=nl)
            gs = per_seed.sel(dataset=dataset, nonlinearity=nl)
            for claim, (var, models), check in checks:
                measured = "; ".join(
                    f"{m.upper()} " + ", ".join(f"L={L}: {float(g[var].sel(model=m, depth=L)):.3g}" for L in depths)
                    for m in models)
                holds, complete = check(g)
                seed_holds, seed_measured = check(gs)
                rows.append({"dataset": str(dataset), "nonlinearity": str(nl), "claim": claim,
                             "measured": measured,
                             "holds": "n/a" if not bool(complete) else "yes" if bool(holds) else "no",
                             "seeds": f"{int((seed_holds & seed_measured).sum())} of "
                                      f"{int(seed_measured.sum())}"})
    return pd.DataFrame(rows)


@takes_results("ch01")
def accuracy_table(ds: xr.Dataset) -> pd.DataFrame:
    """Test accuracy (seed mean) per dataset, nonlinearity and model (rows) and depth (columns).

    Examples
    --------
    >>> accuracy_table(_toy_results()).round(2).to_dict("list")["L=1"]
    [0.8, 0.7]
    """
    acc = ds.test_accuracy.squeeze("kernel_size", drop=True) if "kernel_size" in ds.dims \
        else ds.test_accuracy
    acc = acc.where(ds.failed.squeeze("kernel_size", drop=True) == 0) if "kernel_size" in ds.dims \
        else acc.where(ds.failed == 0)
    table = (acc.mean("seed").to_dataframe().reset_index()
             .pivot_table(index=["dataset", "nonlinearity", "model"], columns="depth",
                          values="test_accuracy"))
    table.columns = [f"L={c}" for c in table.columns]
    return table.reset_index()


def _toy_results() -> xr.Dataset:
    """A tiny synthetic chapter-1 result (2 models × 2 depths × 2 seeds) for examples and tests."""
    import numpy as np

    coords = {"model": ["fc", "fkc"], "dataset": ["toy"], "depth": [1, 2],
              "nonlinearity": ["linear"], "kernel_size": [0], "seed": [0, 1], "epsilon": [1.0]}
    shape = (2, 1, 2, 1, 1, 2)
    dims = tuple(coords)[:6]
    base = np.array([[1.0, 0.5], [0.8, 0.3]])[:, None, :, None, None, None] * np.ones(shape)
    data = {
        "test_accuracy": (dims, np.array([0.8, 0.7])[:, None, None, None, None, None]
                          * np.ones(shape)),
        "failed": (dims, np.zeros(shape, dtype=int)),
        "margin_median": (dims, np.ones(shape)),
        "beta_l1_hat": (dims, base * 10), "beta_l2_hat": (dims, base),
        "beta_l2": (dims, base),
    }
    for v in ("delta_avg_l1_hat", "delta_avg_l2_hat"):
        data[v] = ((*dims, "epsilon"), (base * (5 if "l1" in v else 1))[..., None])
    return xr.Dataset(data, coords=coords)


def _toy_summary() -> xr.Dataset:
    return norm_summary(_toy_results(), 1.0)


CHAPTER = register(Chapter(
    name="ch01", title="Implicit bias in norms: FC vs FKC",
    notebook="notebooks/01_implicit_bias_norms.ipynb", presets=PRESETS, configs=configs,
    run_one=run_model_experiment, combine=combine_mixed_runs,
    summarise=accuracy_table, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter.
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
