"""Chapter 3: κ_high falls as the kernel grows (figure 4 of Caro et al. 2024).

Caro et al. (2024) explain the high-frequency bias of local convolutions with
the Fourier uncertainty principle: a kernel confined to ``k × k`` pixels cannot
also be confined to few frequencies, so the smaller the kernel, the more energy
its spectrum -- and the end-to-end predictor β and adversarial perturbations δ
of a network built from it -- must put at high frequencies. Their figure 4
shows κ_high(15) (energy fraction outside DFT indices ``|m| <= 7``) of β̂ and of
δ̂ falling with the kernel size of one- and three-hidden-layer LKC networks on
grayscale images, and higher at depth 3.

The chapter is a :class:`freqkit.experiments.scaffold.Chapter` (:data:`CHAPTER`):
:data:`PRESETS`, the grid :func:`configs` on the first dataset that loads
(:func:`freqkit.experiments.scaffold.check_first_available`) with the overrides
``datasets``, ``fixed_lr`` and ``lr_rule`` (:data:`LR_RULES`), the shared run
:func:`freqkit.experiments.common.run_model_experiment`, the linear-theory
curves (:func:`theory_curves`) and the pure analysis (:func:`kappa_summary`,
:func:`grid_table`, :func:`lr_table`, :func:`training_facts`,
:func:`same_rate_trends`, :func:`claims_table`, :func:`verdict`). The notebook
``notebooks/03_kernel_size_kappa.ipynb`` runs it and plots with
:mod:`freqkit.figures.ch03`.

Linear theory (no training involved), for an ``N × N`` grid and band ``|m| <= b``
with ``b = ⌊κ_k / 2⌋``:

* **box kernel**: κ_high of the ``k × k`` box zero-padded to ``N × N`` and of its
  ``L``-fold circular self-convolution (a depth-``L`` stack of identical box
  kernels); per axis the power is the Dirichlet kernel ``|D_k(m)|^{2L}``, so
  ``κ = 1 - (Σ_{|m|<=b} |D_k|^{2L} / Σ_m |D_k|^{2L})²``;
* **uncertainty bound**: the smallest κ_high any kernel supported on ``s × s``
  pixels can have, ``1 - λ_max(s)²`` with ``λ_max`` the largest eigenvalue of the
  1-D time-frequency concentration (Slepian) matrix; a depth-``L`` stack of
  ``k × k`` kernels is supported on ``s = min(N, L(k-1)+1)`` pixels;
* **random kernel**: an i.i.d. Gaussian kernel has, in expectation, a flat
  spectrum, so κ_high ≈ ``1 - (2b+1)²/N²`` whatever its size (no preference).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from freqkit._validate import as_bool, as_int, as_real
from freqkit.experiments.common import RunConfig, SweepPreset, run_model_experiment, trained_by_rule
from freqkit.experiments.scaffold import (
    Chapter,
    _short,
    as_ints,
    as_names,
    check_first_available,
    check_sweep_preset,
    register,
    takes_results,
)
from freqkit.train import TrainConfig

__all__ = [
    "CHAPTER",
    "MIN_CORRELATION_RUNS",
    "PAPER_KERNEL_SIZES",
    "LR_RULES",
    "PRESETS",
    "rule_table",
    "TRAINED_ACCURACY",
    "Preset",
    "box_kappa_high",
    "claims_table",
    "configs",
    "flat_kappa_high",
    "get_preset",
    "grid_table",
    "kappa_summary",
    "lr_table",
    "random_kernel_kappa_high",
    "run",
    "same_rate_trends",
    "settings_table",
    "theory_claims",
    "theory_curves",
    "theory_notes",
    "training_facts",
    "uncertainty_kappa_bound",
    "verdict",
]

#: Kernel sizes of the paper's figure 4.
PAPER_KERNEL_SIZES: tuple[int, ...] = (3, 7, 9, 11, 15, 21, 32)
#: Below this mean test accuracy (10 classes: chance 0.1) the verdict calls the networks
#: barely trained: their β describes the initialisation more than a learned predictor.
TRAINED_ACCURACY = 0.3
#: The verdict quotes the rank correlation of accuracy and κ_high over runs only from this
#: many runs on (with two runs it is always ±1).
MIN_CORRELATION_RUNS = 6


@dataclass(frozen=True, kw_only=True)
class Preset(SweepPreset):
    """Size of the chapter-3 sweep: LKC networks, one per depth × kernel size × seed.

    A :class:`~freqkit.experiments.common.SweepPreset` whose grid
    (:meth:`run_configs`) runs over ``kernel_sizes`` on one dataset: the first
    of ``datasets`` (names in order of preference) that loads here, in
    ``grayscale``. Images smaller than ``image_size`` are zero-padded (centred)
    to ``image_size``; ``epsilon_main`` is the ε (one of ``epsilons``) at which
    δ̂ is compared.
    """

    kernel_sizes: tuple[int, ...] = PAPER_KERNEL_SIZES
    image_size: int = 32
    models: tuple[str, ...] = ("lkc",)
    depths: tuple[int, ...] = (1, 3)
    nonlinearities: tuple[str, ...] = ("linear",)

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()
        check_sweep_preset(self)
        object.__setattr__(self, "image_size", as_int(self.image_size, "image_size", minimum=1))
        object.__setattr__(self, "kernel_sizes", as_ints(self.kernel_sizes, "kernel_sizes", minimum=1,
                                                         maximum=self.image_size))

    def run_configs(self, available: Sequence[str] | None = None, *,
                    datasets: Sequence[str] | str | None = None,
                    fixed_lr: float | None = None, lr_rule: str | None = None) -> list[RunConfig]:
        """The grid (pure); see :func:`configs` for the arguments."""
        from freqkit.data import DATASETS

        names = _dataset_names(self, datasets)
        train = _train_config(self, fixed_lr)
        lr_grid = self.lr_grid if _lr_rule(self, fixed_lr, lr_rule) == "select" else ()
        chosen = names[:1] if available is None else [n for n in names if n in tuple(available)][:1]
        grid: list[RunConfig] = []
        for name in chosen:
            size = int(DATASETS.get(name).image_shape[-1])
            if size > self.image_size:
                raise ValueError(f"dataset={name!r} has {size}-pixel images, larger than "
                                 f"image_size={self.image_size}; use a dataset with images <= "
                                 f"{self.image_size}")
            grid += [
                RunConfig(
                    dataset=name, grayscale=self.grayscale, n_train=self.n_train,
                    n_val=self.n_val, n_test=self.n_test, data_seed=0, model=model, depth=depth,
                    nonlinearity=nl, channels=self.channels, kernel_size=k, seed=seed,
                    train=train, attack=self.attack, epsilons=self.epsilons,
                    n_attack=self.n_attack, kappa_k=self.kappa_k,
                    pad_to=None if size == self.image_size else self.image_size,
                    n_beta=self.n_beta, lr_grid=lr_grid, lr_select_epochs=self.lr_select_epochs,
                )
                for model in self.models for nl in self.nonlinearities for depth in self.depths
                for k in self.kernel_sizes for seed in self.seeds
            ]
        return grid


#: Chapter-3 presets: ``smoke`` (CI pipeline check), ``cpu`` (the book's reduced
#: reproduction on a 2-core CPU) and ``paper`` (the paper's scale, GPU advised).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", datasets=("cifar10", "fashion-mnist"), kernel_sizes=(3, 32),
        depths=(1,), seeds=(0,), channels=2, n_train=512, n_val=128, n_test=128,
        train=TrainConfig(epochs=1, batch_size=64, chance_patience=0, max_retries=0),
        n_attack=8, epsilons=(1.0,), n_beta=64, lr_grid=(0.1, 0.01),
        notes="pipeline check only: two kernel sizes, depth 1, 512 images, 1 epoch",
    ),
    "cpu": Preset(
        name="cpu", datasets=("cifar10", "fashion-mnist"), kernel_sizes=PAPER_KERNEL_SIZES,
        depths=(1, 3), seeds=(0, 1, 2), channels=4, n_train=5_000, n_val=1_000, n_test=1_000,
        train=TrainConfig(epochs=5, batch_size=128), n_attack=50, epsilons=(1.0,),
        lr_grid=(0.1, 0.03, 0.01), lr_select_epochs=1,
        notes="reduced reproduction on 2 CPU cores: 4 channels, 5k images, 5 epochs, 3 seeds, "
              "50 attacked images; learning rate per run from (0.1, 0.03, 0.01)",
    ),
    "paper": Preset(
        name="paper", datasets=("cifar10", "fashion-mnist"), kernel_sizes=PAPER_KERNEL_SIZES,
        depths=(1, 3), seeds=(0, 1, 2, 3, 4), channels=16, n_train=None, n_val=5_000,
        n_test=None, train=TrainConfig(epochs=40, batch_size=128), n_attack=1_000,
        epsilons=(0.5, 1.0, 2.0), lr_grid=(0.1, 0.03, 0.01), lr_select_epochs=2,
        notes="paper scale: full training sets, 40 epochs, 5 models per point (GPU advised)",
    ),
}


def _dataset_names(p: Preset, datasets: Sequence[str] | str | None) -> tuple[str, ...]:
    """The preset's datasets, or the ``datasets`` override (validated against the registry)."""
    from freqkit.data import DATASETS

    if datasets is None:
        return tuple(p.datasets)
    try:
        names = as_names(datasets, "datasets")
    except ValueError:
        names = ()
    if not names or any(n not in DATASETS.names() for n in names):
        raise ValueError(f"datasets={datasets!r} is not allowed; use a non-empty sequence of "
                         f"{DATASETS.names()}")
    return names


#: How a run's maximum learning rate is chosen: ``"retry"`` -- the preset's rate, retried
#: at other rates only when training fails (the rule of the paper's code); ``"select"`` --
#: each rate of the preset's ``lr_grid`` trains for ``lr_select_epochs`` epochs and the best
#: validation accuracy wins (:func:`freqkit.experiments.common.select_learning_rate`), the
#: retry rule as the fallback.
LR_RULES: tuple[str, ...] = ("retry", "select")


def _lr_rule(p: Preset, fixed_lr: float | None, lr_rule: str | None) -> str:
    """The learning-rate rule of a grid: ``lr_rule``, or the preset's (``select`` with an ``lr_grid``).

    Examples
    --------
    >>> _lr_rule(PRESETS["cpu"], None, None), _lr_rule(PRESETS["cpu"], None, "retry")
    ('select', 'retry')
    >>> _lr_rule(PRESETS["cpu"], 0.01, None)
    'retry'
    """
    if lr_rule is not None and (not isinstance(lr_rule, str) or lr_rule not in LR_RULES):
        raise ValueError(f"lr_rule={_short(lr_rule)} is not allowed; use one of {LR_RULES} or None "
                         "(the preset's rule)")
    if lr_rule == "select":
        if not p.lr_grid:
            raise ValueError(f"lr_rule='select' is not allowed with preset {p.name!r}: it has no lr_grid; "
                             "use lr_rule='retry' or a preset with an lr_grid")
        if fixed_lr is not None:
            raise ValueError(f"lr_rule='select' is not allowed with fixed_lr={fixed_lr!r}; use one of them")
    if fixed_lr is not None:
        return "retry"
    return lr_rule or ("select" if p.lr_grid else "retry")


def _train_config(p: Preset, fixed_lr: float | None) -> TrainConfig:
    """The preset's training, or every attempt at ``fixed_lr`` without retries."""
    if fixed_lr is None:
        return p.train
    try:
        lr = as_real(fixed_lr, "fixed_lr", minimum=0, min_open=True)  # numpy scalars accepted
    except ValueError:
        raise ValueError(f"fixed_lr={fixed_lr!r} is not allowed; use a positive finite float "
                         "or None (the preset's rate with the retry rule)") from None
    return replace(p.train, lr=float(lr), max_retries=0)


def configs(preset: str | Preset, *, available: Sequence[str] | None = None,
            datasets: Sequence[str] | str | None = None,
            fixed_lr: float | None = None, lr_rule: str | None = None) -> list[RunConfig]:
    """The chapter's grid (pure): one LKC :class:`RunConfig` per (depth, kernel size, seed).

    Parameters
    ----------
    preset : str or Preset
    available : sequence of str, optional
        Datasets that load here; the grid uses the first of the preset's (or
        ``datasets``') names among them (none: an empty grid). ``None``: the first name.
    datasets : str or sequence of str, optional
        Datasets in order of preference, overriding the preset's (e.g.
        ``("fashion-mnist",)`` to measure on Fashion-MNIST although CIFAR-10 is present).
    fixed_lr : float, optional
        Train every run at this learning rate without the retry rule
        (``max_retries=0``; a run that fails is flagged ``failed``). The paper's
        rule (0.1, then ×10, ÷10, ÷50) can keep different rates for different
        kernel sizes, which confounds the trend in k; a fixed rate removes that.
    lr_rule : {"retry", "select"}, optional
        :data:`LR_RULES`; default: ``"select"`` when the preset has an ``lr_grid``,
        else ``"retry"`` (and ``"retry"`` with ``fixed_lr``). ``"retry"`` runs keep
        the run keys they had before learning-rate selection existed.

    Datasets whose registered images are smaller than ``image_size`` get
    ``pad_to=image_size``.

    Examples
    --------
    >>> cs = configs("cpu")
    >>> len(cs), sorted({c.kernel_size for c in cs}), sorted({c.depth for c in cs})
    (42, [3, 7, 9, 11, 15, 21, 32], [1, 3])
    >>> {(c.dataset, c.grayscale, c.pad_to) for c in configs("cpu", available=("fashion-mnist",))}
    {('fashion-mnist', True, 32)}
    >>> {(c.train.lr, c.train.max_retries) for c in configs("smoke", fixed_lr=0.01)}
    {(0.01, 0)}
    >>> {c.lr_grid for c in configs("cpu")}, {c.lr_grid for c in configs("cpu", lr_rule="retry")}
    ({(0.1, 0.03, 0.01)}, {()})
    >>> configs("cpu", available=("mnist",))
    []
    >>> configs("cpu", datasets=["cifar-10"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: datasets=['cifar-10'] is not allowed; use a non-empty sequence of ['cifar10', ...]
    """
    return CHAPTER.get_preset(preset).run_configs(as_names(available, "available"), datasets=datasets,
                                                  fixed_lr=fixed_lr, lr_rule=lr_rule)


def settings_table(preset: str | Preset, dataset: str, *, fixed_lr: float | None = None,
                   lr_rule: str | None = None) -> pd.DataFrame:
    """What one grid point of ``preset`` on ``dataset`` trains and measures (setting | value).

    Examples
    --------
    >>> t = settings_table("smoke", "fashion-mnist", fixed_lr=0.01).set_index("setting").value
    >>> t["images"], t["learning rate"]
    ('fashion-mnist, grayscale, zero-padded to 32×32', '0.01 for every run (no retries)')
    >>> settings_table("cpu", "fashion-mnist").set_index("setting").value["learning rate"][:62]
    'per run: the best validation accuracy of 0.1, 0.03, 0.01 after'
    """
    p = CHAPTER.get_preset(preset)
    from freqkit.data import DATASETS

    if not isinstance(dataset, str) or dataset not in DATASETS.names():
        raise ValueError(f"dataset={_short(dataset)} is not allowed; use one of {DATASETS.names()}")
    cfg = configs(p, available=(dataset,), datasets=(dataset,), fixed_lr=fixed_lr, lr_rule=lr_rule)[0]
    t = cfg.train
    retry = ", ×".join(f"{f:g}" for f in t.lr_retry_factors[1:1 + t.max_retries])
    rule = (f"retried at ×{retry} on failure (the paper's rule)" if retry else "no retries")
    rate = (f"{t.lr:g} for every run (no retries)" if fixed_lr is not None else
            (f"per run: the best validation accuracy of {', '.join(f'{r:g}' for r in cfg.lr_grid)} "
             f"after {cfg.lr_select_epochs} epoch(s) of training at each; then {rule}")
            if cfg.lr_grid else f"{t.lr:g}, {rule}")
    rows = [
        ("images", f"{cfg.dataset}, grayscale" + (f", zero-padded to {cfg.pad_to}×{cfg.pad_to}"
                                                  if cfg.pad_to else "")),
        ("training / validation / test images", f"{cfg.n_train} / {cfg.n_val} / {cfg.n_test}"),
        ("epochs, batch size", f"{t.epochs}, {t.batch_size}"),
        ("learning rate", rate),
        ("kernel sizes", ", ".join(str(k) for k in p.kernel_sizes)),
        ("depths", ", ".join(str(d) for d in p.depths)),
        ("channels / nonlinearity", f"{cfg.channels} / {cfg.nonlinearity}"),
        ("seeds", ", ".join(str(s) for s in p.seeds)),
        ("attack", (f"{cfg.attack}, ε = {', '.join(f'{e:g}' for e in cfg.epsilons)}, "
                   f"{cfg.n_attack} images")),
    ]
    return pd.DataFrame(rows, columns=["setting", "value"])


# --------------------------------------------------------------------------- linear theory (pure)
def _is_int(value: Any) -> bool:
    """A Python or NumPy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _band_half_width(kappa_k: int, n: int) -> int:
    if not _is_int(n) or n < 1:
        raise ValueError(f"n={n!r} is not allowed; use a positive int")
    if not _is_int(kappa_k) or not 1 <= kappa_k <= n:
        raise ValueError(f"kappa_k={kappa_k!r} is not allowed; use an int 1 <= kappa_k <= n={n}")
    return kappa_k // 2


def _check_kernel(k: int, n: int, name: str = "k") -> None:
    if not _is_int(n) or n < 1:
        raise ValueError(f"n={n!r} is not allowed; use a positive int")
    if not _is_int(k) or not 1 <= k <= n:
        raise ValueError(f"{name}={k!r} is not allowed; use an int 1 <= {name} <= n={n}")


def box_kappa_high(k: int, n: int, kappa_k: int, depth: int = 1) -> float:
    """κ_high(``kappa_k``) of a ``k × k`` box, zero-padded to ``n × n``, convolved ``depth`` times.

    The ``depth``-fold circular self-convolution has DFT ``D̂^depth``, so per axis
    its power is the Dirichlet kernel ``|D_k(m)|^{2·depth}`` and the 2-D power is
    separable: ``κ = 1 - (Σ_{|m|<=b} |D_k|^{2L} / Σ_m |D_k|^{2L})²``, ``b = ⌊kappa_k/2⌋``.

    Examples
    --------
    >>> from freqkit.spectra import kappa_high_box_closed_form
    >>> round(box_kappa_high(15, 32, 15), 12) == round(kappa_high_box_closed_form(15, 32), 12)
    True
    >>> box_kappa_high(32, 32, 15)   # the full box is a DC-only spectrum
    0.0
    >>> box_kappa_high(3, 32, 15, depth=3) < box_kappa_high(3, 32, 15, depth=1)
    True
    """
    _check_kernel(k, n)
    b = _band_half_width(kappa_k, n)
    if not _is_int(depth) or depth < 1:
        raise ValueError(f"depth={depth!r} is not allowed; use an int >= 1")
    m = np.arange(n) - n // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        amp = np.where(m == 0, float(k), np.sin(np.pi * k * m / n) / np.sin(np.pi * m / n))
    power = np.abs(amp) ** (2 * depth)
    inside = power[np.abs(m) <= b].sum() / power.sum()
    return float(max(0.0, 1.0 - inside**2))


def uncertainty_kappa_bound(support: int, n: int, kappa_k: int) -> float:
    """Smallest κ_high(``kappa_k``) of any image supported on ``support × support`` pixels.

    The energy fraction of a length-``s`` signal (zero-padded to ``n``) inside
    DFT indices ``|m| <= b`` is a Rayleigh quotient of the ``s × s`` concentration
    matrix ``A[i, j] = sin(π(2b+1)(i-j)/n) / (n sin(π(i-j)/n))`` (``(2b+1)/n`` on the
    diagonal); the 2-D problem with a square support and a max-norm band is
    separable, so the best fraction is ``λ_max(A)²`` and the bound is
    ``1 - λ_max(A)²``. It equals ``1 - ((2b+1)/n)²`` for ``s = 1`` and 0 for ``s = n``.

    Examples
    --------
    >>> round(uncertainty_kappa_bound(1, 32, 15), 6) == round(1 - (15 / 32) ** 2, 6)
    True
    >>> uncertainty_kappa_bound(32, 32, 15) < 1e-12
    True
    >>> uncertainty_kappa_bound(3, 32, 15) <= box_kappa_high(3, 32, 15)
    True
    """
    _check_kernel(support, n, "support")
    b = _band_half_width(kappa_k, n)
    d = np.subtract.outer(np.arange(support), np.arange(support)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(d == 0, (2 * b + 1) / n,
                     np.sin(np.pi * (2 * b + 1) * d / n) / (n * np.sin(np.pi * d / n)))
    lam = float(np.linalg.eigvalsh(a)[-1])
    return float(min(1.0, max(0.0, 1.0 - min(lam, 1.0) ** 2)))


def random_kernel_kappa_high(k: int, n: int, kappa_k: int, depth: int = 1, *,
                             draws: int = 256, seed: int = 0) -> tuple[float, float]:
    """Mean and std of κ_high of ``depth``-fold products of i.i.d. N(0,1) ``k × k`` kernels.

    Each draw convolves ``depth`` independent kernels (zero-padded to ``n``;
    spectra multiply) -- the predictor of a random, untrained depth-``depth``
    one-channel LKC, up to the readout. Vectorised over draws.

    Examples
    --------
    >>> mean, std = random_kernel_kappa_high(5, 32, 15, draws=512)
    >>> abs(mean - (1 - (15 / 32) ** 2)) < 0.03     # flat on average
    True
    """
    _check_kernel(k, n)
    b = _band_half_width(kappa_k, n)
    if not _is_int(draws) or draws < 2:
        raise ValueError(f"draws={draws!r} is not allowed; use an int >= 2")
    if not _is_int(depth) or depth < 1:
        raise ValueError(f"depth={depth!r} is not allowed; use an int >= 1")
    rng = np.random.default_rng(seed)
    kernels = np.zeros((draws, depth, n, n))
    kernels[:, :, :k, :k] = rng.standard_normal((draws, depth, k, k))
    power = np.prod(np.abs(np.fft.fft2(kernels)) ** 2, axis=1)
    m = np.abs(np.fft.fftfreq(n) * n)
    inside = (m[:, None] <= b) & (m[None, :] <= b)
    kappa = 1.0 - power[:, inside].sum(axis=1) / power.sum(axis=(1, 2))
    return float(kappa.mean()), float(kappa.std(ddof=1))


def theory_curves(kernel_sizes: tuple[int, ...] | list[int], depths: tuple[int, ...] | list[int],
                  *, n: int = 32, kappa_k: int = 15, draws: int = 256) -> xr.Dataset:
    """Linear-theory κ_high(``kappa_k``) per (depth, kernel_size): box, bound, random kernel.

    Returns ``box``, ``bound`` (uncertainty bound for support ``min(n, L(k-1)+1)``),
    ``random_mean`` and ``random_std`` with dims ``(depth, kernel_size)``.

    Examples
    --------
    >>> th = theory_curves([3, 15, 32], [1, 3])
    >>> bool((th.box.diff("kernel_size") <= 0).all())      # falls with kernel size
    True
    >>> bool((th.bound <= th.box + 1e-12).all())            # nothing beats the bound
    True
    """
    ks = list(as_ints(kernel_sizes, "kernel_sizes", minimum=1))
    ls = list(as_ints(depths, "depths", minimum=1))
    box = np.array([[box_kappa_high(k, n, kappa_k, L) for k in ks] for L in ls])
    bound = np.array([[uncertainty_kappa_bound(min(n, L * (k - 1) + 1), n, kappa_k) for k in ks]
                      for L in ls])
    rnd = np.array([[random_kernel_kappa_high(k, n, kappa_k, L, draws=draws) for k in ks]
                    for L in ls])
    dims = ("depth", "kernel_size")
    return xr.Dataset(
        {
            "box": (dims, box, {"long_name": "box kernel (L-fold self-convolution)"}),
            "bound": (dims, bound, {"long_name": "uncertainty bound, support min(N, L(k-1)+1)"}),
            "random_mean": (dims, rnd[..., 0], {"long_name": "random Gaussian kernels, mean"}),
            "random_std": (dims, rnd[..., 1], {"long_name": "random Gaussian kernels, std"}),
        },
        coords={"depth": ls, "kernel_size": ks},
        attrs={"n": n, "kappa_k": kappa_k},
    )


# --------------------------------------------------------------------------- analysis (pure)
def flat_kappa_high(n: int, kappa_k: int) -> float:
    """κ_high(``kappa_k``) of a flat spectrum on an ``n × n`` grid: ``1 - ((2b+1)/n)²``.

    The expected κ_high of a random (untrained) kernel stack, whatever its size.

    Examples
    --------
    >>> round(flat_kappa_high(32, 15), 4)
    0.7803
    >>> abs(random_kernel_kappa_high(7, 32, 15, draws=512)[0] - flat_kappa_high(32, 15)) < 0.03
    True
    """
    b = _band_half_width(kappa_k, n)
    return 1.0 - ((2 * b + 1) / n) ** 2


@takes_results("ch03")
def kappa_summary(ds: xr.Dataset, epsilon: float | None = None, *, trained_only: bool = False) -> xr.Dataset:
    """Per-run quantities of the chapter with dims (depth, kernel_size, seed).

    ``beta_kappa_high``, ``delta_kappa_high`` (at ``epsilon``; the first ε if
    None) -- NaN for runs the trainer flagged ``failed`` and, with
    ``trained_only``, for runs that do not meet the training rule
    (:data:`freqkit.experiments.common.TRAINED_RULE`) -- ``trained`` (whether
    each run meets it; needs the stored learning curves) and, when stored,
    ``test_accuracy``, ``lr`` (rate of the kept attempt: the retry rule can
    differ per kernel size), ``n_lr_tries``, ``failed``, ``train_seconds`` and
    ``attack_seconds``. Selects the single model/dataset/nonlinearity of the
    sweep; attrs ``epsilon``, ``dataset``, ``preset``, ``kappa_k``, ``image_size``,
    ``trained_only`` and ``lr_rule`` (``"select"`` when the runs chose their rate on the
    validation split, :data:`LR_RULES`).

    Examples
    --------
    >>> s = kappa_summary(_toy_results())
    >>> dict(s.sizes), s.attrs["dataset"], s.attrs["epsilon"]
    ({'depth': 2, 'kernel_size': 3, 'seed': 2}, 'toy', 1.0)
    >>> int(s.trained.sum()), int(s.beta_kappa_high.count())  # the toy curves still climb
    (0, 12)
    >>> int(kappa_summary(_toy_results(), trained_only=True).beta_kappa_high.count())
    0
    """
    trained_only = as_bool(trained_only, "trained_only")
    d = ds
    coords: dict[str, Any] = {}
    for dim in ("model", "dataset", "nonlinearity"):
        if dim in d.dims:
            if d.sizes[dim] != 1:
                raise ValueError(f"results have {d.sizes[dim]} values along {dim!r}; expected 1")
            coords[dim] = str(d[dim].values[0])
            d = d.isel({dim: 0}, drop=True)
    eps = float(d.epsilon.values[0]) if epsilon is None else float(epsilon)
    ok = d.failed == 0 if "failed" in d else xr.ones_like(d.beta_kappa_high, dtype=bool)
    trained = trained_by_rule(d) if "curve_val_accuracy" in d else None
    if trained_only:
        if trained is None:
            raise ValueError("trained_only=True is not allowed: these results have no learning curves "
                             "(curve_val_accuracy); use trained_only=False")
        ok = ok & trained
    out = xr.Dataset({"beta_kappa_high": d.beta_kappa_high.where(ok),
                      "delta_kappa_high": d.delta_kappa_high.sel(epsilon=eps).where(ok)})
    if trained is not None:
        out["trained"] = trained
    for var in ("test_accuracy", "lr", "n_lr_tries", "failed", "train_seconds", "attack_seconds"):
        if var in d:
            out[var] = d[var]
    out.attrs.update({"epsilon": eps, "dataset": str(coords.get("dataset", "")), "trained_only": int(trained_only),
                      "lr_rule": "select" if "lr_selected" in d else "retry",
                      "preset": str(ds.attrs.get("preset", "")),
                      "kappa_k": int(ds.attrs.get("kappa_k", 15)),
                      "image_size": int(ds.sizes.get("freq_row", 32))})
    return out.transpose("depth", "kernel_size", "seed")


def _rho(x: Any, y: Any) -> float:
    """Spearman rank correlation of the finite pairs (scipy); NaN for < 2 pairs or a constant."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    return float(spearmanr(x[ok], y[ok]).statistic)


def _falls(v: np.ndarray, ks: np.ndarray) -> tuple[float, bool, bool]:
    """(Spearman ρ with ks, falls = ρ < 0 and first > last, strictly monotone fall)."""
    rho = _rho(ks, v)
    falls = bool(np.isfinite(rho) and rho < 0 and v[0] > v[-1])
    return rho, falls, bool(np.all(np.diff(v) < 0))


def _num(x: float, fmt: str = "{:.3f}") -> str:
    """``fmt`` of ``x``, or ``n/a`` when it is not finite (e.g. no successful attack)."""
    return fmt.format(x) if np.isfinite(x) else "n/a"


def _kept_rates(values: np.ndarray) -> list[float]:
    return sorted({float(f"{x:.6g}") for x in np.asarray(values, dtype=float).ravel()
                   if np.isfinite(x)}, reverse=True)


@takes_results("ch03", "summary", requires=("depth", "kernel_size"), what="kappa_summary of the results")
def grid_table(summary: xr.Dataset, var: str,
               cell: Callable[[np.ndarray], str] | None = None) -> pd.DataFrame:
    """``var`` of :func:`kappa_summary` as a table: one row per depth, one column per kernel size.

    ``cell`` turns the values of the seeds of one grid point into text
    (default: their mean, 3 decimals; empty when no seed has a value).

    Examples
    --------
    >>> grid_table(kappa_summary(_toy_results()), "beta_kappa_high").iloc[0].tolist()
    ['L = 1', '0.810', '0.460', '0.110']
    """
    def mean3(v: np.ndarray) -> str:
        v = v[np.isfinite(v)]
        return f"{v.mean():.3f}" if v.size else ""

    cell = cell or mean3
    if not isinstance(var, str) or var not in summary.data_vars:
        raise ValueError(f"var={_short(var)} is not allowed; use a variable of the summary: "
                         f"{list(map(str, summary.data_vars))}")
    da = summary[var].transpose("depth", "kernel_size", "seed")
    rows = [[f"L = {int(L)}"] + [cell(np.asarray(da.sel(depth=L, kernel_size=k).values, float))
                                 for k in da.kernel_size.values] for L in da.depth.values]
    return pd.DataFrame(rows, columns=["depth"] + [f"k = {int(k)}" for k in da.kernel_size.values])


@takes_results("ch03", "summary", requires=("depth", "kernel_size"), what="kappa_summary of the results")
def lr_table(summary: xr.Dataset) -> pd.DataFrame:
    """Learning rate of the kept training attempt per depth and kernel size (all seeds).

    Several rates in one cell (``0.1/0.01``) mean the seeds kept different ones.

    Examples
    --------
    >>> lr_table(kappa_summary(_toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.01]])))
       depth k = 3 k = 11 k = 32
    0  L = 1   0.1   0.01   0.01
    1  L = 3   0.1    0.1   0.01
    """
    return grid_table(summary, "lr", lambda v: "/".join(f"{r:g}" for r in _kept_rates(v)))


def rule_table(summaries: Mapping[str, xr.Dataset]) -> pd.DataFrame:
    """Learning rates and accuracy of several learning-rate rules side by side.

    ``summaries`` maps a rule's name to its :func:`kappa_summary`; one row per
    (rule, depth), one column per kernel size: the kept rates of the seeds
    (as in :func:`lr_table`) and the seed-mean test accuracy.

    Examples
    --------
    >>> s = kappa_summary(_toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.01]]))
    >>> rule_table({"retry": s}).iloc[0].tolist()
    ['retry', 'L = 1', '0.1 · 20.5 %', '0.01 · 30.5 %', '0.01 · 40.5 %']
    """
    if not isinstance(summaries, Mapping) or not summaries:
        raise ValueError(f"summaries={_short(summaries)} is not allowed; use a non-empty dict of rule name -> "
                         "kappa_summary(results)")
    frames = []
    for rule, summary in summaries.items():
        if not isinstance(summary, xr.Dataset) or set(summary.dims) != {"depth", "kernel_size", "seed"}:
            raise ValueError(f"summaries[{rule!r}]={_short(summary)} is not allowed; use kappa_summary(results) "
                             "(dims depth, kernel_size, seed), not the results themselves")
        rates = lr_table(summary)
        acc = grid_table(summary, "test_accuracy",
                         lambda v: f"{100 * np.nanmean(v):.1f} %" if np.isfinite(v).any() else "")
        cells = rates.copy()
        for col in rates.columns[1:]:
            cells[col] = [f"{r} · {a}" for r, a in zip(rates[col], acc[col])]
        cells.insert(0, "rule", str(rule))
        frames.append(cells)
    return pd.concat(frames, ignore_index=True)


def _rate_depends_on_k(summary: xr.Dataset, depth: Any) -> bool:
    """Whether kernel sizes of ``depth`` kept different (sets of) learning rates."""
    return "lr" in summary and len({
        tuple(_kept_rates(summary.lr.sel(depth=depth, kernel_size=k).values))
        for k in summary.kernel_size.values}) > 1


@takes_results("ch03", "summary", requires=("depth", "kernel_size"), what="kappa_summary of the results")
def training_facts(summary: xr.Dataset) -> dict[str, Any]:
    """How the runs trained, as numbers for the prose.

    Keys: ``n_runs``, ``n_failed``, ``n_retried`` (needed more than one attempt),
    ``n_trained`` (runs that meet the training rule; -1 without learning curves),
    ``rates`` (kept learning rates, largest first), ``n_rates``,
    ``rate_depends_on_k`` (some depth keeps different rates for different kernel
    sizes), ``acc_min``/``acc_mean``/``acc_max`` (test accuracy over runs),
    ``rho_acc_kappa`` (Spearman ρ of test accuracy and κ_high(β̂) over runs),
    ``flat_kappa`` (:func:`flat_kappa_high`), ``train_minutes``, ``attack_minutes``,
    and the summary's attrs (``preset``, ``dataset``, ``epsilon``, ``kappa_k``).

    Examples
    --------
    >>> f = training_facts(kappa_summary(_toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.01]])))
    >>> f["n_runs"], f["rates"], f["rate_depends_on_k"], round(f["rho_acc_kappa"], 2)
    (12, [0.1, 0.01], True, -0.86)
    """
    acc = np.asarray(summary.test_accuracy.values, dtype=float)
    done = np.isfinite(acc)
    rates = _kept_rates(summary.lr.values) if "lr" in summary else []
    depends = any(_rate_depends_on_k(summary, L) for L in summary.depth.values)

    def total(var: str) -> int:
        return int(np.nansum(np.asarray(summary[var].values, float) > 1 if var == "n_lr_tries"
                             else summary[var].values)) if var in summary else 0

    def minutes(var: str) -> float:
        return float(np.nansum(summary[var].values)) / 60 if var in summary else math.nan

    return {
        **summary.attrs,
        "n_runs": int(done.sum()), "n_failed": total("failed"), "n_retried": total("n_lr_tries"),
        "n_trained": int(summary.trained.where(done).sum()) if "trained" in summary else -1,
        "rates": rates, "n_rates": len(rates), "rate_depends_on_k": bool(depends),
        "acc_min": float(np.nanmin(acc)) if done.any() else math.nan,
        "acc_mean": float(np.nanmean(acc)) if done.any() else math.nan,
        "acc_max": float(np.nanmax(acc)) if done.any() else math.nan,
        "rho_acc_kappa": (_rho(acc, summary.beta_kappa_high.values)
                          if done.sum() >= MIN_CORRELATION_RUNS else math.nan),
        "flat_kappa": flat_kappa_high(int(summary.attrs.get("image_size", 32)),
                                      int(summary.attrs.get("kappa_k", 15))),
        "train_minutes": minutes("train_seconds"), "attack_minutes": minutes("attack_seconds"),
    }


@takes_results("ch03", "summary", requires=("depth", "kernel_size"), what="kappa_summary of the results")
def same_rate_trends(summary: xr.Dataset) -> pd.DataFrame:
    """κ_high vs kernel size among the kernel sizes that kept one learning rate (per depth).

    Per depth, the largest set of kernel sizes whose seeds all kept the same
    rate (at least two sizes): the rate, the sizes, their seed-mean accuracy
    range, κ_high(β̂) and κ_high(δ̂) at the smallest and largest size with
    Spearman ρ against k, and whether both fall (ρ < 0, first > last). Empty
    without an ``lr`` variable.

    Examples
    --------
    >>> t = same_rate_trends(kappa_summary(_toy_results(lr=[[0.1, 0.01, 0.01], [0.1, 0.1, 0.1]])))
    >>> t[["depth", "lr", "kernel sizes", "falls"]].values.tolist()
    [[1, 0.01, '11, 32', 'yes'], [3, 0.1, '3, 11, 32', 'yes']]
    """
    columns = ["depth", "lr", "kernel sizes", "test accuracy", "κ_high(β̂)", "ρ(β̂, k)",
               "κ_high(δ̂)", "ρ(δ̂, k)", "falls"]
    rows: list[list[Any]] = []
    if "lr" not in summary:
        return pd.DataFrame(rows, columns=columns)
    means = summary.mean("seed")
    for L in summary.depth.values:
        groups: dict[float, list[int]] = {}
        for k in summary.kernel_size.values:
            kept = _kept_rates(summary.lr.sel(depth=L, kernel_size=k).values)
            if len(kept) == 1:
                groups.setdefault(kept[0], []).append(int(k))
        if not groups:
            continue
        rate, ks = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
        if len(ks) < 2:
            continue
        g = means.sel(depth=L, kernel_size=ks)
        acc = np.asarray(g.test_accuracy.values, float)
        kb, kd = (np.asarray(g[v].values, float) for v in ("beta_kappa_high", "delta_kappa_high"))
        (rb, fb, _), (rd, fd, _) = _falls(kb, np.array(ks)), _falls(kd, np.array(ks))
        rows.append([int(L), rate, ", ".join(map(str, ks)),
                     f"{100 * np.nanmin(acc):.1f}–{100 * np.nanmax(acc):.1f} %",
                     f"{_num(kb[0])} → {_num(kb[-1])}", rb, f"{_num(kd[0])} → {_num(kd[-1])}", rd,
                     "yes" if fb and fd else "no"])
    return pd.DataFrame(rows, columns=columns)


PAPER_SOURCE = "Caro et al. 2024, fig. 4"


def _holds(h: bool | None) -> str:
    return "n/a" if h is None else "yes" if h else "no"


@takes_results("ch03")
def claims_table(ds: xr.Dataset, epsilon: float | None = None,
                 theory: xr.Dataset | None = None, *, trained_only: bool = False) -> pd.DataFrame:
    """Claim-vs-measurement rows (claim | measured | holds | source) from the combined results.

    Claims of Caro et al. (2024), figure 4 (seed means; failed runs left out and, with
    ``trained_only``, the runs that do not meet the training rule, :func:`kappa_summary`):

    1. κ_high(β̂) falls as the kernel grows, at every depth: Spearman
       correlation with kernel size < 0 and κ(smallest k) > κ(largest k)
       (index ``falls-beta-L<depth>``; the measured text says whether the fall is monotone,
       in how many seeds it holds on their own, and the range of the seed-mean test
       accuracy over kernel sizes);
    2. the same for κ_high(δ̂) (``falls-delta-L<depth>``);
    3. κ_high is higher at the largest depth than at the smallest (mean over the kernel
       sizes measured at both), for β̂ and for δ̂ (``depth-beta``, ``depth-delta``; only
       when two depths ran).

    At each depth where the kept learning rate differs between kernel sizes, a
    control row repeats claims 1-2 among the sizes trained at one rate
    (``control-L<depth>``, :func:`same_rate_trends`; at least three sizes).
    With ``theory`` (:func:`theory_curves`) the rows of :func:`theory_claims` follow.
    ``holds`` is ``yes``, ``no`` or ``n/a`` (a needed value is missing: no
    successful attack, or every seed failed, at an end of the kernel-size range).

    Examples
    --------
    >>> claims_table(_toy_results()).holds.tolist()
    ['yes', 'yes', 'yes', 'yes', 'yes', 'yes']
    >>> claims_table(_toy_results()).index[-1]
    'depth-delta'
    """
    s = kappa_summary(ds, epsilon, trained_only=trained_only)
    m = s.mean("seed")
    # accuracy of the runs that count, per depth: how comparable the kernel sizes' models are
    acc = (s.test_accuracy.where(s.beta_kappa_high.notnull()).mean("seed") if "test_accuracy" in s
           else None)
    ks = np.asarray(m.kernel_size.values, dtype=float)
    depths = [int(v) for v in m.depth.values]
    rows: list[tuple[str, str, str, bool | None, str]] = []
    for var, tag, label in (("beta_kappa_high", "beta", "β̂"), ("delta_kappa_high", "delta", "δ̂")):
        for L in depths:
            v = np.asarray(m[var].sel(depth=L).values, dtype=float)
            rho, falls, mono = _falls(v, ks)
            a = np.asarray(acc.sel(depth=L).values, float) if acc is not None else np.array([np.nan])
            spread = (f"; accuracy {100 * np.nanmin(a):.1f}–{100 * np.nanmax(a):.1f} % over k"
                      if np.isfinite(a).any() else "")
            seeds = [np.asarray(s[var].sel(depth=L, seed=q).values, float) for q in s.seed.values]
            seeds = [w for w in seeds if np.isfinite(w[[0, -1]]).all()]
            n_fall = sum(_falls(w, ks)[1] for w in seeds)
            rows.append((f"falls-{tag}-L{L}", (f"κ_high(15) of {label} falls with kernel size "
                         f"(depth {L})"),
                         f"k={int(ks[0])}: {_num(v[0])} → k={int(ks[-1])}: {_num(v[-1])}; "
                         f"Spearman ρ = {_num(rho, '{:+.2f}')}; "
                         + ("monotone" if mono else "not monotone") + f"; falls in {n_fall} of {len(seeds)} seeds"
                         + spread,
                         falls if np.isfinite([v[0], v[-1]]).all() else None, PAPER_SOURCE))
    if len(depths) >= 2:
        lo, hi = min(depths), max(depths)
        for var, tag, label in (("beta_kappa_high", "beta", "β̂"), ("delta_kappa_high", "delta", "δ̂")):
            both = m[var].sel(depth=lo).notnull() & m[var].sel(depth=hi).notnull()
            a, b = (float(m[var].sel(depth=L).where(both).mean()) for L in (lo, hi))
            rows.append((f"depth-{tag}", (f"κ_high(15) of {label} higher at depth {hi} than at "
                         f"depth {lo} (mean over kernel sizes)"),
                         f"depth {lo}: {_num(a)}, depth {hi}: {_num(b)}",
                         b > a if np.isfinite([a, b]).all() else None, PAPER_SOURCE))
    for r in same_rate_trends(s).itertuples(index=False):
        if _rate_depends_on_k(s, r[0]) and len(r[2].split(",")) >= 3:
            rows.append((f"control-L{r[0]}", (f"… among kernel sizes trained at one rate "
                         f"(depth {r[0]}, lr {r[1]:g}: k = {r[2]})"),
                         (f"β̂ {r[4]}, ρ = {r[5]:+.2f}; δ̂ {r[6]}, ρ = {r[7]:+.2f}; "
                         f"accuracy {r[3]}"), r[8] == "yes", "control (this chapter)"))
    df = pd.DataFrame([{"claim": c, "measured": t, "holds": _holds(h), "source": src}
                       for _, c, t, h, src in rows], index=[r[0] for r in rows])
    if theory is not None:
        df = pd.concat([df, theory_claims(theory)])
    return df


@takes_results("ch03", "theory", requires=("box", "bound"), what="theory_curves(...)")
def theory_claims(theory: xr.Dataset) -> pd.DataFrame:
    """The claims' trends in the linear theory (:func:`theory_curves`; box kernel).

    Rows ``theory-falls`` (box κ_high falls with kernel size at every depth) and
    ``theory-depth`` (higher at the largest depth, mean over kernel sizes).

    Examples
    --------
    >>> theory_claims(theory_curves([3, 15, 32], [1, 3], draws=8)).holds.tolist()
    ['yes', 'no']
    """
    box = theory.box
    rows = [("theory-falls", "theory (box kernel): κ_high(15) falls with kernel size",
             "; ".join(f"L={int(L)}: {float(box.sel(depth=L)[0]):.3f} → "
                       f"{float(box.sel(depth=L)[-1]):.3f}" for L in box.depth.values),
             bool((box.diff("kernel_size") <= 1e-12).all()))]
    if box.sizes["depth"] > 1:
        lo, hi = int(box.depth.min()), int(box.depth.max())
        a, b = float(box.sel(depth=lo).mean()), float(box.sel(depth=hi).mean())
        rows.append(("theory-depth", (f"theory (box kernel): κ_high(15) higher at depth {hi} "
                     f"than {lo}"), f"mean over k: depth {lo} {a:.3f}, depth {hi} {b:.3f}", b > a))
    return pd.DataFrame([{"claim": c, "measured": t, "holds": _holds(h),
                          "source": "linear theory"} for _, c, t, h in rows],
                        index=[r[0] for r in rows])


@takes_results("ch03", "theory", requires=("box", "bound"), what="theory_curves(...)")
def theory_notes(theory: xr.Dataset, *, zero: float = 1e-3) -> dict[str, str]:
    """Sentences and numbers about the linear-theory curves for the chapter's prose.

    Keys: ``box`` (κ_high of the depth-1 box at the smallest and largest kernel
    size), ``box_depth`` (the largest depth's box stack vs depth 1, when two
    depths ran), ``bound`` (kernel sizes at which the uncertainty bound is below
    ``zero``) and ``flat`` (the random-kernel mean, averaged over the grid).

    Examples
    --------
    >>> notes = theory_notes(theory_curves([3, 7, 32], [1, 3], draws=8))
    >>> notes["box"]
    'κ_high(15) = 0.167 at k = 3 and 0.000 at k = 32'
    >>> notes["bound"][:72]
    'The uncertainty bound is below 0.001 for every kernel size from k = 7 on'
    """
    box, bound = theory.box, theory.bound
    ks = [int(k) for k in theory.kernel_size.values]
    kk = theory.attrs.get("kappa_k", 15)
    one = box.sel(depth=int(box.depth.min()))
    notes = {"box": f"κ_high({kk}) = {float(one[0]):.3f} at k = {ks[0]} and "
                    f"{float(one[-1]):.3f} at k = {ks[-1]}",
             "flat": f"{float(theory.random_mean.mean()):.2f}"}
    if box.sizes["depth"] > 1:
        lo, hi = int(box.depth.min()), int(box.depth.max())
        a, b = float(box.sel(depth=lo).mean()), float(box.sel(depth=hi).mean())
        notes["box_depth"] = (
            f"A stack of {hi} identical boxes is {'more' if b < a else 'less'} low-pass than one "
            f"box (mean κ_high over k: {b:.3f} at depth {hi}, {a:.3f} at depth {lo})"
            + (": convolving smoothing kernels smooths further." if b < a else "."))
    else:
        notes["box_depth"] = "Only one depth ran, so the theory's depth trend is not shown."
    small = [k for k, v in zip(ks, bound.max("depth").values) if v < zero]
    if not small:
        notes["bound"] = (f"The uncertainty bound is above {zero:g} at every kernel size shown: "
                          "every kernel of these sizes must keep some energy outside the band.")
    else:
        where = (f"for every kernel size from k = {small[0]} on"
                 if small == ks[ks.index(small[0]):] else f"at k = {', '.join(map(str, small))}")
        notes["bound"] = (f"The uncertainty bound is below {zero:g} {where}: for kernels of "
                          "those sizes the principle alone does not force a high-frequency "
                          "predictor at this band; a bias there has to come from training.")
    return notes


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def verdict(claims: pd.DataFrame, facts: dict[str, Any]) -> str:
    """The chapter's verdict as Markdown, generated from :func:`claims_table` and :func:`training_facts`.

    Reproduced / partly / not reproduced from the paper's rows; then each
    claim, the learning-rate confound (and its control rows), whether the
    networks learned (mean test accuracy below :data:`TRAINED_ACCURACY`: barely
    trained), and the link between accuracy and κ_high(β̂) (``|ρ| >= 0.5``: κ
    tracks training as much as the kernel size; only with at least
    :data:`MIN_CORRELATION_RUNS` runs).

    Examples
    --------
    >>> ds = _toy_results()
    >>> text = verdict(claims_table(ds), training_facts(kappa_summary(ds)))
    >>> text.startswith("**Verdict: reproduced at this preset")
    True
    """
    if not isinstance(claims, pd.DataFrame) or not {"source", "holds"} <= set(claims.columns):
        raise ValueError(f"claims={_short(claims)} is not allowed; use the table of claims_table(ds)")
    if not isinstance(facts, dict):
        raise ValueError(f"facts={_short(facts)} is not allowed; use the dict of training_facts(summary)")
    paper = claims[claims.source == PAPER_SOURCE]
    judged = paper[paper.holds != "n/a"]
    holds = judged.holds == "yes"
    head = ("undetermined" if not len(judged) else "reproduced" if holds.all()
            else "not reproduced" if not holds.any() else "partly reproduced")
    n_na = len(paper) - len(judged)
    out = [f"**Verdict: {head} at this preset** ({int(holds.sum())} of {len(judged)} claim rows "
           "hold" + (f", {n_na} cannot be judged" if n_na else "")
           + f"; preset `{facts.get('preset', '?')}`, {facts.get('dataset', '?')})."]
    if facts.get("preset") == "smoke":
        out.append("The smoke preset is a pipeline check (one epoch, two kernel sizes): "
                   "its numbers are not evidence either way.")
    for tag, label in (("beta", "β̂"), ("delta", "δ̂")):
        rows = paper[paper.index.str.startswith(f"falls-{tag}-")]
        yes, no, na = ([f"depth {i.rsplit('L', 1)[1]}" + (
            " (not monotonically)" if value == "yes" and "not monotone" in r.measured else "")
            for i, r in rows.iterrows() if r.holds == value] for value in ("yes", "no", "n/a"))
        clauses = ([f"falls with kernel size at {_join(yes)}"] if yes else []) \
            + ([("not at " if yes else "does not fall with kernel size at ") + _join(no)]
               if no else []) \
            + ([(f"cannot be judged at {_join(na)} (a value is missing, e.g. no successful "
                "attack at some kernel size)")] if na else [])
        out.append(f"κ_high of {label} " + "; ".join(clauses) + ".")
    deeper = judged[judged.index.str.startswith("depth-")]
    if len(deeper):
        ok = deeper.holds == "yes"
        names = {"depth-beta": "β̂", "depth-delta": "δ̂"}
        up, down = ([names[i] for i in ok[sel].index] for sel in (ok, ~ok))
        which = ((f"for {_join(up)}" + (f" but not for {_join(down)}" if down else "")) if up
                 else f"for neither {' nor '.join(down)}" if len(down) == 2 else f"not for {down[0]}")
        theory_agrees = (not ok.any() and "theory-depth" in claims.index
                         and claims.loc["theory-depth", "holds"] == "no")
        out.append(f"κ_high is higher at the larger depth {which}" + (
            ", as the linear theory predicts: a stack of identical smoothing kernels is more "
            "low-pass than one kernel." if theory_agrees else "."))
    if facts.get("rate_depends_on_k"):
        control = claims[claims.index.str.startswith("control-")]
        rates = "/".join(f"{r:g}" for r in facts["rates"])
        text = (f"Under per-run selection the chosen learning rate ({rates}) still depends on the kernel "
                "size (the validation split prefers other rates for other kernels), so a trend in k is "
                "partly a trend in the learning rate." if facts.get("lr_rule") == "select" else
                f"Under the retry rule the kept learning rate ({rates}) depends on the kernel "
                "size, so a trend in k is partly a trend in the learning rate.")
        if len(control):
            ok = control.holds == "yes"
            at = [f"depth {i.rsplit('L', 1)[1]}" for i in control.index]
            text += (" Among the kernel sizes trained at one rate κ_high "
                     + ("falls with k for both β̂ and δ̂" if ok.all() else
                        "does not fall with k for β̂ or for δ̂" if not ok.any() else
                        "falls with k at " + _join([d for d, o in zip(at, ok) if o]) + " only")
                     + f" (control rows: {_join(at)}).")
        else:
            text += (" No depth whose rate depends on k has three or more kernel sizes trained "
                     "at one rate, so the confound cannot be controlled here (the `fixed_lr` "
                     "parameter trains every run at one rate).")
        out.append(text)
    elif facts.get("n_rates") == 1:
        out.append(f"Every run kept the same learning rate ({facts['rates'][0]:g}), so the "
                   "trend in k is not a trend in the learning rate.")
    acc = facts.get("acc_mean", math.nan)
    if np.isfinite(acc) and acc < TRAINED_ACCURACY:
        out.append(f"The networks are barely trained (mean test accuracy {100 * acc:.1f} %, "
                   f"chance 10 %): κ_high then also describes the initialisation (a random "
                   f"kernel stack is spectrally flat, κ_high ≈ {facts['flat_kappa']:.2f}), so the "
                   "rows are weak evidence either way.")
    rho = facts.get("rho_acc_kappa", math.nan)
    if np.isfinite(rho) and facts.get("n_runs", 0) >= MIN_CORRELATION_RUNS:
        out.append(f"Across runs κ_high(β̂) {'falls' if rho < 0 else 'rises'} with test accuracy "
                   f"(Spearman ρ = {rho:+.2f})" + (
                       ": in these linear networks κ_high tracks how far training moved β at "
                       "least as much as the kernel size." if abs(rho) >= 0.5 else
                       ", but only weakly."))
    if facts.get("preset") != "paper":
        out.append("A fair test needs the `paper` preset (full data, 40 epochs, 5 models per "
                   "point).")
    return " ".join(out)


def _toy_results(kb: Any = None, kd: Any = None, *, kernel_sizes: Sequence[int] = (3, 11, 32),
                 depths: Sequence[int] = (1, 3), lr: Any = None) -> xr.Dataset:
    """A small synthetic chapter-3 result (2 seeds) for examples and tests.

    ``kb``/``kd``: κ_high of β̂/δ̂ with shape (depth, kernel_size, seed) (default:
    falling with k and higher at depth 3; δ̂ = 0.9 β̂); ``lr``: kept rate per
    (depth, kernel_size) (default 0.1). Test accuracy rises with k, so it
    anti-correlates with κ; learning curves on 2 epochs.
    """
    ks, ls = [int(k) for k in kernel_sizes], [int(d) for d in depths]
    if kb is None:
        base = np.linspace(0.8, 0.1, len(ks))[None, :, None] + 0.02 * np.arange(2)[None, None, :]
        kb = base + 0.1 * np.arange(len(ls))[:, None, None]
    kb = np.asarray(kb, dtype=float)
    kd = 0.9 * kb if kd is None else np.asarray(kd, dtype=float)
    shape = kb.shape
    rate = np.broadcast_to(np.asarray(0.1 if lr is None else lr, float)[..., None], shape)
    acc = np.broadcast_to(0.2 + 0.1 * np.arange(shape[1])[None, :, None]
                          + 0.01 * np.arange(shape[2]), shape)
    dims = ("depth", "kernel_size", "seed")
    curve = np.stack([acc / 2, acc], axis=-1)
    return xr.Dataset(
        {
            "beta_kappa_high": (dims, kb),
            "delta_kappa_high": ((*dims, "epsilon"), kd[..., None]),
            "test_accuracy": (dims, acc),
            "lr": (dims, rate.copy()),
            "n_lr_tries": (dims, np.where(rate < 0.1, 3, 1)),
            "failed": (dims, np.zeros(shape, dtype=int)),
            "train_seconds": (dims, np.full(shape, 30.0)),
            "attack_seconds": (dims, np.full(shape, 3.0)),
            "curve_train_loss": ((*dims, "epoch"), 2.3 - 2 * curve),
            "curve_train_accuracy": ((*dims, "epoch"), curve),
            "curve_val_accuracy": ((*dims, "epoch"), 0.9 * curve),
        },
        coords={"depth": ls, "kernel_size": ks, "seed": [0, 1][:shape[2]], "epsilon": [1.0],
                "epoch": [1, 2]},
        attrs={"preset": "toy", "kappa_k": 15},
    ).expand_dims(model=["lkc"], dataset=["toy"], nonlinearity=["linear"])


CHAPTER = register(Chapter(
    name="ch03", title="Bigger kernels, lower frequencies: κ_high vs kernel size",
    notebook="notebooks/03_kernel_size_kappa.ipynb", presets=PRESETS, configs=configs,
    run_one=run_model_experiment, check_data=check_first_available,
    overrides=("datasets", "fixed_lr", "lr_rule"), book_grids=({}, {"lr_rule": "retry"}),
    summarise=kappa_summary, claims=claims_table,
))
#: :meth:`freqkit.experiments.scaffold.Chapter.run` of this chapter (overrides ``datasets``,
#: ``fixed_lr``, ``lr_rule``: see :func:`configs`).
run = CHAPTER.run
#: :meth:`freqkit.experiments.scaffold.Chapter.get_preset` of this chapter.
get_preset = CHAPTER.get_preset
