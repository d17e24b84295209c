"""Where runs compute: resolving ``device=`` settings, the current device, and its description.

Every chapter run takes ``device`` ("auto" = CUDA when available, else CPU;
"cpu", "cuda", "cuda:N"). The device is provenance, not part of a run's
identity: a run's file name (its config hash) does not depend on it, so a run
finished on a GPU counts as done for the same config on a CPU.

Numerics: fp32 everywhere, TF32 off (:func:`configure_numerics`), and
``torch.use_deterministic_algorithms(True, warn_only=True)`` on CUDA. CPU runs
are bit-identical from run to run on one machine with the same thread count;
CPU and GPU results of the same config agree within float32 rounding of the
training trajectory (reductions are ordered differently), not bit for bit.

Examples
--------
>>> resolve_device("cpu")
device(type='cpu')
>>> with use_device("cpu"):
...     current_device().type
'cpu'
>>> resolve_device("tpu")
Traceback (most recent call last):
...
ValueError: device='tpu' is not allowed; use 'auto', 'cpu', 'cuda' or 'cuda:N'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

__all__ = ["configure_numerics", "current_device", "describe_device", "resolve_device", "use_device"]

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_current: list[torch.device] = [torch.device("cpu")]


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The :class:`torch.device` of a ``device=`` setting; an unavailable one is an error.

    ``None`` and ``"auto"`` mean CUDA device 0 when CUDA is available, else the CPU.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec is None:
        spec = "auto"
    if not isinstance(spec, str) or not _DEVICE.match(spec):
        raise ValueError(f"device={spec!r} is not allowed; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if spec == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={spec!r} is not available: torch finds no CUDA device here "
                             "(use device='cpu' or 'auto')")
        index = dev.index or 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device={spec!r} is not available: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s), 0..{torch.cuda.device_count() - 1}")
        dev = torch.device("cuda", index)
    return dev


def configure_numerics(device: torch.device) -> None:
    """fp32 matmuls and convolutions (TF32 off); deterministic algorithms on CUDA.

    ``device`` is a :class:`torch.device` or a ``device=`` setting (:func:`resolve_device`).
    """
    if not isinstance(device, torch.device):
        device = resolve_device(device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def current_device() -> torch.device:
    """The device runs compute on now (:func:`use_device`; the CPU by default)."""
    return _current[-1]


@contextlib.contextmanager
def use_device(spec: str | torch.device | None = "auto") -> Iterator[torch.device]:
    """Make ``spec`` (resolved) the current device inside the ``with`` block."""
    dev = resolve_device(spec)
    configure_numerics(dev)
    _current.append(dev)
    try:
        yield dev
    finally:
        _current.pop()


def describe_device(device: torch.device | None = None) -> str:
    """Provenance text of a device: GPU model and CUDA version, or CPU and thread count.

    Examples
    --------
    >>> describe_device(torch.device("cpu")).startswith("cpu (")
    True
    """
    dev = current_device() if device is None else device
    if not isinstance(dev, torch.device):  # a device= setting such as "cpu"
        dev = resolve_device(dev)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return f"cuda:{dev.index or 0} ({name}, CUDA {torch.version.cuda}, torch {torch.__version__})"
    import platform

    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {torch.get_num_threads()} threads)"
