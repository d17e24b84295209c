"""Shared argument checks: one place for the ``ValueError`` messages of the public API.

Every check names the argument, the value and what is allowed, and returns the
value in canonical form: NumPy integer/float/bool scalars are accepted wherever
Python ones are and come back as Python ``int``/``float``/``bool``; Python values
come back unchanged (so a valid input's JSON config, and hence its run key,
does not change).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_bool",
    "as_int",
    "as_real",
    "check_choice",
    "check_finite",
    "check_labels",
    "check_numeric_dtype",
    "first_nonfinite",
]


def _range_text(minimum: float | None, maximum: float | None, min_open: bool, max_open: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if max_open else '<='} {maximum}")
    return " and ".join(parts)


def as_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> Any:
    """``value`` as a Python ``int`` (NumPy integers accepted, bools refused) in ``[minimum, maximum]``.

    Examples
    --------
    >>> as_int(np.int64(3), "depth", minimum=1)
    3
    >>> as_int(2.0, "depth", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: depth=2.0 is not allowed; allowed: an integer >= 1
    >>> as_int(None, "seed", allow_none=True) is None
    True
    """
    allowed = "an integer" + (f" {_range_text(minimum, maximum, False, False)}" if
                              minimum is not None or maximum is not None else "")
    if allow_none:
        allowed = "None or " + allowed
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {allowed}")
    out = value if type(value) is int else int(value)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {allowed}")
    return out


def as_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
    allow_none: bool = False,
) -> Any:
    """``value`` as a real number (Python/NumPy int or float; not bool, str or NaN) in range.

    Python ``int``/``float`` come back unchanged, NumPy scalars as Python ones.

    Examples
    --------
    >>> as_real(np.float32(0.5), "lr", minimum=0, min_open=True)
    0.5
    >>> as_real("0.1", "lr", minimum=0, min_open=True)
    Traceback (most recent call last):
    ...
    ValueError: lr='0.1' is not allowed; allowed: a finite number > 0
    """
    rng = _range_text(minimum, maximum, min_open, max_open)
    allowed = ("a finite number" if finite else "a number (inf allowed)") + (f" {rng}" if rng else "")
    if allow_none:
        allowed = "None or " + allowed
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {allowed}")
    out = value if type(value) in (int, float) else (int(value) if isinstance(value, numbers.Integral)
                                                      else float(value))
    bad = math.isnan(out) or (finite and math.isinf(out))
    if minimum is not None:
        bad = bad or (out <= minimum if min_open else out < minimum)
    if maximum is not None:
        bad = bad or (out >= maximum if max_open else out > maximum)
    if bad:
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {allowed}")
    return out


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a Python ``bool`` (``numpy.bool_`` accepted; strings, ints, None refused).

    Examples
    --------
    >>> as_bool(np.True_, "bias")
    True
    >>> as_bool("no", "bias")
    Traceback (most recent call last):
    ...
    ValueError: bias='no' is not allowed; allowed: True or False
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name}={value!r} is not allowed; allowed: True or False")


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared by equality, same type), else ValueError.

    Examples
    --------
    >>> check_choice("max", "norm", ("max", "radial"))
    'max'
    >>> check_choice(["max"], "norm", ("max", "radial"))
    Traceback (most recent call last):
    ...
    ValueError: norm=['max'] is not allowed; allowed: 'max', 'radial'
    """
    choices = tuple(choices)
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {', '.join(map(repr, choices))}")
    return value


_NUMPY_REFUSED = {"O": "object", "U": "string", "S": "bytes", "V": "structured/void",
                  "M": "datetime", "m": "timedelta", "c": "complex"}


def check_numeric_dtype(dtype: Any, name: str, *, allow_int: bool = True, what: str = "") -> None:
    """Refuse dtypes that are not real float32/float64 (or integer/bool when ``allow_int``).

    ``dtype`` is a ``numpy.dtype`` or a ``torch.dtype``. float16/bfloat16 are
    refused (no CPU FFT, too little precision for the spectra); so are complex,
    object, string, bytes and datetime dtypes.

    Examples
    --------
    >>> check_numeric_dtype(np.dtype("float16"), "x")
    Traceback (most recent call last):
    ...
    ValueError: x has dtype float16; allowed: float32 or float64 (integer and bool are converted)
    """
    allowed = "float32 or float64" + (" (integer and bool are converted)" if allow_int else "")
    if what:
        allowed += f" {what}"
    if isinstance(dtype, torch.dtype):
        ok = dtype in (torch.float32, torch.float64) or (
            allow_int and not dtype.is_floating_point and not dtype.is_complex)
        label = str(dtype).replace("torch.", "")
    else:
        dtype = np.dtype(dtype)
        ok = (dtype.kind == "f" and dtype.itemsize in (4, 8)) or (allow_int and dtype.kind in "biu")
        label = str(dtype)
        if dtype.kind in _NUMPY_REFUSED and dtype.kind != "O":
            label += f" ({_NUMPY_REFUSED[dtype.kind]})"
    if not ok:
        raise ValueError(f"{name} has dtype {label}; allowed: {allowed}")


def first_nonfinite(t: torch.Tensor) -> tuple[tuple[int, ...], float] | None:
    """Index and value of the first NaN/inf entry of a floating tensor, or None (one cheap sum first).

    Examples
    --------
    >>> first_nonfinite(torch.tensor([[0.0, float("nan")]]))
    ((0, 1), nan)
    >>> first_nonfinite(torch.zeros(3)) is None
    True
    """
    if not t.is_floating_point() or t.numel() == 0 or bool(torch.isfinite(t.sum())):
        return None
    bad = (~torch.isfinite(t)).nonzero()
    if not len(bad):  # the sum overflowed but every entry is finite
        return None
    where = tuple(int(i) for i in bad[0].tolist())
    return where, float(t[where].item())


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ValueError naming the first NaN/inf entry of ``t``.

    Examples
    --------
    >>> check_finite(torch.tensor([1.0, float("inf")]), "x")
    Traceback (most recent call last):
    ...
    ValueError: x must be finite, got inf at index (1,)
    """
    bad = first_nonfinite(t)
    if bad is not None:
        raise ValueError(f"{name} must be finite, got {bad[1]} at index {bad[0]}")


def check_labels(y: Any, name: str, *, length: int | None = None,
                 num_classes: int | None = None) -> None:
    """Class labels: a 1-D integer tensor or array, values in ``[0, num_classes)``.

    Float labels are refused (casting them would silently truncate 1.7 to 1).

    Examples
    --------
    >>> check_labels(torch.tensor([0, 3]), "y", num_classes=3)
    Traceback (most recent call last):
    ...
    ValueError: y has labels in [0, 3]; allowed: integers 0..2 (num_classes=3)
    >>> check_labels(np.array([0.0, 1.0]), "y")
    Traceback (most recent call last):
    ...
    ValueError: y has dtype float64; allowed: an integer dtype (class indices)
    """
    if isinstance(y, torch.Tensor):
        integer = not (y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool)
        dtype = str(y.dtype).replace("torch.", "")
    elif isinstance(y, np.ndarray):
        integer = y.dtype.kind in "iu"
        dtype = str(y.dtype)
    else:
        raise ValueError(f"{name} must be a tensor or array of class indices, got {type(y).__name__}")
    if not integer:
        raise ValueError(f"{name} has dtype {dtype}; allowed: an integer dtype (class indices)")
    if y.ndim != 1 or (length is not None and y.shape[0] != length):
        want = f"({length},)" if length is not None else "(N,)"
        raise ValueError(f"{name} has shape {tuple(y.shape)}; allowed: {want}")
    if y.shape[0] == 0:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or (num_classes is not None and hi >= num_classes):
        allowed = f"integers 0..{num_classes - 1} (num_classes={num_classes})" if num_classes is not None \
            else "integers >= 0"
        raise ValueError(f"{name} has labels in [{lo}, {hi}]; allowed: {allowed}")
