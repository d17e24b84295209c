"""Adversarial attacks (foolbox 3) and the spectra of their perturbations.

``ATTACKS`` maps a short name to a frozen, JSON-serialisable :class:`AttackSpec`;
:func:`run_attack` runs one of them on a batch and returns the perturbations
``delta = x_adv - x`` as an :class:`xarray.Dataset`.

.. rubric:: Registered attacks

============  =====  ====================================  ==============
name          norm   foolbox class                         kind
============  =====  ====================================  ==============
``pgd-linf``  linf   ``LinfPGD``                           fixed epsilon
``pgd-l2``    l2     ``L2PGD``                             fixed epsilon
``pgd-l1``    l1     ``L1PGD``                             fixed epsilon
``bb-linf``   linf   ``LinfinityBrendelBethgeAttack``      minimisation
``bb-l2``     l2     ``L2BrendelBethgeAttack``             minimisation
============  =====  ====================================  ==============

.. rubric:: Conventions (also in DESIGN.md)

* **Preprocessing happens exactly once**, inside foolbox:
  ``foolbox.PyTorchModel(model.eval(), bounds, preprocessing=dict(mean, std, axis=-3))``
  feeds ``(x - mean) / std`` to ``model``. The torch model must therefore *not*
  normalise its inputs itself; ``x``, ``delta``, ``bounds`` and ``epsilons`` all
  live in the raw ``[0, 1]`` pixel space.
* Only samples that the (foolbox-wrapped) model classifies correctly are
  attacked (``clean_correct``); the others count as failures.
* Brendel–Bethge attacks start from an adversarial point: the PGD attack of the
  same norm is run first at ``start_epsilon`` (default: the diameter of the
  input box, ``hi - lo`` for L∞ and ``(hi - lo)·sqrt(C·H·W)`` for L2, so the
  start is unconstrained); only samples whose start is adversarial are passed
  to the BB attack (foolbox asserts that every start is adversarial); the
  others are recorded as failures with ``attacked = False``.
* For every epsilon the perturbation is foolbox's *clipped* perturbation
  (``attack(...)[1]``): PGD is already inside the ε-ball; a minimisation attack's
  perturbation is rescaled to norm ε if it is larger. ``success`` is foolbox's
  verdict on that clipped input; ``delta`` and the norms are NaN where it failed.
  A minimisation attack accepts ``epsilon = inf`` (unbounded: foolbox's ``None``).
* ``success_rate = success.sum("sample") / clean_correct.sum()``: the fraction of
  correctly classified samples that the attack flips.
* Randomness (PGD's random start draws from torch's global RNG) is seeded with
  ``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so the
  caller's RNG state is untouched and the same ``seed`` and ``batch_size`` give
  bit-identical perturbations.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr

from freqkit._validate import as_bool, as_int, as_real, check_finite, check_labels
from freqkit.registry import Registry

__all__ = [
    "ATTACKS",
    "AttackSpec",
    "build_foolbox_attack",
    "foolbox_model",
    "perturbation_spectra",
    "run_attack",
]

Norm = Literal["linf", "l2", "l1"]
_NORMS: tuple[str, ...] = ("linf", "l2", "l1")
_KINDS: tuple[str, ...] = ("fixed-epsilon", "minimisation")


@dataclass(frozen=True)
class AttackSpec:
    """Serialisable description of one foolbox attack.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"pgd-linf"``.
    norm : {"linf", "l2", "l1"}
        Threat model; the norm in which ``epsilon`` is measured.
    foolbox_class : str
        Attribute of :mod:`foolbox.attacks` implementing the attack.
    kind : {"fixed-epsilon", "minimisation"}
        Fixed-epsilon attacks (PGD) run once per epsilon; minimisation attacks
        (Brendel–Bethge) run once and their perturbation is clipped per epsilon.
    steps : int
        Iterations of the attack.
    rel_stepsize : float or None
        PGD step size relative to epsilon (foolbox ``rel_stepsize``).
    random_start : bool
        PGD random start inside the epsilon ball.
    lr : float or None
        Brendel–Bethge trust-region learning rate (foolbox ``lr``).
    binary_search_steps : int or None
        Brendel–Bethge binary-search steps towards the boundary.
    start_attack : str or None
        Registry name of the fixed-epsilon attack that produces the adversarial
        starting points of a minimisation attack.
    start_epsilon : float or None
        Epsilon of ``start_attack``; ``None`` means the diameter of the input box.

    Examples
    --------
    >>> spec = ATTACKS.get("pgd-linf")
    >>> spec.norm, spec.kind, spec.steps
    ('linf', 'fixed-epsilon', 40)
    >>> json.loads(dataclasses.replace(spec, steps=10).to_json())["steps"]
    10
    """

    name: str
    norm: Norm
    foolbox_class: str
    kind: Literal["fixed-epsilon", "minimisation"]
    steps: int
    rel_stepsize: float | None = None
    random_start: bool = True
    lr: float | None = None
    binary_search_steps: int | None = None
    start_attack: str | None = None
    start_epsilon: float | None = None

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:  # NumPy scalars stored as Python ones
            object.__setattr__(self, name, value)

        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r} is not allowed; allowed: a non-empty string")
        if not isinstance(self.foolbox_class, str):
            raise ValueError(f"foolbox_class={self.foolbox_class!r} is not allowed; allowed: a class name")
        if not isinstance(self.norm, str) or self.norm not in _NORMS:
            raise ValueError(f"norm={self.norm!r} is not allowed; use one of {_NORMS}")
        if not isinstance(self.kind, str) or self.kind not in _KINDS:
            raise ValueError(f"kind={self.kind!r} is not allowed; use one of {_KINDS}")
        try:
            set_("steps", as_int(self.steps, "steps", minimum=1))
        except ValueError:
            raise ValueError(f"steps={self.steps!r} must be a positive integer") from None
        set_("random_start", as_bool(self.random_start, "random_start"))
        set_("rel_stepsize", as_real(self.rel_stepsize, "rel_stepsize", minimum=0, min_open=True,
                                     allow_none=True))
        set_("lr", as_real(self.lr, "lr", minimum=0, min_open=True, allow_none=True))
        set_("binary_search_steps", as_int(self.binary_search_steps, "binary_search_steps", minimum=1,
                                           allow_none=True))
        if self.kind == "minimisation" and self.start_attack is None:
            raise ValueError(f"minimisation attack {self.name!r} needs a start_attack")
        if self.start_attack is not None and not isinstance(self.start_attack, str):
            raise ValueError(f"start_attack={self.start_attack!r} is not allowed; allowed: None or an attack name")
        try:
            set_("start_epsilon", as_real(self.start_epsilon, "start_epsilon", minimum=0, min_open=True,
                                          allow_none=True))
        except ValueError:
            raise ValueError(f"start_epsilon={self.start_epsilon!r} must be > 0 or None") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-compatible)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)


#: Registry of attack specs by name (``pgd-linf``, ``pgd-l2``, ``pgd-l1``, ``bb-linf``, ``bb-l2``).
#:
#: :meta hide-value:
ATTACKS: Registry[AttackSpec] = Registry("attack")

for _spec in (
    AttackSpec("pgd-linf", "linf", "LinfPGD", "fixed-epsilon", steps=40, rel_stepsize=0.01 / 0.3),
    AttackSpec("pgd-l2", "l2", "L2PGD", "fixed-epsilon", steps=50, rel_stepsize=0.025),
    AttackSpec("pgd-l1", "l1", "L1PGD", "fixed-epsilon", steps=50, rel_stepsize=0.025),
    AttackSpec(
        "bb-linf", "linf", "LinfinityBrendelBethgeAttack", "minimisation", steps=200,
        lr=1e-3, binary_search_steps=10, start_attack="pgd-linf",
    ),
    AttackSpec(
        "bb-l2", "l2", "L2BrendelBethgeAttack", "minimisation", steps=200,
        lr=1e-3, binary_search_steps=10, start_attack="pgd-l2",
    ),
):
    ATTACKS.register(_spec.name)(_spec)
del _spec


def build_foolbox_attack(spec: AttackSpec) -> Any:
    """Instantiate the foolbox attack described by ``spec``.

    Examples
    --------
    >>> type(build_foolbox_attack(ATTACKS.get("pgd-l2"))).__name__
    'L2ProjectedGradientDescentAttack'
    """
    import foolbox

    if not isinstance(spec, AttackSpec):
        raise ValueError(f"spec must be an AttackSpec (e.g. ATTACKS.get('pgd-linf')), got {type(spec).__name__}")
    cls = getattr(foolbox.attacks, spec.foolbox_class, None)
    if cls is None:
        raise ValueError(
            f"foolbox_class={spec.foolbox_class!r} is not in foolbox.attacks "
            f"(foolbox {foolbox.__version__})"
        )
    if spec.kind == "fixed-epsilon":
        kwargs: dict[str, Any] = {"steps": spec.steps, "random_start": spec.random_start}
        if spec.rel_stepsize is not None:
            kwargs["rel_stepsize"] = spec.rel_stepsize
        return cls(**kwargs)
    kwargs = {"steps": spec.steps}
    if spec.lr is not None:
        kwargs["lr"] = spec.lr
    if spec.binary_search_steps is not None:
        kwargs["binary_search_steps"] = spec.binary_search_steps
    return cls(**kwargs)


def _check_preprocessing(preprocessing: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if preprocessing is None:
        return None
    allowed = {"mean", "std", "axis", "flip_axis"}
    if not isinstance(preprocessing, Mapping):
        raise ValueError(f"preprocessing={preprocessing!r} is not allowed; allowed: None or a dict with keys "
                         f"{sorted(allowed)}")
    unknown = set(preprocessing) - allowed
    if unknown:
        raise ValueError(
            f"preprocessing has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    for key in ("mean", "std"):
        if key not in preprocessing:
            continue
        value = preprocessing[key]
        try:
            arr = np.asarray(value.tolist() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.size == 0 or not np.isfinite(arr).all() or (key == "std" and not (arr > 0).all()):
            allowed_values = "finite numbers > 0" if key == "std" else "finite numbers"
            raise ValueError(f"preprocessing[{key!r}]={value!r} is not allowed; allowed: {allowed_values}")
    if "axis" in preprocessing:
        as_int(preprocessing["axis"], "preprocessing['axis']")
    return dict(preprocessing)


def foolbox_model(
    model: torch.nn.Module,
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
    preprocessing: Mapping[str, Any] | None = None,
) -> Any:
    """Wrap ``model`` (switched to eval mode) as a ``foolbox.PyTorchModel``.

    ``preprocessing`` (foolbox's ``dict(mean=..., std=..., axis=-3)``) is applied
    here only; ``model`` must not normalise again.

    Examples
    --------
    >>> fmodel = foolbox_model(torch.nn.Flatten(), preprocessing=dict(mean=[0.5], std=[0.25], axis=-3))
    >>> fmodel(torch.ones(1, 1, 1, 2)).tolist()
    [[2.0, 2.0]]
    """
    import foolbox

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    lo, hi = _check_bounds(bounds)
    return foolbox.PyTorchModel(
        model.eval(), bounds=(lo, hi), preprocessing=_check_preprocessing(preprocessing)
    )


def _check_bounds(bounds: Sequence[float]) -> tuple[float, float]:
    message = f"bounds={bounds!r} must be (lo, hi) with lo < hi, two finite numbers"
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise ValueError(message)
    try:
        lo, hi = (float(as_real(b, "bounds")) for b in bounds)
    except ValueError:
        raise ValueError(message) from None
    if not lo < hi:
        raise ValueError(message)
    return lo, hi


def _check_epsilons(epsilons: float | Sequence[float], spec: AttackSpec) -> list[float]:
    try:
        array = np.asarray(epsilons, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"epsilons={epsilons!r} is not allowed; allowed: a number > 0 or a 1-D "
                         "sequence of them") from None
    if array.ndim > 1 or isinstance(epsilons, (str, bytes, bool, np.bool_)) or (
        array.ndim == 1 and any(isinstance(e, (str, bytes, bool, np.bool_)) for e in epsilons)
    ):
        raise ValueError(f"epsilons={epsilons!r} is not allowed; allowed: a number > 0 or a 1-D "
                         "sequence of them")
    eps = [float(e) for e in np.atleast_1d(array)]
    if not eps:
        raise ValueError("epsilons is empty; give at least one epsilon > 0")
    for e in eps:
        if not e > 0 or math.isnan(e):
            raise ValueError(f"epsilons contains {e!r}; every epsilon must be > 0")
        if math.isinf(e) and spec.kind == "fixed-epsilon":
            raise ValueError(
                f"epsilons contains inf, which only minimisation attacks allow "
                f"({spec.name!r} is fixed-epsilon)"
            )
    if len(set(eps)) != len(eps):
        raise ValueError(f"epsilons={eps!r} contains duplicates")
    return eps


def _lp_norms(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    flat = delta.flatten(start_dim=-3)
    return flat.abs().sum(-1), flat.pow(2).sum(-1).sqrt(), flat.abs().amax(-1)


def _attack_batch(
    fmodel: Any,
    spec: AttackSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    epsilons: list[float],
    bounds: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attack one batch of correctly classified inputs.

    Returns ``(clipped_adv (K, B, C, H, W), success (K, B), attacked (B,))``.
    """
    attack = build_foolbox_attack(spec)
    if spec.kind == "fixed-epsilon":
        _, clipped, success = attack(fmodel, x, y, epsilons=epsilons)
        return torch.stack(clipped), success, torch.ones_like(y, dtype=torch.bool)

    start_spec = ATTACKS.get(spec.start_attack)  # type: ignore[arg-type]
    lo, hi = bounds
    start_epsilon = spec.start_epsilon
    if start_epsilon is None:
        dim = x[0].numel()
        start_epsilon = {"linf": hi - lo, "l2": (hi - lo) * math.sqrt(dim), "l1": (hi - lo) * dim}[
            start_spec.norm
        ]
    _, start, start_success = build_foolbox_attack(start_spec)(
        fmodel, x, y, epsilons=start_epsilon
    )
    attacked = start_success.bool()
    clipped_all = x.unsqueeze(0).repeat(len(epsilons), *([1] * x.ndim))
    success_all = torch.zeros(len(epsilons), len(x), dtype=torch.bool, device=x.device)
    if attacked.any():
        fb_eps = [None if math.isinf(e) else e for e in epsilons]
        _, clipped, success = attack(
            fmodel, x[attacked], y[attacked], epsilons=fb_eps, starting_points=start[attacked]
        )
        clipped_all[:, attacked] = torch.stack(clipped)
        success_all[:, attacked] = success
    return clipped_all, success_all, attacked


def run_attack(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | AttackSpec,
    epsilons: float | Sequence[float],
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
    preprocessing: Mapping[str, Any] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
) -> xr.Dataset:
    """Attack the correctly classified samples of ``(x, y)`` and collect ``delta``.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits; put in eval mode. Must *not* normalise its
        input if ``preprocessing`` is given (foolbox does it, once).
    x : Tensor, shape (N, C, H, W)
        Inputs inside ``bounds``.
    y : Tensor, shape (N,)
        Integer labels.
    attack : str or AttackSpec
        A name in :data:`ATTACKS` or a (modified) spec, e.g.
        ``dataclasses.replace(ATTACKS.get("bb-l2"), steps=50)``.
    epsilons : float or sequence of float
        Perturbation budgets (> 0, in the attack's norm, raw pixel units);
        ``inf`` allowed for minimisation attacks.
    bounds : (float, float)
        Input box.
    preprocessing : dict, optional
        foolbox preprocessing ``dict(mean=..., std=..., axis=-3)``.
    seed : int
        Seeds torch's RNG (PGD random start) in a forked RNG context.
    batch_size : int, optional
        Samples per foolbox call; default all at once.

    Returns
    -------
    xarray.Dataset
        ``delta (epsilon, sample, channel, row, col)`` (NaN where failed),
        ``success``, ``norm_l1``, ``norm_l2``, ``norm_linf`` ``(epsilon, sample)``,
        ``success_rate (epsilon)``, ``clean_correct``, ``attacked``, ``label``
        ``(sample)``; attrs ``attack``, ``norm``, ``attack_config`` (JSON),
        ``clean_accuracy``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x = torch.rand(6, 1, 2, 2)
    >>> y = model(x).argmax(1)
    >>> ds = run_attack(model, x, y, "pgd-linf", [0.01, 1.0])
    >>> float(ds.clean_accuracy), ds.delta.dims
    (1.0, ('epsilon', 'sample', 'channel', 'row', 'col'))
    >>> bool((ds.norm_linf <= ds.epsilon + 1e-6).where(ds.success, True).all())
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    spec = ATTACKS.get(attack) if isinstance(attack, str) else attack
    if not isinstance(spec, AttackSpec):
        raise ValueError(f"attack={attack!r} must be a registered name or an AttackSpec")
    if spec.start_attack is not None:
        start = ATTACKS.get(spec.start_attack)
        if start.kind != "fixed-epsilon" or start.norm != spec.norm:
            raise ValueError(f"start_attack={spec.start_attack!r} is not allowed for {spec.name!r}; allowed: "
                             f"a fixed-epsilon attack of norm {spec.norm!r}")
    eps = _check_epsilons(epsilons, spec)
    lo, hi = _check_bounds(bounds)
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (N, C, H, W) torch.Tensor, got {type(x).__name__} of shape "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not x.is_floating_point():
        raise ValueError(f"x has dtype {x.dtype}; allowed: a floating dtype with values inside bounds={bounds!r}")
    if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1]:
        raise ValueError(f"y must be a ({len(x)},) tensor, got {getattr(y, 'shape', type(y))}")
    check_labels(y, "y")
    check_finite(x, "x")
    if x.numel() and (x.min() < lo or x.max() > hi):
        raise ValueError(
            f"x has values in [{x.min().item()}, {x.max().item()}] outside bounds={bounds!r}"
        )
    n = len(x)
    if batch_size is None:
        batch_size = max(n, 1)
    try:
        batch_size = as_int(batch_size, "batch_size", minimum=1)
    except ValueError:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer or None") from None
    seed = as_int(seed, "seed", minimum=0)
    preprocessing = _check_preprocessing(preprocessing)
    label_max = int(y.max()) if n else -1

    fmodel = foolbox_model(model, bounds=(lo, hi), preprocessing=preprocessing)
    x = x.detach().float()
    y = y.detach().long()

    k = len(eps)
    clean_correct = torch.zeros(n, dtype=torch.bool)
    attacked = torch.zeros(n, dtype=torch.bool)
    success = torch.zeros(k, n, dtype=torch.bool)
    delta = torch.full((k, *x.shape), float("nan"), dtype=torch.float32)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            xb, yb = x[sl], y[sl]
            # one clean forward pass through the foolbox model (preprocessing applied once);
            # the same test as foolbox.utils.accuracy: argmax(fmodel(x)) == y
            with torch.no_grad():
                logits = fmodel(xb)
                if logits.ndim != 2 or label_max >= logits.shape[-1]:
                    raise ValueError(
                        f"y has labels up to {label_max} but the model returns logits of shape "
                        f"{tuple(logits.shape)}; allowed: labels 0..{logits.shape[-1] - 1}"
                    )
                correct_b = (logits.argmax(-1) == yb).cpu()
            clean_correct[sl] = correct_b
            if not correct_b.any():
                continue
            idx = torch.nonzero(correct_b).squeeze(1) + start
            adv, succ, att = _attack_batch(fmodel, spec, x[idx], y[idx], eps, (lo, hi))
            succ, att = succ.cpu().bool(), att.cpu().bool()
            d = (adv.detach().cpu() - x[idx].cpu()).float()
            d[~succ] = float("nan")
            delta[:, idx] = d
            success[:, idx] = succ
            attacked[idx] = att

    l1, l2, linf = _lp_norms(delta)  # NaN propagates to failed samples
    n_correct = int(clean_correct.sum())
    rate = success.sum(1).double() / n_correct if n_correct else torch.full((k,), float("nan"))
    config = {
        "attack": spec.to_dict(),
        "epsilons": eps,
        "bounds": [lo, hi],
        "preprocessing": _jsonable(preprocessing),
        "seed": seed,
        "batch_size": batch_size,
    }
    c, h, w = x.shape[1:]
    ed, sd = ("epsilon",), ("epsilon", "sample")
    return xr.Dataset(
        data_vars={
            "delta": (("epsilon", "sample", "channel", "row", "col"), delta.numpy()),
            "success": (sd, success.numpy()),
            "norm_l1": (sd, l1.numpy()),
            "norm_l2": (sd, l2.numpy()),
            "norm_linf": (sd, linf.numpy()),
            "success_rate": (ed, rate.numpy()),
            "clean_correct": (("sample",), clean_correct.numpy()),
            "attacked": (("sample",), attacked.numpy()),
            "label": (("sample",), y.cpu().numpy()),
        },
        coords={
            "epsilon": np.asarray(eps, dtype=float),
            "sample": np.arange(n),
            "channel": np.arange(c),
            "row": np.arange(h),
            "col": np.arange(w),
        },
        attrs={
            "attack": spec.name,
            "norm": spec.norm,
            "attack_config": json.dumps(config, sort_keys=True),
            "clean_accuracy": n_correct / n if n else float("nan"),
        },
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return np.asarray(value.tolist() if isinstance(value, torch.Tensor) else value).tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def perturbation_spectra(ds: xr.Dataset, ks: Sequence[int] = (3, 5, 7)) -> xr.Dataset:
    """Add spectral statistics of the perturbations in ``ds`` (from :func:`run_attack`).

    Spectra are :func:`freqkit.spectra.power_spectrum` of ``delta`` with the power
    summed over channels (centred, orthonormal DFT, DC kept), computed in one pass by
    :func:`freqkit.spectra.spectrum_statistics`. Added variables:

    * ``f50 (epsilon, sample)``: half-power frequency (cycles/pixel);
    * ``kappa_high (k, epsilon, sample)``: energy fraction outside the ``|m| <= k/2``
      box of DFT indices, for each ``k`` in ``ks``;
    * ``mean_power (epsilon, fy, fx)``: power spectrum averaged over successful
      samples, with ``f50_mean_power (epsilon)`` and ``kappa_high_mean_power (k, epsilon)``;
    * ``power_of_mean (epsilon, fy, fx)``: power spectrum of the perturbation
      averaged over successful samples.

    Entries with a failed attack (or no success at an epsilon) are NaN.
    ``fy``/``fx`` are centred frequencies in cycles/pixel. Images must be square.

    Examples
    --------
    >>> delta = np.zeros((1, 2, 1, 8, 8)); delta[0, 0, 0, 0, 0] = 1.0  # a flat spectrum
    >>> delta[0, 1] = np.nan                                             # a failed attack
    >>> ds = xr.Dataset({"delta": (("epsilon", "sample", "channel", "row", "col"), delta),
    ...                  "success": (("epsilon", "sample"), [[True, False]])})
    >>> out = perturbation_spectra(ds, ks=[3])
    >>> out.kappa_high.sel(k=3).values.round(4).tolist()  # 1 - 9/64 and NaN
    [[0.8594, nan]]
    """
    from freqkit import spectra

    if not isinstance(ds, xr.Dataset) or "delta" not in ds or "success" not in ds:
        raise ValueError("ds must be an xarray.Dataset containing 'delta' and 'success' (from run_attack)")
    need = {"delta": {"epsilon", "sample", "channel", "row", "col"}, "success": {"epsilon", "sample"}}
    for name, dims in need.items():
        if set(ds[name].dims) != dims:
            raise ValueError(f"ds[{name!r}] has dims {ds[name].dims}; allowed: {tuple(sorted(dims))} "
                             "in any order (from run_attack)")
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence | np.ndarray) or len(ks) == 0:
        raise ValueError(f"ks={ks!r} is not allowed; allowed: a non-empty sequence of kernel sizes")
    try:
        ks = [as_int(k, "ks", minimum=1, maximum=ds.sizes["row"]) for k in ks]
    except ValueError:
        raise ValueError(f"ks={list(ks)!r} is not allowed; allowed: integers 1..{ds.sizes['row']} "
                         "(kernel sizes up to the image size)") from None
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks={ks!r} contains duplicates; allowed: distinct kernel sizes")
    delta = ds["delta"].transpose("epsilon", "sample", "channel", "row", "col")
    h, w = delta.sizes["row"], delta.sizes["col"]
    if h != w:
        raise ValueError(f"perturbations must be square, got row={h}, col={w}")
    success = ds["success"].transpose("epsilon", "sample").values.astype(bool)
    values = np.nan_to_num(delta.values.astype(np.float64))
    n_eps, n_samples = success.shape
    f50 = np.full(success.shape, np.nan)
    kappa = np.full((len(ks), *success.shape), np.nan)
    mean_power = np.full((n_eps, h, h), np.nan)  # no success at an epsilon: no perturbation to average
    for e in range(n_eps):  # one FFT pass over the successful perturbations (zero ones have no f50)
        if success[e].any():
            stats = spectra.spectrum_statistics(values[e][success[e]], ks, zero_energy="nan")
            f50[e, success[e]] = stats["f50"]
            kappa[:, e, success[e]] = stats["kappa_high"]
            mean_power[e] = stats["mean_power"]
    n_success = success.sum(axis=1)  # (E,)
    has = n_success > 0
    weight = success / np.where(has, n_success, 1)[:, None]
    mean_delta = np.einsum("es,escyx->ecyx", weight, values)
    power_of_mean = spectra.power_spectrum(mean_delta, combine_channels=True)
    power_of_mean[~has] = np.nan

    f50_mean = np.full(len(n_success), np.nan)
    kappa_mean = np.full((len(ks), len(n_success)), np.nan)
    positive = has & (np.nan_to_num(mean_power).sum(axis=(-2, -1)) > 0)
    if positive.any():
        f50_mean[positive] = spectra.half_power_frequency(mean_power[positive])
        for i, k in enumerate(ks):
            kappa_mean[i, positive] = spectra.kappa_high(mean_power[positive], k)

    freq = spectra.frequency_grid(h)[1][0]
    sd, fd = ("epsilon", "sample"), ("epsilon", "fy", "fx")
    return ds.assign_coords(k=ks, fy=freq, fx=freq).assign(
        f50=(sd, f50),
        kappa_high=(("k", *sd), kappa),
        mean_power=(fd, mean_power),
        power_of_mean=(fd, power_of_mean),
        f50_mean_power=(("epsilon",), f50_mean),
        kappa_high_mean_power=(("k", "epsilon"), kappa_mean),
    )
