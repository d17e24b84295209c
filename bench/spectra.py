"""Benchmark: freqkit.spectra metrics vs the fastest bare FFT of the same batch.

Run ``python bench/spectra.py`` (``--threads 1 2`` by default). For 10,000 3×32×32
float32 perturbations it times, interleaved in the same run (best of ``--repeats``
of wall and of process CPU time):

* the bare transforms of the batch: ``fft2`` and ``rfft2``, whole batch and in
  256-image chunks; the fastest of the four is the floor (for a real input
  that is the chunked ``rfft2``: it computes exactly the spectrum the metrics use);
* the metrics a chapter computes per perturbation batch, f50, kappa_high and the
  spectral norms: by ``spectrum_statistics`` (one ``rfft2`` per chunk, one pass over
  the pixels, ``x`` validated once), and by the four separate functions
  ``power_spectrum`` + ``half_power_frequency`` + ``kappa_high`` +
  ``spectral_norms(power=...)``, in total and one by one, with the input validation
  they run (``spectra._to_tensor``: the finite check on ``x``, the finite and
  non-negative check on ``power``, once per call);

and prints metrics / floor (target <= 1.5), separate functions / floor and metrics / chunked fft2.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

import torch

from freqkit import spectra


def best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Best (wall, process CPU) seconds of each function; the functions alternate within every
    repeat so a shared, noisy machine slows them alike."""
    best = {name: (math.inf, math.inf) for name in fns}
    for fn in fns.values():
        fn()  # warm-up (caches, allocator)
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def metrics(x: torch.Tensor, k: int) -> None:
    """What a chapter computes per perturbation batch: f50, kappa_high and the spectral norms,
    in one pass (``spectrum_statistics``, which ``attacks.perturbation_spectra`` uses)."""
    spectra.spectrum_statistics(x, ks=(k,))


def separate(x: torch.Tensor, k: int) -> None:
    """The same numbers from the four separate functions."""
    power = spectra.power_spectrum(x)
    spectra.half_power_frequency(power)
    spectra.kappa_high(power, k)
    spectra.spectral_norms(x, power=power)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=256, help="images per chunk of the chunked bare FFTs")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    power = spectra.power_spectrum(x)
    spectra.spectrum_statistics(x[:2], ks=(args.k,))  # compile (or load) the kernel outside the timings
    print(f"batch {tuple(x.shape)} float32, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        chunks = x.split(args.chunk)
        floors = {
            "fft2 (whole batch)": lambda: torch.fft.fft2(x),
            f"fft2 ({args.chunk}-image chunks)": lambda chunks=chunks: [torch.fft.fft2(c) for c in chunks],
            "rfft2 (whole batch)": lambda: torch.fft.rfft2(x),
            f"rfft2 ({args.chunk}-image chunks)": lambda chunks=chunks: [torch.fft.rfft2(c) for c in chunks],
        }
        parts = {
            "metrics (spectrum_statistics)": lambda: metrics(x, args.k),
            "separate functions (all four)": lambda: separate(x, args.k),
            "  power_spectrum": lambda: spectra.power_spectrum(x),
            "  half_power_frequency": lambda: spectra.half_power_frequency(power),
            "  kappa_high": lambda: spectra.kappa_high(power, args.k),
            "  spectral_norms(power=)": lambda: spectra.spectral_norms(x, power=power),
            "  of which validation": lambda: (spectra._to_tensor(x, "x"), spectra._to_tensor(x, "x"),
                                              *(spectra._to_tensor(power, "power", nonnegative=True)
                                                for _ in range(3))),
        }
        t = best_times({**floors, **parts}, args.repeats)
        floor_name = min(floors, key=lambda name: t[name][0])
        floor = t[floor_name]
        total = t["metrics (spectrum_statistics)"]
        print(f"[{torch.get_num_threads()} thread(s), best of {args.repeats}; wall ms, CPU ms]")
        for name in {**floors, **parts}:
            mark = "  <- floor" if name == floor_name else ""
            print(f"  {name:<32} {t[name][0] * 1e3:8.1f} {t[name][1] * 1e3:8.1f}{mark}")
        chunked_fft2 = t[f"fft2 ({args.chunk}-image chunks)"]
        print(f"  metrics / floor ({floor_name}), target <= 1.5: wall {total[0] / floor[0]:.2f}, "
              f"CPU {total[1] / floor[1]:.2f}")
        apart = t["separate functions (all four)"]
        print(f"  separate functions / floor: wall {apart[0] / floor[0]:.2f}, CPU {apart[1] / floor[1]:.2f}")
        print(f"  metrics / chunked fft2: wall {total[0] / chunked_fft2[0]:.2f}, CPU {total[1] / chunked_fft2[1]:.2f}")
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if threads > 1 and load > cores:
            print(f"  (machine oversubscribed: load {load:.1f} on {cores} cores; multi-threaded wall times "
                  "wait for preempted OpenMP threads, the CPU column is the robust one)")


if __name__ == "__main__":
    main()
