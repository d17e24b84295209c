"""Benchmark: SGD step time per model family, as achieved GFLOP/s next to the machine's matmul GFLOP/s.

For every (model family, input shape) this times ``--batches`` SGD steps
(forward, cross-entropy, backward, optimiser step, exactly as in
``freqkit.train.train_model``) on random batches after ``--warmup`` untimed
steps, and prints the best step time, the step's arithmetic (GFLOP, counted
below), the achieved GFLOP/s and that as a fraction of the float32
matrix-multiply GFLOP/s of the same machine, measured in the same run
(``--floor-size`` square matrices, best of several, same thread count) and
re-measured after the table so that a load change shows; then the
extrapolated time of one 60 000-image epoch (validation not included).

What is counted (multiply-add = 2 FLOP), per step = forward + backward:

* direct layers (``fc``, ``lc``, ``lkc`` with ``k < FFT_KERNEL_THRESHOLD``):
  the layer's matrix products, ``2·N·d_out·fan_in`` forward, the same for the
  weight gradient and for the input gradient (none for the first layer: the
  images need no gradient);
* FFT layers (``fkc``, ``lkc`` with large ``k``): what the FFT algorithm does,
  ``2.5·n·log2(n)`` real FLOP per real ``n``-point 2-D transform (rfft2 / irfft2),
  ``8`` per complex multiply-add of the channel mixing; forward = rfft2 of the
  input and of the kernel, the mixing, irfft2 of the output; backward =
  rfft2 of the output gradient, one mixing and one irfft2 per gradient
  (kernel, and input except for the first layer). The direct-equivalent count (what a direct convolution would
  need) is printed too: the FFT's advantage is that ratio;
* the readout ``Linear(d -> 10)`` like a direct layer.

Run with::

    OMP_NUM_THREADS=1 python bench/train.py                  # ~1-2 min on one core
    OMP_NUM_THREADS=2 python bench/train.py --threads 2
    OMP_NUM_THREADS=1 python bench/train.py --families lc --channels 8 --depth 3 --batch-size 64 \\
        --inputs 32x32x1                                     # the chapters' LC setting
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
from torch import nn

from freqkit.models import FFT_KERNEL_THRESHOLD, create_model

FAMILIES: list[tuple[str, str, int | None]] = [
    ("fc", "fc", None),
    ("fkc", "fkc", None),
    ("lkc k=3", "lkc", 3),
    ("lkc k=15", "lkc", 15),
    ("lc k=3", "lc", 3),
]
INPUTS: dict[str, tuple[int, int, int]] = {"28x28x1": (1, 28, 28), "32x32x3": (3, 32, 32), "32x32x1": (1, 32, 32)}
EPOCH_IMAGES = 60_000


def matmul_gflops(size: int, repeats: int = 5) -> float:
    """Best float32 ``size × size`` matrix-multiply GFLOP/s on this machine (current thread count)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=gen), torch.randn(size, size, generator=gen)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _fft2_flops(images: int, n: int) -> float:
    """Real 2-D FFT of ``images`` real ``n × n`` arrays: ``2.5·n²·log2(n²)`` FLOP each."""
    return images * 2.5 * n * n * math.log2(n * n)


def step_flops(name: str, batch: int, shape: tuple[int, int, int], depth: int, channels: int,
               kernel_size: int | None) -> tuple[float, float]:
    """``(algorithmic, direct-equivalent)`` FLOP of one SGD step (forward + backward)."""
    c, n, _ = shape
    d_in, positions = c * n * n, n * n
    algorithmic = direct = 0.0
    for layer in range(depth):
        c_in = c if layer == 0 else channels
        products = 3 if layer > 0 else 2  # forward, weight gradient, input gradient
        if name == "fc":
            mac = batch * d_in * d_in
            algorithmic += 2 * mac * products
            direct += 2 * mac * products
            continue
        k = n if name == "fkc" else kernel_size
        mac = batch * channels * c_in * k * k * positions
        direct += 2 * mac * products
        if name == "lc" or k < FFT_KERNEL_THRESHOLD:
            algorithmic += 2 * mac * products
        else:
            mixing = 8 * batch * channels * c_in * n * (n // 2 + 1)  # complex multiply-adds
            forward = _fft2_flops(batch * c_in + channels * c_in, n) + mixing + _fft2_flops(batch * channels, n)
            backward = (_fft2_flops(batch * channels, n) + (products - 1) * mixing
                        + _fft2_flops(batch * c_in if layer > 0 else 0, n) + _fft2_flops(channels * c_in, n))
            algorithmic += forward + backward
    width = (c if name == "fc" else channels) * positions
    readout = 2 * batch * width * 10 * 3
    return algorithmic + readout, direct + readout


def best_step(model: nn.Module, shape: tuple[int, int, int], *, batch_size: int, batches: int,
              warmup: int) -> float:
    """Best wall seconds of one SGD step of ``model`` on a random ``(batch_size, *shape)`` batch."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, *shape, generator=generator)
    y = torch.randint(0, 10, (batch_size,), generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    best = math.inf
    for i in range(warmup + batches):
        started = time.perf_counter()
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=10, help="timed SGD steps per configuration (best is kept)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed SGD steps first")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--depth", type=int, default=1, help="hidden layers")
    parser.add_argument("--channels", type=int, default=None, help="hidden channels (default: the input's)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--families", nargs="*", default=None,
                        help="subset of model names (fc fkc lkc lc); default: all rows")
    parser.add_argument("--inputs", nargs="*", default=["28x28x1", "32x32x3"], choices=sorted(INPUTS))
    parser.add_argument("--floor-size", type=int, default=1024, help="matrix size of the matmul floor")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps_per_epoch = math.ceil(EPOCH_IMAGES / args.batch_size)
    floor = matmul_gflops(args.floor_size)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), depth {args.depth}, "
          f"batch {args.batch_size}, load average {os.getloadavg()[0]:.1f}; best of {args.batches} timed steps "
          f"after {args.warmup} warm-up; epoch = {EPOCH_IMAGES} images ({steps_per_epoch} steps, no validation)")
    print(f"floor: float32 {args.floor_size}x{args.floor_size} matmul {floor:.1f} GFLOP/s (same run, same threads)")
    header = (f"{'model':<9} {'input':<8} {'ch':>3} {'params':>10} {'ms/step':>9} {'GFLOP':>7} {'GFLOP/s':>8} "
              f"{'of mm':>6} {'direct-eq':>9} {'s/epoch':>8}")
    print(header)
    print("-" * len(header))
    for input_name in args.inputs:
        shape = INPUTS[input_name]
        for label, name, kernel_size in FAMILIES:
            if args.families and name not in args.families:
                continue
            channels = shape[0] if name == "fc" else (args.channels or shape[0])
            model = create_model(name, input_shape=shape, num_classes=10, depth=args.depth,
                                 nonlinearity="relu", channels=None if name == "fc" else channels,
                                 kernel_size=kernel_size, seed=0)
            n_params = sum(p.numel() for p in model.parameters())
            step = best_step(model, shape, batch_size=args.batch_size, batches=args.batches, warmup=args.warmup)
            flops, direct = step_flops(name, args.batch_size, shape, args.depth, channels, kernel_size)
            rate = flops / step / 1e9
            print(f"{label:<9} {input_name:<8} {channels:>3} {n_params:>10,d} {1e3 * step:>9.2f} {flops / 1e9:>7.3f} "
                  f"{rate:>8.1f} {rate / floor:>6.1%} {direct / step / 1e9:>9.1f} "
                  f"{step * steps_per_epoch:>8.1f}", flush=True)
    print(f"floor re-measured after the table: {matmul_gflops(args.floor_size):.1f} GFLOP/s "
          "(a large change means the load changed during the run)")


if __name__ == "__main__":
    main()
