"""Benchmark: per-epoch cost of the two early-stopping checks, side by side.

For a PreAct ResNet-18 of each ``--widths`` on random CIFAR-sized inputs this
times (median of ``--repeats`` after one untimed run, eval mode, one thread):

* the **aliasing check** of Grabinski et al. (2022): one hooked forward pass of
  ``--n-aliasing`` (100) images through :func:`freqkit.aliasing.model_aliasing`,
  measuring all six strided convolutions (``all``) and only the two of
  ``layer2`` that the stopping rule uses (``layer2``);
* the **PGD check** of Wong et al. (2020): PGD-5 (ε = 8/255, step 2/255, one
  random start) on the first training batch (``--batch`` = 128 images) and
  the forward pass that scores it;
* one FGSM training step (random start, batch 128, train mode), extrapolated
  to an epoch of ``--epoch-images`` images, for scale.

It prints the times and the ratio aliasing/PGD (the aim: <= 0.1). Run with::

    OMP_NUM_THREADS=1 python bench/aliasing.py                 # widths 8, 16, ~1 min
    OMP_NUM_THREADS=1 python bench/aliasing.py --widths 64     # the paper's width
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from freqkit.advtrain import pgd_attack
from freqkit.aliasing import model_aliasing
from freqkit.resnet import create_cnn


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one untimed run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--n-aliasing", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epoch-images", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x_alias = torch.rand(args.n_aliasing, 3, 32, 32, generator=g)
    xb = torch.rand(args.batch, 3, 32, 32, generator=g)
    yb = torch.randint(0, 10, (args.batch,), generator=g)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); times in ms (median of {args.repeats})")
    print(f"{'width':>5} {'alias all':>10} {'alias l2':>9} {'PGD-5':>8} {'ratio all':>9} {'ratio l2':>8} {'FGSM epoch s':>12}")
    for width in args.widths:
        model = create_cnn("preact-resnet18", width=width, seed=0).eval()
        layer2 = [n for n in ("layer2.0.conv1", "layer2.0.shortcut.0")]
        t_all = median_time(lambda: model_aliasing(model, x_alias), args.repeats)
        t_l2 = median_time(lambda: model_aliasing(model, x_alias, layers=layer2), args.repeats)

        def pgd_check() -> float:
            delta = pgd_attack(model, xb, yb, epsilon=8 / 255, alpha=2 / 255, steps=5)
            with torch.no_grad():
                return float((model(xb + delta).argmax(1) == yb).float().mean())

        t_pgd = median_time(pgd_check, args.repeats)
        opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)

        def fgsm_step() -> None:
            model.train()
            delta = pgd_attack(model, xb, yb, epsilon=8 / 255, alpha=10 / 255, steps=1)
            loss = F.cross_entropy(model(xb + delta), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.eval()

        t_step = median_time(fgsm_step, max(2, args.repeats // 2))
        epoch = t_step * -(-args.epoch_images // args.batch)
        print(
            f"{width:>5} {1e3 * t_all:>10.1f} {1e3 * t_l2:>9.1f} {1e3 * t_pgd:>8.1f} "
            f"{t_all / t_pgd:>9.3f} {t_l2 / t_pgd:>8.3f} {epoch:>12.0f}"
        )


if __name__ == "__main__":
    main()
