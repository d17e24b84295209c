"""Chapter 3: κ_high falls as the kernel grows (figure 4 of Caro et al. 2024).

Caro et al. (2024) explain the high-frequency bias of local convolutions with
the Fourier uncertainty principle: a kernel confined to ``k × k`` pixels cannot
also be confined to few frequencies, so the smaller the kernel, the more energy
its spectrum -- and the end-to-end predictor β and adversarial perturbations δ
of a network built from it -- must put at high frequencies. Their figure 4
shows κ_high(15) (energy fraction outside DFT indices ``|m| <= 7``) of β̂ and of
δ̂ falling with the kernel size of one- and three-hidden-layer LKC networks on
grayscale images, and higher at depth 3.

This module holds the expensive sweep (:data:`PRESETS`, :func:`configs`,
:func:`run`, reusing :func:`freqkit.experiments.common.run_model_experiment`),
the linear-theory curves (:func:`theory_curves`) and the claim check
(:func:`claims_table`). The notebook ``notebooks/03_kernel_size_kappa.ipynb``
only calls :func:`run` and plots.

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

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
import numpy as np
import xarray as xr

from freqkit.experiments.common import RunConfig
from freqkit.train import TrainConfig

__all__ = [
    "CHAPTER",
    "PRESETS",
    "Preset",
    "box_kappa_high",
    "choose_dataset",
    "claims_table",
    "configs",
    "get_preset",
    "kappa_summary",
    "random_kernel_kappa_high",
    "results_dir_for",
    "run",
    "theory_curves",
    "uncertainty_kappa_bound",
]

CHAPTER = "ch03"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Kernel sizes of the paper's figure 4.
PAPER_KERNEL_SIZES: tuple[int, ...] = (3, 7, 9, 11, 15, 21, 32)


@dataclass(frozen=True)
class Preset:
    """Size of the chapter-3 sweep (grid = kernel sizes × depths × seeds, LKC only).

    ``datasets`` lists dataset names in order of preference; :func:`run` uses
    the first one that loads here. Images smaller than ``image_size`` are
    zero-padded (centred) to ``image_size``.
    """

    name: str
    datasets: tuple[str, ...]
    kernel_sizes: tuple[int, ...]
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    channels: int
    n_train: int | None
    n_val: int | None
    n_test: int | None
    train: TrainConfig
    n_attack: int
    epsilons: tuple[float, ...]
    nonlinearity: str = "linear"
    attack: str = "pgd-l2"
    kappa_k: int = 15
    image_size: int = 32
    n_beta: int = 512
    #: ε at which δ̂ is compared (one of ``epsilons``).
    epsilon_main: float = 1.0
    notes: str = field(default="", compare=False)


#: The chapter's presets by name: ``smoke`` (CI), ``cpu`` (a reduced reproduction on a 2-core CPU), ``paper`` (the paper's scale).
#:
#: :meta hide-value:
PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", datasets=("cifar10", "fashion-mnist"), kernel_sizes=(3, 32),
        depths=(1,), seeds=(0,), channels=2, n_train=512, n_val=128, n_test=128,
        train=TrainConfig(epochs=1, batch_size=64, chance_patience=0, max_retries=0),
        n_attack=8, epsilons=(1.0,), n_beta=64,
        notes="pipeline check only: two kernel sizes, depth 1, 512 images, 1 epoch",
    ),
    "cpu": Preset(
        name="cpu", datasets=("cifar10", "fashion-mnist"), kernel_sizes=PAPER_KERNEL_SIZES,
        depths=(1, 3), seeds=(0, 1), channels=4, n_train=5_000, n_val=1_000, n_test=1_000,
        train=TrainConfig(epochs=5, batch_size=128), n_attack=50, epsilons=(1.0,),
        notes="reduced reproduction on 2 CPU cores: 4 channels, 5k images, 5 epochs, 2 seeds, "
              "50 attacked images",
    ),
    "paper": Preset(
        name="paper", datasets=("cifar10", "fashion-mnist"), kernel_sizes=PAPER_KERNEL_SIZES,
        depths=(1, 3), seeds=(0, 1, 2, 3, 4), channels=16, n_train=None, n_val=5_000,
        n_test=None, train=TrainConfig(epochs=40, batch_size=128), n_attack=1_000,
        epsilons=(0.5, 1.0, 2.0),
        notes="paper scale: full training sets, 40 epochs, 5 models per point (GPU advised)",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the allowed names otherwise.

    Examples
    --------
    >>> get_preset("cpu").kernel_sizes
    (3, 7, 9, 11, 15, 21, 32)
    >>> get_preset("huge")
    Traceback (most recent call last):
    ...
    ValueError: preset='huge' is not allowed; use one of ['smoke', 'cpu', 'paper']
    """
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is not allowed; use one of {list(PRESETS)}")
    return PRESETS[name]


def configs(preset: str | Preset, dataset: str | None = None) -> list[RunConfig]:
    """The chapter's grid (pure): one LKC :class:`RunConfig` per (kernel size, depth, seed).

    ``dataset`` overrides the preset's first-choice dataset; datasets whose
    registered images are smaller than ``image_size`` get ``pad_to=image_size``.

    Examples
    --------
    >>> cs = configs("cpu")
    >>> len(cs), sorted({c.kernel_size for c in cs}), sorted({c.depth for c in cs})
    (28, [3, 7, 9, 11, 15, 21, 32], [1, 3])
    >>> {(c.grayscale, c.pad_to) for c in configs("cpu", dataset="fashion-mnist")}
    {(True, 32)}
    >>> {c.pad_to for c in configs("cpu", dataset="cifar10")}
    {None}
    """
    from freqkit.data import DATASETS

    p = get_preset(preset) if isinstance(preset, str) else preset
    name = p.datasets[0] if dataset is None else dataset
    size = int(DATASETS.get(name).image_shape[-1])
    if size > p.image_size:
        raise ValueError(f"dataset={name!r} has {size}-pixel images, larger than "
                         f"image_size={p.image_size}; use a dataset with images <= {p.image_size}")
    pad_to = None if size == p.image_size else p.image_size
    return [
        RunConfig(
            dataset=name, grayscale=True, n_train=p.n_train, n_val=p.n_val, n_test=p.n_test,
            data_seed=0, model="lkc", depth=depth, nonlinearity=p.nonlinearity,
            channels=p.channels, kernel_size=k, seed=seed, train=p.train, attack=p.attack,
            epsilons=p.epsilons, n_attack=p.n_attack, kappa_k=p.kappa_k, pad_to=pad_to,
            n_beta=p.n_beta,
        )
        for depth in p.depths for k in p.kernel_sizes for seed in p.seeds
    ]


def choose_dataset(names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The first dataset of ``names`` that loads here (grayscale), and why earlier ones did not."""
    from freqkit.experiments.common import available_datasets

    missing: dict[str, str] = {}
    for name in names:
        ok, miss = available_datasets([name], grayscale=True)
        if ok:
            return name, missing
        missing.update(miss)
    raise ValueError(f"none of the datasets {names} is available: {missing}")


def results_dir_for(preset: str, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir`` or ``$FREQKIT_RESULTS/ch03/<preset>`` or ``<repo>/results/ch03/<preset>``."""
    if results_dir is not None:
        return Path(results_dir)
    base = Path(os.environ.get("FREQKIT_RESULTS", REPO_ROOT / "results"))
    return base / CHAPTER / preset


def run(preset: str = "smoke", results_dir: str | os.PathLike[str] | None = None, *,
        datasets: tuple[str, ...] | list[str] | str | None = None,
        fixed_lr: float | None = None, progress: bool = True) -> xr.Dataset:
    """Run (or resume) the chapter's sweep and return the combined results.

    Parameters
    ----------
    preset : str
        ``"smoke"``, ``"cpu"`` or ``"paper"`` (:data:`PRESETS`).
    results_dir : path-like, optional
        Where the run files go (default :func:`results_dir_for`).
    datasets : str or sequence of str, optional
        Datasets in order of preference, overriding the preset's (e.g.
        ``("fashion-mnist",)`` to measure on Fashion-MNIST although CIFAR-10 is
        present); the first that loads here is used.
    fixed_lr : float, optional
        Train every run at this learning rate, without the retry rule
        (``max_retries=0``; a run that fails is flagged ``failed``). The paper's rule
        (0.1, then ×10, ÷10, ÷50) can keep different rates for different kernel
        sizes, which confounds the trend in k; a fixed rate removes that.
    progress : bool
        Show a tqdm bar over the runs.

    Returns
    -------
    xarray.Dataset
        The runs of this preset and dataset only (other files in ``results_dir``,
        e.g. of another dataset, are left alone and not combined).
    """
    from freqkit import sweep
    from freqkit.data import DATASETS
    from freqkit.experiments.common import run_model_experiment

    p = get_preset(preset)
    if datasets is not None:
        names = (datasets,) if isinstance(datasets, str) else tuple(datasets)
        unknown = [d for d in names if d not in DATASETS.names()]
        if not names or unknown:
            raise ValueError(f"datasets={datasets!r} is not allowed; use a non-empty sequence of "
                             f"{DATASETS.names()}")
        p = replace(p, datasets=names)
    if fixed_lr is not None:
        if isinstance(fixed_lr, bool) or not isinstance(fixed_lr, (int, float)) or not (
                0 < float(fixed_lr) < float("inf")):
            raise ValueError(f"fixed_lr={fixed_lr!r} is not allowed; use a positive finite float "
                             "or None (the preset's rate with the retry rule)")
        p = replace(p, train=replace(p.train, lr=float(fixed_lr), max_retries=0))
    dataset, missing = choose_dataset(p.datasets)
    for name, reason in missing.items():
        print(f"NOTE: dataset {name!r} unavailable ({reason}); using {dataset!r}")
    out = results_dir_for(preset, results_dir)
    paths = sweep.run_sweep(configs(p, dataset), run_model_experiment, out, progress=progress)
    ds = sweep.combine_runs(paths)
    ds.attrs["skipped_datasets"] = "; ".join(f"{k}: {v}" for k, v in missing.items())
    ds.attrs["preset"] = preset
    return ds


# --------------------------------------------------------------------------- linear theory (pure)
def _band_half_width(kappa_k: int, n: int) -> int:
    if isinstance(kappa_k, bool) or not isinstance(kappa_k, int) or not 1 <= kappa_k <= n:
        raise ValueError(f"kappa_k={kappa_k!r} is not allowed; use an int 1 <= kappa_k <= n={n}")
    return kappa_k // 2


def _check_kernel(k: int, n: int, name: str = "k") -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is not allowed; use a positive int")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
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
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
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
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise ValueError(f"draws={draws!r} is not allowed; use an int >= 2")
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
    ks = [int(k) for k in kernel_sizes]
    ls = [int(d) for d in depths]
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
def kappa_summary(ds: xr.Dataset, epsilon: float | None = None) -> xr.Dataset:
    """κ_high of β̂ and δ̂ (at ``epsilon``; the first ε if None) with dims (depth, kernel_size, seed).

    Selects the single model/dataset/nonlinearity of the chapter's sweep. Also
    carries ``test_accuracy`` and, when the runs stored it, ``lr``: the learning
    rate of the attempt that was kept (the retry rule can differ per kernel size,
    which confounds a trend in k).
    """
    d = ds
    for dim in ("model", "dataset", "nonlinearity"):
        if dim in d.dims:
            if d.sizes[dim] != 1:
                raise ValueError(f"results have {d.sizes[dim]} values along {dim!r}; expected 1")
            d = d.isel({dim: 0}, drop=True)
    eps = float(d.epsilon.values[0]) if epsilon is None else float(epsilon)
    out = xr.Dataset({
        "beta_kappa_high": d.beta_kappa_high,
        "delta_kappa_high": d.delta_kappa_high.sel(epsilon=eps),
        "test_accuracy": d.test_accuracy,
    }, attrs={"epsilon": eps})
    if "lr" in d:  # the learning rate of the kept attempt (the retry rule may change it per run)
        out["lr"] = d.lr
    return out


def _trend(values: np.ndarray, x: np.ndarray) -> float:
    """Spearman rank correlation of ``values`` with ``x`` (NaNs dropped; NaN if < 2 points)."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return float("nan")
    rv = np.argsort(np.argsort(values[ok])).astype(float)
    rx = np.argsort(np.argsort(x[ok])).astype(float)
    if rv.std() == 0 or rx.std() == 0:
        return 0.0
    return float(np.corrcoef(rv, rx)[0, 1])


def claims_table(ds: xr.Dataset, epsilon: float | None = None) -> list[dict[str, str]]:
    """Claim-vs-measurement rows (claim | measured | holds) from the combined results.

    Claims of Caro et al. (2024), figure 4 (seed means):

    1. κ_high(β̂) falls as the kernel grows, at every depth: Spearman
       correlation with kernel size < 0 and κ(smallest k) > κ(largest k);
    2. the same for κ_high(δ̂);
    3. κ_high is higher at the largest depth than at depth 1 (mean over kernel
       sizes), for β̂ and for δ̂ (only when two depths ran).

    Examples
    --------
    >>> kb = np.array([[[0.8], [0.6], [0.2]], [[0.9], [0.8], [0.3]]])   # (depth, k, seed)
    >>> ds = xr.Dataset({"beta_kappa_high": (("depth", "kernel_size", "seed"), kb),
    ...                  "delta_kappa_high": (("depth", "kernel_size", "seed", "epsilon"), kb[..., None]),
    ...                  "test_accuracy": (("depth", "kernel_size", "seed"), np.full(kb.shape, 0.3))},
    ...                 coords={"depth": [1, 3], "kernel_size": [3, 15, 32], "seed": [0], "epsilon": [1.0]})
    >>> [r["holds"] for r in claims_table(ds)]
    ['yes', 'yes', 'yes', 'yes', 'yes', 'yes']
    """
    s = kappa_summary(ds, epsilon).mean("seed")
    ks = np.asarray(s.kernel_size.values, dtype=float)
    depths = [int(v) for v in s.depth.values]
    rows: list[dict[str, str]] = []
    for var, label in (("beta_kappa_high", "β̂"), ("delta_kappa_high", "δ̂")):
        for L in depths:
            v = np.asarray(s[var].sel(depth=L).values, dtype=float)
            rho = _trend(v, ks)
            holds = bool(np.isfinite(rho) and rho < 0 and v[0] > v[-1])
            rows.append({
                "claim": f"κ_high(15) of {label} falls with kernel size (depth {L})",
                "measured": f"k={int(ks[0])}: {v[0]:.3f} → k={int(ks[-1])}: {v[-1]:.3f}; "
                            f"Spearman ρ = {rho:+.2f}",
                "holds": "yes" if holds else "no",
            })
    if len(depths) >= 2:
        lo, hi = min(depths), max(depths)
        for var, label in (("beta_kappa_high", "β̂"), ("delta_kappa_high", "δ̂")):
            a = float(s[var].sel(depth=lo).mean())
            b = float(s[var].sel(depth=hi).mean())
            rows.append({
                "claim": f"κ_high(15) of {label} higher at depth {hi} than at depth {lo} "
                         "(mean over kernel sizes)",
                "measured": f"depth {lo}: {a:.3f}, depth {hi}: {b:.3f}",
                "holds": "yes" if b > a else "no",
            })
    return rows
