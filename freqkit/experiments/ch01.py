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

The expensive part lives here (:data:`PRESETS`, :func:`configs`, :func:`run`);
the notebook ``notebooks/01_implicit_bias_norms.ipynb`` only plots the results.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from freqkit.experiments.common import (
    RunConfig,
    available_datasets,
    combine_mixed_runs,
    run_model_experiment,
)
from freqkit.train import TrainConfig

__all__ = ["PRESETS", "Preset", "claims_table", "configs", "get_preset", "norm_summary", "run"]

CHAPTER = "ch01"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Preset:
    """Size of the chapter-1 sweep (grid = datasets × models × depths × nonlinearities × seeds)."""

    name: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    n_train: int | None
    n_val: int | None
    n_test: int | None
    train: TrainConfig
    n_attack: int
    epsilons: tuple[float, ...]
    models: tuple[str, ...] = ("fc", "fkc")
    depths: tuple[int, ...] = (1, 2, 3)
    nonlinearities: tuple[str, ...] = ("linear", "relu")
    grayscale: bool = True
    attack: str = "pgd-l2"
    kappa_k: int = 15
    n_beta: int = 512
    #: ε at which the δ norms are compared (one of ``epsilons``).
    epsilon_main: float = 1.0
    notes: str = field(default="", compare=False)


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
        name="cpu", datasets=("fashion-mnist", "cifar10"), seeds=(0, 1), n_train=8_000,
        n_val=1_000, n_test=1_000, train=TrainConfig(epochs=8, batch_size=128, cycle_epochs=4),
        n_attack=100, epsilons=(0.5, 1.0),
        notes="reduced reproduction on 2 CPU cores: 8k training images, 8 epochs in two "
              "4-epoch learning-rate cycles (the paper's 40 epochs in two 20-epoch cycles, "
              "scaled down); CIFAR-10 in grayscale (JPEG copy) when present",
    ),
    "paper": Preset(
        name="paper", datasets=("fashion-mnist", "cifar10"), seeds=(0, 1, 2, 3, 4),
        n_train=None, n_val=5_000, n_test=None, train=TrainConfig(epochs=40, batch_size=128),
        n_attack=1_000, epsilons=(0.5, 1.0, 2.0),
        notes="paper scale: full training sets, 40 epochs, 5 seeds (GPU advised)",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the allowed names otherwise.

    Examples
    --------
    >>> get_preset("smoke").train.epochs
    1
    >>> get_preset("huge")
    Traceback (most recent call last):
    ...
    ValueError: preset='huge' is not allowed; use one of ['smoke', 'cpu', 'paper']
    """
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not allowed; use one of {list(PRESETS)}")
    return PRESETS[name]


def configs(preset: str | Preset, datasets: tuple[str, ...] | None = None) -> list[RunConfig]:
    """The chapter's grid of runs (pure): one :class:`RunConfig` per grid point.

    ``datasets`` restricts the preset's datasets (e.g. to those available).

    Examples
    --------
    >>> cs = configs("smoke")
    >>> len(cs), sorted({c.model for c in cs}), sorted({c.depth for c in cs})
    (4, ['fc', 'fkc'], [1, 2])
    >>> len(configs("cpu"))
    48
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    names = p.datasets if datasets is None else tuple(d for d in p.datasets if d in datasets)
    return [
        RunConfig(
            dataset=ds, grayscale=p.grayscale, n_train=p.n_train, n_val=p.n_val,
            n_test=p.n_test, data_seed=0, model=model, depth=depth, nonlinearity=nl,
            channels=None, kernel_size=None, seed=seed, train=p.train, attack=p.attack,
            epsilons=p.epsilons, n_attack=p.n_attack, kappa_k=p.kappa_k, n_beta=p.n_beta,
        )
        for ds in names for model in p.models for depth in p.depths
        for nl in p.nonlinearities for seed in p.seeds
    ]


def results_dir_for(preset: str, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir`` or ``$FREQKIT_RESULTS/ch01/<preset>`` or ``<repo>/results/ch01/<preset>``."""
    if results_dir is not None:
        return Path(results_dir)
    base = Path(os.environ.get("FREQKIT_RESULTS", REPO_ROOT / "results"))
    return base / CHAPTER / preset


def run(preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
        progress: bool = True) -> xr.Dataset:
    """Run (or resume) the chapter's sweep and return the combined results.

    Datasets whose data is unavailable are skipped with a printed note (also
    stored in the returned dataset's ``skipped_datasets`` attribute); the
    source and checksum of each dataset used are in ``dataset_sources`` (JSON).
    """
    from freqkit import sweep

    p = get_preset(preset)
    available, missing = available_datasets(p.datasets, grayscale=p.grayscale)
    for name, reason in missing.items():
        print(f"NOTE: skipping dataset {name!r}: {reason}")
    out = results_dir_for(preset, results_dir)
    sweep.run_sweep(configs(p, tuple(available)), run_model_experiment, out, progress=progress)
    ds = combine_mixed_runs(out)  # datasets may differ in image size
    ds.attrs["skipped_datasets"] = "; ".join(f"{k}: {v}" for k, v in missing.items())
    ds.attrs["dataset_sources"] = json.dumps(available)
    ds.attrs["preset"] = preset
    return ds


# --------------------------------------------------------------------------- analysis (pure)
def norm_summary(ds: xr.Dataset, epsilon: float) -> xr.Dataset:
    """Figure-2 quantities per (dataset, nonlinearity, model, depth, seed).

    Returns a dataset with the raw norms ``beta_l1_hat``, ``beta_l2_hat``,
    ``beta_l2``, ``delta_l1_hat``, ``delta_l2_hat`` (of the averaged
    perturbation at ``epsilon``), their max-normalised versions (``*_maxnorm``:
    divided by the maximum over models and depths of the seed-mean, per dataset
    and nonlinearity, as in the paper's figure) and the scale-free frequency
    sparsity ratios ``beta_sparsity = ‖β̂‖₁ / ‖β̂‖₂`` and
    ``delta_sparsity = ‖δ̂‖₁ / ‖δ̂‖₂`` (smaller = sparser in frequency; between
    1 and √(C·H·W·K)) and ``beta_l2_per_margin = ‖β‖₂ / margin_median``.
    Runs flagged ``failed`` by the trainer are NaN (left out of the means).
    """
    sel = ds.squeeze("kernel_size", drop=True) if "kernel_size" in ds.dims else ds
    d = sel.sel(epsilon=epsilon)
    d = d.where(d.failed == 0)  # runs stuck at chance after all retries are left out
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


def claims_table(ds: xr.Dataset, epsilon: float) -> pd.DataFrame:
    """Claim-vs-measurement rows (seed means) for every dataset and nonlinearity.

    Claims (depth ``L``; "sparsity" = ‖·̂‖₁/‖·̂‖₂, smaller is sparser):

    1. FKC's β̂ is sparser in frequency than FC's at every depth ``L >= 2``;
    2. FKC's β̂ gets sparser with depth (``L = max`` vs ``L = 1``);
    3. FKC's averaged δ̂ is sparser in frequency than FC's at every depth ``L >= 2``;
    4. FC's ‖β‖₂ is smaller than FKC's at every depth ``L >= 2`` at equal
       margin: ‖β‖₂ divided by the median test margin ``f_y - max_{j≠y} f_j``
       of correctly classified images (Gunasekar et al.: FC → min ‖β‖₂ among
       predictors with margin ≥ 1).
    """
    s = norm_summary(ds, epsilon).mean("seed")
    rows = []
    depths = [int(v) for v in s.depth.values]
    deep = [L for L in depths if L >= 2]
    for dataset in s.dataset.values:
        for nl in s.nonlinearity.values:
            g = s.sel(dataset=dataset, nonlinearity=nl)

            def fmt(var: str, model: str) -> str:
                return ", ".join(f"L={L}: {float(g[var].sel(model=model, depth=L)):.3g}"
                                 for L in depths)

            def row(claim: str, measured: str, holds: bool) -> None:
                rows.append({"dataset": str(dataset), "nonlinearity": str(nl), "claim": claim,
                             "measured": measured, "holds": "yes" if holds else "no"})

            bf, bk = g.beta_sparsity.sel(model="fc"), g.beta_sparsity.sel(model="fkc")
            row("FKC β̂ sparser than FC (‖β̂‖₁/‖β̂‖₂, L ≥ 2)",
                f"FC {fmt('beta_sparsity', 'fc')}; FKC {fmt('beta_sparsity', 'fkc')}",
                bool((bk.sel(depth=deep) < bf.sel(depth=deep)).all()))
            row("FKC β̂ sparser with depth (L=max vs L=1)",
                f"FKC {fmt('beta_sparsity', 'fkc')}",
                bool(bk.sel(depth=max(depths)) < bk.sel(depth=min(depths))))
            df, dk = g.delta_sparsity.sel(model="fc"), g.delta_sparsity.sel(model="fkc")
            row("FKC averaged δ̂ sparser than FC (‖δ̂‖₁/‖δ̂‖₂, L ≥ 2)",
                f"FC {fmt('delta_sparsity', 'fc')}; FKC {fmt('delta_sparsity', 'fkc')}",
                bool((dk.sel(depth=deep) < df.sel(depth=deep)).all()))
            lf, lk = g.beta_l2_per_margin.sel(model="fc"), g.beta_l2_per_margin.sel(model="fkc")
            row("FC ‖β‖₂ smaller than FKC at equal margin (‖β‖₂ / median margin, L ≥ 2)",
                f"FC {fmt('beta_l2_per_margin', 'fc')}; FKC {fmt('beta_l2_per_margin', 'fkc')}",
                bool((lf.sel(depth=deep) < lk.sel(depth=deep)).all()))
    return pd.DataFrame(rows)
