"""The shared experiment: train one model, take its predictor β, attack it, measure spectra.

Every chapter that compares architectures runs the same pipeline per grid point:

1. load a dataset subset (cached per process, :func:`load_splits`), optionally
   zero-padded to ``pad_to`` pixels;
2. build a model with :func:`freqkit.models.create_model` and train it with
   :func:`freqkit.train.train_model`;
3. compute the end-to-end predictor β (:func:`freqkit.predictor.end_to_end_predictor`:
   exact product of the layer matrices for linear networks, mean input gradient
   over ``n_beta`` test images for ReLU networks);
4. attack the first ``n_attack`` correctly classified test images with
   :func:`freqkit.attacks.run_attack`;
5. measure with :mod:`freqkit.spectra` the half-power frequency f50, κ_high(k)
   and the ℓ1/ℓ2 norms (spatial and Fourier) of β and of the perturbations δ.

:func:`run_model_experiment` returns the result of one run as a small
:class:`xarray.Dataset` with length-1 grid dims (model, dataset, depth,
nonlinearity, kernel_size, seed) so that the runs of a sweep combine by
coordinates (:func:`freqkit.sweep.combine_runs`).

.. rubric:: Conventions

- β̂ power spectrum: ``|DFT_ortho(β)|²`` summed over classes and channels.
- δ̂ power spectrum: ``|DFT_ortho(δ)|²`` summed over channels and averaged over
  the successful perturbations at each ε (failed attacks are NaN in
  ``run_attack`` and are excluded).
- Norms of δ (the paper's figure 2c,d) are those of the **averaged
  perturbation** ``δ̄ = mean over successful samples of δ`` at each ε
  (``delta_avg_*``); the mean over samples of the per-sample norms is stored
  too (``delta_*_mean``) because at a fixed ℓ2 budget the per-sample ‖δ‖₂ is
  ε for almost every sample and only the averaged perturbation carries the
  model-dependent structure the figure shows.
- With the orthonormal DFT, ‖β̂‖₂ = ‖β‖₂ (Parseval): the paper's ℓ2 panels of β
  and β̂ are the same quantity up to a constant factor.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import xarray as xr

from freqkit._validate import as_bool, as_int, as_real
from freqkit.device import current_device, describe_device
from freqkit.sweep import OMIT_DEFAULT
from freqkit.train import TrainConfig

__all__ = [
    "GRID_DIMS",
    "NONLINEARITIES",
    "NO_KERNEL_SIZE_MODELS",
    "RunConfig",
    "SweepPreset",
    "TRAINED_RULE",
    "select_learning_rate",
    "trained_by_rule",
    "available_datasets",
    "combine_mixed_runs",
    "learning_curve_vars",
    "beta_metrics",
    "delta_metrics",
    "load_splits",
    "measure_run",
    "pad_images",
    "run_model_experiment",
    "train_config_from_dict",
    "train_run",
    "training_attempt_attrs",
]

#: Grid dimensions of every run's dataset, in this order.
GRID_DIMS: tuple[str, ...] = ("model", "dataset", "depth", "nonlinearity", "kernel_size", "seed")
#: Allowed ``RunConfig.nonlinearity`` values.
NONLINEARITIES: tuple[str, ...] = ("linear", "relu")


@dataclass(frozen=True)
class RunConfig:
    """One grid point of a chapter sweep (JSON-serialisable, hashable).

    Parameters
    ----------
    dataset : str
        Name in :data:`freqkit.data.DATASETS` (e.g. ``"fashion-mnist"``).
    grayscale : bool
        Convert colour datasets to one channel.
    n_train, n_val, n_test : int or None
        Subset sizes (None = the loader's default / full split).
    data_seed : int
        Seed of the subset selection (kept separate from ``seed`` so that all
        model seeds see the same data).
    model : str
        Name in :data:`freqkit.models.MODELS` (``"fc"``, ``"fkc"``, ``"lkc"``, ``"lc"``).
    depth : int
        Number of hidden layers (≥ 1).
    nonlinearity : {"linear", "relu"}
    channels : int or None
        Hidden channels of convolutional / locally connected models.
    kernel_size : int or None
        Kernel size (None for FC, and for FKC = the image size).
    seed : int
        Seed of the model initialisation, training and attack. The training
        seed ``train.seed`` is replaced by this seed at run time.
    train : freqkit.train.TrainConfig
    attack : str
        Name in :data:`freqkit.attacks.ATTACKS` (e.g. ``"pgd-l2"``).
    epsilons : tuple of float
        Attack budgets (in the attack's norm, images in [0, 1]).
    n_attack : int
        Number of correctly classified test images to attack.
    kappa_k : int
        ``k`` of κ_high(k): fraction of power outside DFT indices ``|m| <= k/2``.
    pad_to : int or None
        Zero-pad images (centred) to ``pad_to × pad_to`` before training.
    n_beta : int
        Test images over which the input gradient is averaged for non-linear
        models (ignored for linear models, whose β is exact).
    lr_grid : tuple of float
        Candidate maximum learning rates (empty: none). When given, each is tried for
        ``lr_select_epochs`` epochs (same seed, no retries) and the one with the best
        validation accuracy becomes ``train.lr`` of the run, whose failure-retry rule
        stays the fallback. Left out of the canonical JSON while empty.
    lr_select_epochs : int
        Epochs of each selection run (one schedule cycle).

    Examples
    --------
    >>> cfg = RunConfig(dataset="fashion-mnist", model="fkc", depth=2, epsilons=(0.5, 1.0))
    >>> cfg.grid_values()["kernel_size"], cfg.grid_values()["depth"]
    (0, 2)
    >>> json.loads(cfg.to_json())["epsilons"]
    [0.5, 1.0]
    >>> RunConfig(nonlinearity="tanh")
    Traceback (most recent call last):
    ...
    ValueError: nonlinearity='tanh' is not allowed; use one of ('linear', 'relu')
    """

    dataset: str = "fashion-mnist"
    grayscale: bool = False
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    data_seed: int = 0
    model: str = "fc"
    depth: int = 1
    nonlinearity: str = "linear"
    channels: int | None = None
    kernel_size: int | None = None
    seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)
    attack: str = "pgd-l2"
    epsilons: tuple[float, ...] = (1.0,)
    n_attack: int = 100
    kappa_k: int = 15
    pad_to: int | None = None
    n_beta: int = 512
    lr_grid: tuple[float, ...] = field(default=(), metadata=OMIT_DEFAULT)
    lr_select_epochs: int = field(default=1, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        # NumPy scalars become Python ones (a valid config's JSON, hence its run key, is unchanged)
        from freqkit.attacks import ATTACKS
        from freqkit.models import MODELS

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity={self.nonlinearity!r} is not allowed; use one of {NONLINEARITIES}"
            )
        for name, names in (("model", MODELS.names()), ("attack", ATTACKS.names())):
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in names:
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; use one of {tuple(names)}")
        if not isinstance(self.dataset, str) or not self.dataset:  # names are checked when loading
            raise ValueError(f"dataset={self.dataset!r} is not allowed; use a dataset name (str)")
        put("grayscale", as_bool(self.grayscale, "grayscale"))
        put("depth", as_int(self.depth, "depth", minimum=1))
        for name in ("seed", "data_seed"):
            put(name, as_int(getattr(self, name), name, minimum=0))
        if isinstance(self.epsilons, (str, bytes)) or not isinstance(self.epsilons, (tuple, list, np.ndarray)):
            raise ValueError(f"epsilons={self.epsilons!r} is not allowed; use a non-empty tuple of "
                             "finite positive budgets")
        try:
            eps = tuple(float(as_real(e, "epsilons", minimum=0, min_open=True)) for e in self.epsilons)
        except ValueError:
            eps = ()
        if not eps:
            raise ValueError(
                f"epsilons={self.epsilons!r} is not allowed; use a non-empty tuple of "
                "finite positive budgets"
            )
        object.__setattr__(self, "epsilons", eps)
        for name in ("n_attack", "kappa_k", "n_beta"):
            put(name, as_int(getattr(self, name), name, minimum=1))
        for name in ("n_train", "n_val", "n_test", "pad_to", "channels", "kernel_size"):
            put(name, as_int(getattr(self, name), name, minimum=1, allow_none=True))
        if not isinstance(self.train, TrainConfig):
            raise ValueError(
                f"train={self.train!r} is not allowed; use a freqkit.train.TrainConfig"
            )
        grid = self.lr_grid
        try:
            grid = tuple(as_real(v, "lr_grid", minimum=0, min_open=True) for v in grid)
        except (TypeError, ValueError):
            grid = None
        if grid is None or isinstance(self.lr_grid, (str, bytes)) or len(set(grid)) != len(grid):
            raise ValueError(f"lr_grid={self.lr_grid!r} is not allowed; use a tuple of distinct finite "
                             "positive learning rates (empty: no selection)")
        object.__setattr__(self, "lr_grid", tuple(float(v) for v in grid))
        put("lr_select_epochs", as_int(self.lr_select_epochs, "lr_select_epochs", minimum=1))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (the ``train`` config as a dict, tuples as lists)."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Stable JSON (sorted keys) of the whole config."""
        from freqkit.sweep import config_dict

        return json.dumps(config_dict(self), sort_keys=True, default=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`.

        Examples
        --------
        >>> cfg = RunConfig(model="lkc", kernel_size=3, epsilons=(0.25,))
        >>> RunConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"data={data!r} is not allowed; use the dict of RunConfig.to_dict()"[:300])
        data = dict(data)
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"data has unknown RunConfig fields {unknown}; allowed: "
                             f"{sorted(f.name for f in dataclasses.fields(cls))}")
        train = train_config_from_dict(data.pop("train", None))
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        if train is not None:
            kwargs["train"] = train
        return cls(**kwargs)

    def grid_values(self) -> dict[str, Any]:
        """The run's coordinates along :data:`GRID_DIMS` (``kernel_size`` None -> 0)."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "depth": int(self.depth),
            "nonlinearity": self.nonlinearity,
            "kernel_size": int(self.kernel_size or 0),
            "seed": int(self.seed),
        }


#: Models whose kernel is the whole image (FKC) or that have none (FC): their runs get
#: ``kernel_size=None`` in :meth:`SweepPreset.run_configs`.
NO_KERNEL_SIZE_MODELS: tuple[str, ...] = ("fc", "fkc")


@dataclass(frozen=True, kw_only=True)
class SweepPreset:
    """Size of a model sweep: one :class:`RunConfig` per dataset × model × depth × nonlinearity × seed.

    The presets of the chapters that compare architectures (chapters 1 and 2)
    are subclasses that change defaults; :meth:`run_configs` is their grid.
    ``kernel_size`` applies to the models with a local kernel (not to
    :data:`NO_KERNEL_SIZE_MODELS`); ``epsilon_main`` is the budget (one of
    ``epsilons``) at which a chapter compares perturbations.

    Examples
    --------
    >>> p = SweepPreset(name="tiny", datasets=("mnist", "svhn"), seeds=(0, 1), n_train=8,
    ...                 n_val=2, n_test=4, train=TrainConfig(epochs=1), n_attack=2,
    ...                 epsilons=(1.0,), models=("lkc", "fkc"), depths=(1,), kernel_size=3)
    >>> cs = p.run_configs(available=("mnist",))
    >>> len(cs), sorted({(c.model, c.kernel_size or 0) for c in cs})
    (8, [('fkc', 0), ('lkc', 3)])
    """

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
    nonlinearities: tuple[str, ...] = NONLINEARITIES
    channels: int | None = None
    kernel_size: int | None = None
    grayscale: bool = True
    attack: str = "pgd-l2"
    kappa_k: int = 15
    n_beta: int = 512
    epsilon_main: float = 1.0
    lr_grid: tuple[float, ...] = ()
    lr_select_epochs: int = 1
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        from freqkit.experiments.scaffold import check_sweep_preset

        check_sweep_preset(self)
        if self.lr_grid:  # checked (and canonicalised) as RunConfig checks it
            object.__setattr__(self, "lr_grid", RunConfig(lr_grid=self.lr_grid).lr_grid)
        object.__setattr__(self, "lr_select_epochs", as_int(self.lr_select_epochs, "lr_select_epochs", minimum=1))

    def run_configs(self, available: tuple[str, ...] | None = None) -> list[RunConfig]:
        """The grid (pure); ``available`` restricts the datasets (to those that load here)."""
        names = self.datasets if available is None else tuple(
            d for d in self.datasets if d in available)
        return [
            RunConfig(
                dataset=ds, grayscale=self.grayscale, n_train=self.n_train, n_val=self.n_val,
                n_test=self.n_test, data_seed=0, model=model, depth=depth, nonlinearity=nl,
                channels=self.channels, seed=seed, train=self.train, attack=self.attack,
                kernel_size=None if model in NO_KERNEL_SIZE_MODELS else self.kernel_size,
                epsilons=self.epsilons, n_attack=self.n_attack, kappa_k=self.kappa_k,
                n_beta=self.n_beta, lr_grid=self.lr_grid, lr_select_epochs=self.lr_select_epochs,
            )
            for ds in names for model in self.models for depth in self.depths
            for nl in self.nonlinearities for seed in self.seeds
        ]


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def pad_images(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Zero-pad ``(..., H, W)`` images to ``size × size``, centred (extra pixel after).

    Examples
    --------
    >>> pad_images(torch.ones(1, 1, 28, 28), 32).shape
    torch.Size([1, 1, 32, 32])
    >>> pad_images(torch.ones(1, 1, 28, 28), 32)[0, 0, 2:30, 2:30].sum().item()
    784.0
    >>> pad_images(torch.ones(2, 2), 1)
    Traceback (most recent call last):
    ...
    ValueError: pad_to=1 is smaller than the images (2, 2); use pad_to >= 2
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a tensor of images (..., H, W), got {type(x).__name__}"
                         + (f" of shape {tuple(x.shape)}" if hasattr(x, "shape") else ""))
    size = as_int(size, "pad_to", minimum=1, allow_none=True)
    if size is None:
        return x
    h, w = x.shape[-2:]
    if size < max(h, w):
        raise ValueError(
            f"pad_to={size} is smaller than the images ({h}, {w}); use pad_to >= {max(h, w)}"
        )
    top, left = (size - h) // 2, (size - w) // 2
    return torch.nn.functional.pad(x, (left, size - w - left, top, size - h - top))


@functools.lru_cache(maxsize=4)
def load_splits(
    dataset: str,
    grayscale: bool,
    n_train: int | None,
    n_val: int | None,
    n_test: int | None,
    data_seed: int,
    pad_to: int | None = None,
) -> Any:
    """Load (and cache per process) a dataset subset, zero-padded to ``pad_to``.

    Returns the :class:`freqkit.data.DatasetSplits` of
    :func:`freqkit.data.get_dataset` with padded tensors and ``image_shape``.
    """
    from freqkit import data

    splits = data.get_dataset(
        dataset, grayscale=grayscale, n_train=n_train, n_val=n_val, n_test=n_test,
        seed=data_seed,
    )
    if pad_to is None:
        return splits

    def padded(part: Any) -> Any:
        return dataclasses.replace(part, x=pad_images(part.x, pad_to))

    return dataclasses.replace(
        splits,
        train=padded(splits.train), val=padded(splits.val), test=padded(splits.test),
        image_shape=(int(splits.image_shape[0]), pad_to, pad_to),
    )


def available_datasets(names: tuple[str, ...] | list[str], *, grayscale: bool = False
                       ) -> tuple[dict[str, str], dict[str, str]]:
    """Split dataset names into those that load here and those that don't.

    Returns ``(available, missing)``: ``available`` maps each loadable name to
    ``"<source> (<checksum>)"``, ``missing`` maps the others to the reason.

    Examples
    --------
    >>> ok, missing = available_datasets(["no-such-set"])
    >>> ok, list(missing)
    ({}, ['no-such-set'])
    """
    from freqkit import data
    from freqkit.experiments.scaffold import as_names, describe_source

    names = as_names(names, "names", allow_none=False)
    grayscale = as_bool(grayscale, "grayscale")
    ok: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            splits = data.get_dataset(name, grayscale=grayscale, n_train=1, n_val=0, n_test=1)
        except ValueError as err:  # DatasetUnavailableError is a ValueError
            missing[name] = str(err).splitlines()[0][:300]
        else:
            ok[name] = describe_source(splits.source, splits.checksum)
    return ok, missing


# --------------------------------------------------------------------------- #
# spectral metrics (pure)
# --------------------------------------------------------------------------- #
def beta_metrics(beta: np.ndarray, kappa_k: int) -> dict[str, Any]:
    """Spectral metrics of a predictor β of shape ``(num_classes, C, H, W)``.

    Returns ``beta_power`` (H, W) (centred power summed over classes and
    channels), ``beta_f50``, ``beta_kappa_high`` and the norms ``beta_l1``,
    ``beta_l2``, ``beta_l1_hat``, ``beta_l2_hat`` of the whole tensor.

    Examples
    --------
    >>> beta = np.zeros((2, 1, 8, 8)); beta[:, 0, 0, 0] = 1.0    # a delta: flat spectrum
    >>> m = beta_metrics(beta, kappa_k=4)
    >>> round(float(m["beta_l1_hat"]), 6), round(float(m["beta_l2"]), 6)
    (16.0, 1.414214)
    >>> 0.3 < m["beta_f50"] < 0.45
    True
    """
    from freqkit import spectra

    beta = np.asarray(beta, dtype=np.float64)
    if beta.ndim != 4:
        raise ValueError(f"beta has shape {beta.shape}; expected (num_classes, C, H, W)")
    power = np.asarray(spectra.power_spectrum(beta, combine_channels=True)).sum(axis=0)
    per_class = spectra.spectral_norms(beta, dims=3)  # each over (C, H, W); combine over classes
    norms = {"l1": per_class["l1"].sum(), "l2": np.sqrt((per_class["l2"] ** 2).sum()),
             "l1_hat": per_class["l1_hat"].sum(), "l2_hat": np.sqrt((per_class["l2_hat"] ** 2).sum())}
    return {
        "beta_power": power,
        "beta_f50": float(spectra.half_power_frequency(power)),
        "beta_kappa_high": float(spectra.kappa_high(power, kappa_k)),
        **{f"beta_{k}": float(v) for k, v in norms.items()},
    }


def delta_metrics(delta: np.ndarray, kappa_k: int) -> dict[str, Any]:
    """Spectral metrics of perturbations ``delta`` of shape ``(epsilon, sample, C, H, W)``.

    NaN entries (failed attacks) are excluded sample-wise. Per ε it returns
    ``delta_power`` (ε, H, W) (mean over successful samples of the channel-summed
    power), ``delta_f50``, ``delta_kappa_high``, the norms of the averaged
    perturbation ``delta_avg_{l1,l2,l1_hat,l2_hat}`` and the mean per-sample
    norms ``delta_{l1,l2,l1_hat,l2_hat}_mean``; all NaN where no attack succeeded.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.normal(size=(2, 3, 1, 8, 8)); d[1, 0] = np.nan
    >>> m = delta_metrics(d, kappa_k=4)
    >>> m["delta_power"].shape, m["n_success"].tolist()
    ((2, 8, 8), [3, 2])
    >>> bool(np.all((m["delta_f50"] > 0) & (m["delta_f50"] < 0.71)))
    True
    """
    from freqkit import spectra

    delta = np.asarray(delta, dtype=np.float64)
    if delta.ndim != 5:
        raise ValueError(f"delta has shape {delta.shape}; expected (epsilon, sample, C, H, W)")
    n_eps, _, _, h, w = delta.shape
    ok = ~np.isnan(delta).any(axis=(2, 3, 4))  # (epsilon, sample)
    n_success = ok.sum(axis=1)
    power = np.full((n_eps, h, w), np.nan)
    f50, kappa = np.full(n_eps, np.nan), np.full(n_eps, np.nan)
    per_sample = {k: np.full(n_eps, np.nan) for k in ("l1_hat", "l2_hat", "l1", "l2")}
    for e in range(n_eps):  # one FFT pass over the successful perturbations of each epsilon
        if not n_success[e]:
            continue
        stats = spectra.spectrum_statistics(delta[e][ok[e]], zero_energy="nan")
        power[e] = stats["mean_power"]
        if power[e].sum() > 0:
            f50[e] = spectra.half_power_frequency(power[e])
            kappa[e] = spectra.kappa_high(power[e], kappa_k)
        for k in per_sample:
            per_sample[k][e] = stats[k].mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_delta = np.where(ok[:, :, None, None, None], delta, 0.0).sum(axis=1) / np.where(
            n_success > 0, n_success, np.nan)[:, None, None, None]
    avg = spectra.spectral_norms(np.nan_to_num(mean_delta), dims=3)  # (epsilon,)
    out: dict[str, Any] = {
        "n_success": n_success.astype(np.int64),
        "delta_power": power,
        "delta_f50": f50,
        "delta_kappa_high": kappa,
    }
    for k, v in avg.items():
        out[f"delta_avg_{k}"] = np.where(n_success > 0, v, np.nan)
    for k, v in per_sample.items():
        out[f"delta_{k}_mean"] = v
    return out


# --------------------------------------------------------------------------- #
# the run
# --------------------------------------------------------------------------- #
_UNITS_LONG_NAMES: dict[str, tuple[str, str]] = {
    "test_accuracy": ("1", "test accuracy"),
    "val_accuracy": ("1", "validation accuracy (best epoch)"),
    "best_epoch": ("1", "epoch with the best validation accuracy"),
    "lr": ("1", "learning rate of the final (kept) training attempt"),
    "lr_selected": ("1", "maximum learning rate chosen on the validation split (lr_grid)"),
    "n_lr_tries": ("1", "number of learning rates tried (retries after failed training)"),
    "failed": ("1", "1 if training stayed at chance level after all retries"),
    "train_seconds": ("s", "wall time of training"),
    "attack_seconds": ("s", "wall time of the attack"),
    "n_attacked": ("1", "number of correctly classified test images attacked"),
    "clean_accuracy": ("1", "accuracy of the trained model on the test split (before attack)"),
    "margin_median": ("1", "median logit margin f_y - max_{j!=y} f_j over correctly classified "
                           "test images"),
    "beta_f50": ("cycles/pixel", "half-power frequency f50 of beta-hat"),
    "beta_kappa_high": ("1", "kappa_high(k) of beta-hat: power fraction outside |m| <= k/2"),
    "beta_l1": ("1", "l1 norm of beta"),
    "beta_l2": ("1", "l2 norm of beta"),
    "beta_l1_hat": ("1", "l1 norm of beta-hat (orthonormal DFT)"),
    "beta_l2_hat": ("1", "l2 norm of beta-hat (orthonormal DFT; equals l2 of beta)"),
    "beta_power": ("1", "power spectrum of beta summed over classes and channels (centred)"),
    "attack_success": ("1", "attack success rate on correctly classified images"),
    "n_success": ("1", "number of successful perturbations"),
    "delta_f50": ("cycles/pixel", "half-power frequency f50 of delta-hat (mean power)"),
    "delta_kappa_high": ("1", "kappa_high(k) of delta-hat (mean power)"),
    "delta_power": ("1", "mean power spectrum of successful perturbations (centred)"),
}
for _k, _name in (("l1", "l1 norm"), ("l2", "l2 norm"), ("l1_hat", "l1 norm of DFT"),
                  ("l2_hat", "l2 norm of DFT")):
    _UNITS_LONG_NAMES[f"delta_avg_{_k}"] = ("1", f"{_name} of the averaged perturbation")
    _UNITS_LONG_NAMES[f"delta_{_k}_mean"] = ("1", f"mean over samples of the per-sample {_name}")


def _first_correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                   n: int, batch_size: int = 512) -> tuple[torch.Tensor, float, float]:
    """First ``n`` correctly classified indices, accuracy on all, median margin of the correct.

    The multiclass margin of an image is ``f_y(x) - max_{j≠y} f_j(x)`` (logits).
    """
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    correct = logits.argmax(dim=1) == y
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf")).amax(dim=1)
    margins = (true - other)[correct]
    median = float(margins.median()) if len(margins) else float("nan")
    return torch.nonzero(correct).flatten()[:n], float(correct.float().mean()), median


def run_model_experiment(cfg: RunConfig, *, progress: bool = False) -> xr.Dataset:
    """Train, attack and measure one model; return its one-run results dataset.

    Parameters
    ----------
    cfg : RunConfig
    progress : bool
        Show the training progress bar.

    Returns
    -------
    xarray.Dataset
        Scalar variables (accuracies, training bookkeeping, β metrics) with
        length-1 dims :data:`GRID_DIMS`; per-ε variables with an extra
        ``epsilon`` dim; ``beta_power`` (…, freq_row, freq_col) and
        ``delta_power`` (…, epsilon, freq_row, freq_col) with frequency
        coordinates in cycles/pixel. Attributes: :func:`freqkit.results.provenance`
        of ``cfg`` (dataset source and checksum, device) plus ``kappa_k``.
    """
    _check_run_config(cfg)
    splits, trained = train_run(cfg, progress=progress)
    return measure_run(cfg, splits, trained)


def _check_run_config(cfg: Any) -> None:
    if not isinstance(cfg, RunConfig):
        raise ValueError(f"cfg={cfg!r} is not allowed; use a RunConfig (RunConfig.from_dict for a dict)"[:300])


def train_run(cfg: RunConfig, *, progress: bool = False) -> tuple[Any, Any]:
    """Load the data and train the model of ``cfg``: ``(splits, TrainResult)``.

    The model factory seeds the initialisation with ``cfg.seed`` and training
    uses ``TrainConfig.seed = cfg.seed``, so a run is a function of ``cfg``.
    """
    from freqkit import models, train

    _check_run_config(cfg)
    splits = load_splits(cfg.dataset, cfg.grayscale, cfg.n_train, cfg.n_val, cfg.n_test,
                         cfg.data_seed, cfg.pad_to)
    image_shape = tuple(int(s) for s in splits.image_shape)

    def model_factory(*_: Any, **__: Any) -> torch.nn.Module:
        return models.create_model(
            cfg.model, input_shape=image_shape, num_classes=splits.num_classes,
            depth=cfg.depth, nonlinearity=cfg.nonlinearity, channels=cfg.channels,
            kernel_size=cfg.kernel_size, seed=cfg.seed,
        ).to(current_device())

    train_cfg = dataclasses.replace(cfg.train, seed=cfg.seed)
    selection = select_learning_rate(model_factory, splits, cfg, train_cfg) if cfg.lr_grid else {}
    if selection:
        train_cfg = dataclasses.replace(train_cfg, lr=selection["lr_selected"])
    torch.manual_seed(cfg.seed)
    trained = train.train_model(model_factory, splits, train_cfg, progress=progress)
    trained.lr_selection = selection
    return splits, trained


def select_learning_rate(model_factory: Any, splits: Any, cfg: RunConfig, train_cfg: TrainConfig
                         ) -> dict[str, Any]:
    """Choose the maximum learning rate of a run on the validation split.

    Each rate of ``cfg.lr_grid`` trains a fresh model (same seed) for ``cfg.lr_select_epochs``
    epochs as one schedule cycle, without retries; the rate with the best validation accuracy
    (the earliest in the grid on ties) is chosen. A rate whose short run fails (diverges, or
    stays at chance) scores NaN; when all fail the first rate is kept and the full run's retry
    rule takes over. Returns ``lr_grid``, ``lr_grid_val_accuracy`` and ``lr_selected``.
    """
    from freqkit import train

    _check_run_config(cfg)
    if not cfg.lr_grid:
        raise ValueError("cfg.lr_grid=() is not allowed here; select_learning_rate needs candidate rates")
    if not isinstance(train_cfg, TrainConfig):
        raise ValueError(f"train_cfg={train_cfg!r} is not allowed; use a TrainConfig"[:300])
    scores = []
    for lr in cfg.lr_grid:
        short = dataclasses.replace(train_cfg, lr=lr, epochs=cfg.lr_select_epochs,
                                    cycle_epochs=cfg.lr_select_epochs, max_retries=0)
        torch.manual_seed(cfg.seed)
        result = train.train_model(model_factory, splits, short, progress=False)
        scores.append(float("nan") if result.failed else float(result.val_accuracy))
    finite = [i for i, v in enumerate(scores) if np.isfinite(v)]
    best = max(finite, key=lambda i: (scores[i], -i)) if finite else 0
    return {"lr_grid": list(cfg.lr_grid), "lr_grid_val_accuracy": scores, "lr_selected": cfg.lr_grid[best]}


def train_config_from_dict(train: Any) -> Any:
    """A :class:`~freqkit.train.TrainConfig` from its JSON dict (lists -> tuples); a
    ``TrainConfig`` or ``None`` is returned as is. Unknown keys are an error (a mistyped
    key would otherwise train with a default).

    Examples
    --------
    >>> train_config_from_dict({"epochs": 2, "lr_retry_factors": [1.0, 0.5]}).lr_retry_factors
    (1.0, 0.5)
    >>> train_config_from_dict(None) is None
    True
    >>> train_config_from_dict({"epohcs": 2})
    Traceback (most recent call last):
    ...
    ValueError: train has unknown TrainConfig fields ['epohcs']; allowed: batch_size, chance_margin, chance_patience, cycle_epochs, divergence_factor, divergence_patience, epochs, eval_batch_size, lr, lr_decay, lr_floor, lr_retry_factors, max_retries, momentum, num_threads, seed, weight_decay
    """
    if train is None or isinstance(train, TrainConfig):
        return train
    if not isinstance(train, Mapping):
        raise ValueError(f"train={train!r} is not allowed; use a TrainConfig, its dict, or None"[:300])
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(train) - fields)
    if unknown:
        raise ValueError(f"train has unknown TrainConfig fields {unknown}; allowed: {', '.join(sorted(fields))}")
    return TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in train.items()})


def training_attempt_attrs(trained: Any) -> dict[str, str]:
    """Flat NetCDF attrs of a training result's attempts: ``lrs_tried`` (every attempt's
    learning rate, in order) and ``failure_reasons`` (why each abandoned attempt failed),
    both JSON lists.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> training_attempt_attrs(SimpleNamespace(lrs_tried=[0.1, 0.01], failure_reasons=["nan"]))
    {'lrs_tried': '[0.1, 0.01]', 'failure_reasons': '["nan"]'}
    """
    if not hasattr(trained, "lrs_tried"):
        raise ValueError(f"trained={trained!r} is not allowed; use the TrainResult of train.train_model"[:300])
    return {
        "lrs_tried": json.dumps([float(v) for v in getattr(trained, "lrs_tried", [])]),
        "failure_reasons": json.dumps([str(r) for r in getattr(trained, "failure_reasons", [])]),
    }


def measure_run(cfg: RunConfig, splits: Any, trained: Any) -> xr.Dataset:
    """β, attack and spectral metrics of a trained model (see :func:`run_model_experiment`)."""
    from freqkit import attacks, predictor, results, sweep

    _check_run_config(cfg)
    if not hasattr(splits, "image_shape") or not hasattr(splits, "test"):
        raise ValueError(f"splits={splits!r} is not allowed; use the splits of load_splits / train_run"[:300])
    if not hasattr(trained, "model") or not hasattr(trained, "test_accuracy"):
        raise ValueError(f"trained={trained!r} is not allowed; use the TrainResult of train_run"[:300])
    image_shape = tuple(int(s) for s in splits.image_shape)
    model = trained.model.eval()

    x_test, y_test = splits.test.x.to(current_device()), splits.test.y.to(current_device())
    if cfg.nonlinearity == "linear":
        beta = predictor.end_to_end_predictor(model)
    else:
        beta = predictor.end_to_end_predictor(model, x_test[: cfg.n_beta])
    beta_np = beta.detach().cpu().double().numpy()
    record: dict[str, Any] = beta_metrics(beta_np, cfg.kappa_k)

    idx, clean_acc, margin = _first_correct(model, x_test, y_test, cfg.n_attack)
    t0 = time.perf_counter()
    if len(idx) > 0:
        adv = attacks.run_attack(model, x_test[idx], y_test[idx], cfg.attack,
                                 list(cfg.epsilons), seed=cfg.seed)
        delta = np.asarray(adv["delta"].transpose("epsilon", "sample", "channel", "row", "col"),
                           dtype=np.float64)
    else:  # nothing classified correctly: no perturbation to measure
        delta = np.full((len(cfg.epsilons), 1, *image_shape), np.nan)
    attack_seconds = time.perf_counter() - t0
    dm = delta_metrics(delta, cfg.kappa_k)
    n_attacked = int(len(idx))
    record.update(dm)
    record["attack_success"] = (dm["n_success"] / n_attacked if n_attacked
                                else np.full(len(cfg.epsilons), np.nan))
    lrs = [float(v) for v in getattr(trained, "lrs_tried", [])]
    record.update({
        "test_accuracy": float(trained.test_accuracy),
        "val_accuracy": float(trained.val_accuracy),
        "best_epoch": int(trained.best_epoch),
        "lr": lrs[-1] if lrs else float(cfg.train.lr),
        "n_lr_tries": len(lrs),
        "failed": int(bool(trained.failed)),
        "train_seconds": float(trained.train_seconds),
        "attack_seconds": attack_seconds,
        "n_attacked": n_attacked,
        "clean_accuracy": clean_acc,
        "margin_median": margin,
    })

    selection = getattr(trained, "lr_selection", None) or {}
    if selection:
        record["lr_selected"] = float(selection["lr_selected"])

    history = getattr(trained, "history", None) or {}
    curve = learning_curve_vars(history)
    h, w = record["beta_power"].shape
    freq_row = np.fft.fftshift(np.fft.fftfreq(h))
    freq_col = np.fft.fftshift(np.fft.fftfreq(w))
    data_vars = {}
    for name, value in record.items():
        value = np.asarray(value)
        if name == "beta_power":
            dims: tuple[str, ...] = ("freq_row", "freq_col")
        elif name == "delta_power":
            dims = ("epsilon", "freq_row", "freq_col")
        elif value.ndim == 1:
            dims = ("epsilon",)
        else:
            dims = ()
        units, long_name = _UNITS_LONG_NAMES.get(name, ("1", name))
        data_vars[name] = xr.Variable(dims, value, {"units": units, "long_name": long_name})
    data_vars.update(curve)
    if selection:
        data_vars["lr_grid_val_accuracy"] = xr.Variable(
            ("lr_candidate",), np.asarray(selection["lr_grid_val_accuracy"], dtype=np.float64),
            {"units": "1", "long_name": "validation accuracy of the learning-rate selection run"})
    ds = xr.Dataset(
        data_vars,
        coords={
            **({"lr_candidate": ("lr_candidate", np.asarray(selection["lr_grid"], dtype=np.float64),
                                 {"units": "1", "long_name": "candidate maximum learning rate"})}
               if selection else {}),
            **({"epoch": ("epoch", np.asarray(history["epoch"], dtype=np.int64))}
               if curve else {}),
            "epsilon": ("epsilon", np.asarray(cfg.epsilons, dtype=np.float64),
                        {"units": "1", "long_name": f"{cfg.attack} attack budget"}),
            "freq_row": ("freq_row", freq_row, {"units": "cycles/pixel"}),
            "freq_col": ("freq_col", freq_col, {"units": "cycles/pixel"}),
        },
    )
    ds = sweep.expand_run_dims(ds, cfg.grid_values())
    ds.attrs.update(results.provenance(
        cfg, dataset_source=splits.source, dataset_checksum=splits.checksum,
        device=describe_device(),
    ))
    ds.attrs["kappa_k"] = int(cfg.kappa_k)
    ds.attrs.update(training_attempt_attrs(trained))
    return ds


#: Per-epoch variables of the kept training attempt: name in the run file -> history key.
CURVE_VARS: dict[str, tuple[str, str, str]] = {
    "curve_train_loss": ("train_loss", "1", "mean training loss of the epoch"),
    "curve_train_accuracy": ("train_accuracy", "1", "training accuracy of the epoch"),
    "curve_val_accuracy": ("val_accuracy", "1", "validation accuracy after the epoch"),
    "curve_lr": ("lr", "1", "learning rate at the start of the epoch"),
}


def learning_curve_vars(history: Mapping[str, Any]) -> dict[str, xr.Variable]:
    """The learning curve of a training history as variables on dim ``epoch``.

    ``history`` is :attr:`freqkit.train.TrainResult.history` (keys ``epoch``,
    ``lr``, ``train_loss``, ``train_accuracy``, ``val_accuracy``); an empty
    history gives no variables.

    Examples
    --------
    >>> h = {"epoch": [1, 2], "lr": [0.1, 0.05], "train_loss": [2.0, 1.0],
    ...      "train_accuracy": [0.3, 0.6], "val_accuracy": [0.25, 0.5]}
    >>> v = learning_curve_vars(h)
    >>> sorted(v), v["curve_val_accuracy"].dims, v["curve_val_accuracy"].values.tolist()
    (['curve_lr', 'curve_train_accuracy', 'curve_train_loss', 'curve_val_accuracy'], ('epoch',), [0.25, 0.5])
    """
    if not isinstance(history, Mapping):
        raise ValueError(f"history={history!r} is not allowed; use TrainResult.history (a dict)"[:300])
    if not history or not len(history.get("epoch", ())):
        return {}
    missing = [key for key, _, _ in CURVE_VARS.values() if key not in history]
    if missing:
        raise ValueError(f"history lacks {missing}; allowed: TrainResult.history with keys "
                         f"epoch, {', '.join(key for key, _, _ in CURVE_VARS.values())}")
    return {
        name: xr.Variable(("epoch",), np.asarray(history[key], dtype=np.float64),
                          {"units": units, "long_name": long_name})
        for name, (key, units, long_name) in CURVE_VARS.items()
    }


#: The rule by which a run counts as trained (issue 12), applied by :func:`trained_by_rule`.
TRAINED_RULE = ("training did not fail and its validation-accuracy curve has flattened: the best "
                "epoch is not in the last fifth of training, or the last three epochs gained less "
                "than 1 point")


def trained_by_rule(ds: xr.Dataset, *, gain: float = 0.01) -> xr.DataArray:
    """Whether each run meets :data:`TRAINED_RULE`, from its stored learning curve.

    With ``E`` epochs in ``curve_val_accuracy`` (NaN-padded when runs differ), a run
    is trained when ``failed == 0`` and either its first best epoch is before the last
    ``ceil(E / 5)`` epochs or ``val[E] - val[E - 3] < gain``. Runs without a curve are
    not trained. Returns a boolean array over the run dims (no ``epoch``).

    Examples
    --------
    >>> curves = [[0.2, 0.5, 0.6, 0.6, 0.6], [0.2, 0.3, 0.4, 0.5, 0.6], [0.5, 0.6, 0.6, 0.61, 0.605]]
    >>> ds = xr.Dataset({"curve_val_accuracy": (("run", "epoch"), curves),
    ...                  "failed": ("run", [0, 0, 1])})
    >>> trained_by_rule(ds).values.tolist()   # flat; still climbing; failed
    [True, False, False]
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds={ds!r} is not allowed; use a chapter's results (an xarray.Dataset)"[:300])
    gain = as_real(gain, "gain", minimum=0)
    if "curve_val_accuracy" not in ds:
        raise ValueError("trained_by_rule needs 'curve_val_accuracy' (runs' learning curves) in the results")
    curve = ds.curve_val_accuracy
    other = [d for d in curve.dims if d != "epoch"]
    val = curve.transpose(*other, "epoch").values
    valid = np.isfinite(val)
    epochs = valid.sum(-1)
    filled = np.where(valid, val, -np.inf)
    best = filled.argmax(-1)  # first best epoch (0-based)
    early = best < epochs - np.ceil(epochs / 5)
    last = np.take_along_axis(filled, np.maximum(epochs - 1, 0)[..., None], -1)[..., 0]
    before = np.take_along_axis(filled, np.maximum(epochs - 4, 0)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):  # runs without epochs: -inf - -inf
        flat = (epochs >= 4) & (last - before < gain)
    ok = (epochs > 0) & (early | flat)
    out = xr.DataArray(ok, dims=other, coords={d: curve.coords[d] for d in other if d in curve.coords})
    if "failed" in ds:
        out = out & (ds.failed == 0)
    return out.rename("trained")


SPECTRUM_VARS: tuple[str, ...] = ("beta_power", "delta_power")


def combine_mixed_runs(paths: Any) -> xr.Dataset:
    """Combine a sweep whose runs may have different image sizes.

    :func:`freqkit.sweep.combine_runs` needs identical ``freq_row``/``freq_col``
    coordinates (otherwise xarray concatenates *every* variable along them).
    Here runs are grouped by image size; each group is combined by coordinates
    and the groups are merged after renaming the spectra of a group of size
    ``h × w`` to ``beta_power_<h>x<w>`` / ``delta_power_<h>x<w>`` on dims
    ``freq_row_<h>``, ``freq_col_<w>``. With a single image size this is
    exactly :func:`freqkit.results.load_sweep`. ``paths`` are run files (or a
    directory: all its ``*.nc``); conflicting duplicates are refused
    (:func:`freqkit.results.check_duplicate_runs`).
    """
    from pathlib import Path

    from freqkit import results, sweep

    if isinstance(paths, (str, Path)):
        paths = sorted(Path(paths).glob("*.nc"))
    paths = list(dict.fromkeys(Path(p) for p in paths))
    runs = [results.load_results(p) for p in paths]
    results.check_duplicate_runs(runs, paths)
    sizes = sorted({(r.sizes.get("freq_row", 0), r.sizes.get("freq_col", 0)) for r in runs})
    if len(sizes) <= 1:
        return results.load_sweep(paths)
    groups = []
    for h, w in sizes:
        group = [r for r in runs if (r.sizes["freq_row"], r.sizes["freq_col"]) == (h, w)]
        group = results.align_inner_dims(group)  # e.g. learning curves of different lengths
        combined = xr.combine_by_coords(group, join="outer", compat="no_conflicts", data_vars="all",
                                      combine_attrs="drop_conflicts")
        tag = f"{h}x{w}"
        combined = combined.rename({v: f"{v}_{tag}" for v in SPECTRUM_VARS if v in combined})
        groups.append(combined.rename({"freq_row": f"freq_row_{h}", "freq_col": f"freq_col_{w}"}))
    return xr.merge(groups, join="outer", compat="no_conflicts", combine_attrs="drop_conflicts")
