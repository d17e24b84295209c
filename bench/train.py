"""Benchmark: SGD epoch time per model family on MNIST-like and CIFAR-like inputs.

For every (model family, input shape) this times ``--batches`` SGD steps
(forward, cross-entropy, backward, optimiser step, exactly as in
``freqkit.train.train_model``) on random batches of 128 images after
``--warmup`` untimed steps, and **extrapolates** the median step time to one
epoch of 60 000 images (469 steps; validation not included). Run with::

    OMP_NUM_THREADS=1 python bench/train.py            # ~1-2 min on one core
    python bench/train.py --threads 2 --depth 2 --batches 20
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from freqkit.models import create_model

FAMILIES: list[tuple[str, str, int | None]] = [
    ("fc", "fc", None),
    ("fkc", "fkc", None),
    ("lkc k=3", "lkc", 3),
    ("lkc k=15", "lkc", 15),
    ("lc k=3", "lc", 3),
]
INPUTS: list[tuple[str, tuple[int, int, int]]] = [("28x28x1", (1, 28, 28)), ("32x32x3", (3, 32, 32))]
EPOCH_IMAGES = 60_000


def time_steps(model: nn.Module, shape: tuple[int, int, int], *, batch_size: int, batches: int,
               warmup: int) -> list[float]:
    """Seconds per SGD step of ``model`` on random ``(batch_size, *shape)`` inputs."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, *shape, generator=generator)
    y = torch.randint(0, 10, (batch_size,), generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    times = []
    for i in range(warmup + batches):
        started = time.perf_counter()
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10, help="timed SGD steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed SGD steps first")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--depth", type=int, default=1, help="hidden layers")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps_per_epoch = math.ceil(EPOCH_IMAGES / args.batch_size)

    print(f"torch {torch.__version__}, {args.threads} thread(s), depth {args.depth}, batch {args.batch_size}; "
          f"median of {args.batches} timed steps after {args.warmup} warm-up, "
          f"extrapolated to a {EPOCH_IMAGES}-image epoch ({steps_per_epoch} steps, no validation)")
    header = f"{'model':<10} {'input':<8} {'params':>10} {'ms/step':>9} {'s/epoch':>9}"
    print(header)
    print("-" * len(header))
    for input_name, shape in INPUTS:
        for label, name, kernel_size in FAMILIES:
            model = create_model(name, input_shape=shape, num_classes=10, depth=args.depth,
                                 nonlinearity="relu", kernel_size=kernel_size, seed=0)
            n_params = sum(p.numel() for p in model.parameters())
            step = statistics.median(time_steps(model, shape, batch_size=args.batch_size,
                                                batches=args.batches, warmup=args.warmup))
            print(f"{label:<10} {input_name:<8} {n_params:>10,d} {1e3 * step:>9.2f} "
                  f"{step * steps_per_epoch:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
