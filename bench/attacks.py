"""Overhead of ``freqkit.attacks.run_attack`` over plain foolbox, and PGD throughput.

Run: ``python bench/attacks.py`` (1 torch thread by default, well under 3 minutes).

1. **Overhead.** On one model (``lkc``, depth 2, 1×28×28, labels = the model's own
   predictions so every sample is attacked) and one batch, time

   * ``direct``: what a careful foolbox user writes: ``torch.manual_seed``;
     ``foolbox.PyTorchModel``; ``foolbox.utils.accuracy``; ``LinfPGD(...)(fmodel,
     x, y, epsilons)``; ``delta = clipped - x``;
   * ``freqkit``: ``run_attack(model, x, y, "pgd-linf", epsilons, seed=...)``,
     which in addition computes the per-sample clean mask, NaN-masks failures,
     computes three norms and builds the xarray Dataset,

   interleaved (direct, freqkit, direct, ...) and reports the best-of-N wall and
   process-CPU time of each and their ratio (target <= 1.05). Both produce the
   same perturbations (checked).
2. **Throughput.** PGD-L∞ (40 steps, 2 epsilons) through ``run_attack`` for every
   model family (fc, fkc, lkc, lc; depth 2, linear) on 1×28×28: images·epsilons
   per second of wall and of process CPU time (best of N).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import foolbox
import numpy as np
import torch

from freqkit.attacks import ATTACKS, build_foolbox_attack, run_attack
from freqkit.models import create_model

SHAPE = (1, 28, 28)
EPSILONS = [0.05, 0.1]


def _once(fn: Callable[[], object]) -> tuple[float, float, object]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def _model(name: str) -> torch.nn.Module:
    kwargs = {} if name in ("fc", "fkc") else {"kernel_size": 3}
    return create_model(name, input_shape=SHAPE, num_classes=10, depth=2, seed=0, **kwargs).eval()


def _batch(model: torch.nn.Module, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x).argmax(1)
    return x, y


def overhead(n: int, repeats: int, seed: int = 0) -> None:
    model = _model("lkc")
    x, y = _batch(model, n)
    spec = ATTACKS.get("pgd-linf")

    def direct() -> np.ndarray:
        torch.manual_seed(seed)
        fmodel = foolbox.PyTorchModel(model.eval(), bounds=(0, 1))
        foolbox.utils.accuracy(fmodel, x, y)
        _, clipped, _ = build_foolbox_attack(spec)(fmodel, x, y, epsilons=EPSILONS)
        return torch.stack(clipped).sub(x).numpy()

    def wrapped() -> np.ndarray:
        ds = run_attack(model, x, y, "pgd-linf", EPSILONS, seed=seed)
        return ds.delta.values

    direct(), wrapped()  # warm-up
    best = {"direct": [np.inf, np.inf], "freqkit": [np.inf, np.inf]}
    outs = {}
    for _ in range(repeats):
        for name, fn in (("direct", direct), ("freqkit", wrapped)):
            wall, cpu, out = _once(fn)
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
            outs[name] = out
    d, f = outs["direct"], outs["freqkit"]
    ok = ~np.isnan(f)
    same = np.allclose(d[ok], f[ok], atol=1e-6)
    print(f"overhead: lkc depth 2, batch {n}x1x28x28, LinfPGD 40 steps, eps={EPSILONS}, "
          f"best of {repeats}, interleaved")
    print(f"  direct foolbox : wall {best['direct'][0]:.3f} s  cpu {best['direct'][1]:.3f} s")
    print(f"  run_attack     : wall {best['freqkit'][0]:.3f} s  cpu {best['freqkit'][1]:.3f} s")
    print(f"  ratio          : wall {best['freqkit'][0] / best['direct'][0]:.3f}  "
          f"cpu {best['freqkit'][1] / best['direct'][1]:.3f}   (target <= 1.05)")
    print(f"  identical delta on successes: {same}")


def throughput(n: int, repeats: int) -> None:
    print(f"\nPGD-Linf throughput via run_attack (40 steps, {len(EPSILONS)} epsilons, batch {n}, "
          f"depth 2 linear, best of {repeats}); images*epsilons per second")
    for name in ("fc", "fkc", "lkc", "lc"):
        model = _model(name)
        x, y = _batch(model, n)
        run_attack(model, x[:4], y[:4], "pgd-linf", EPSILONS)  # warm-up
        wall, cpu = np.inf, np.inf
        for _ in range(repeats):
            w, c, _ = _once(lambda: run_attack(model, x, y, "pgd-linf", EPSILONS))
            wall, cpu = min(wall, w), min(cpu, c)
        work = n * len(EPSILONS)
        print(f"  {name:4s}: {work / wall:8.0f} img/s wall   {work / cpu:8.0f} img/s cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    overhead(args.batch, args.repeats)
    throughput(args.batch, max(2, args.repeats // 2))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s, torch threads {args.threads}")


if __name__ == "__main__":
    main()
