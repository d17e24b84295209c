"""PGD throughput at ImageNet resolution per architecture family (random weights).

Run: ``python bench/imagenet.py`` (1 torch thread by default; about 2-4 minutes on
this 2-core machine; ``--models efficientnet-lite0 vit-b16`` to pick entries,
``--size 224`` the input side).

For each registered :data:`freqkit.imagenet.IMAGENET_MODELS` entry (full-size
architecture, random weights, so nothing is downloaded) it times
``run_attack(model, x, y, "pgd-l2" with k steps, preprocessing=...)`` on a batch
of ``--batch`` images of ``size × size`` (labels = the model's own predictions
so every image is attacked) and prints **image-steps per second** (one PGD step
on one image = one forward + one backward pass) of wall and process-CPU time,
best of ``--repeats`` after a warm-up, plus one forward pass alone. The hybrid
``vit-r50-b16`` is built at ``img_size=size`` (its weights are at 384). The
numbers size the chapter-5 presets: an attack on ``n`` images with ``k`` steps
costs about ``n·k / rate`` seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from freqkit.attacks import ATTACKS, run_attack
from freqkit.imagenet import IMAGENET_MODELS, _build

DEFAULT_MODELS = ("efficientnet-lite0", "resnet50", "vit-b32", "vit-b16", "mixer-b16", "vit-r50-b16")


def bench(name: str, size: int, batch: int, steps: int, repeats: int) -> None:
    spec = IMAGENET_MODELS.get(name)
    kwargs = {"img_size": size} if spec.family in ("vit", "hybrid", "mlp") else {}
    torch.manual_seed(0)
    net = _build(spec, tiny=False, pretrained=False, **kwargs).eval()
    prep = dataclasses.replace(spec.preprocessing(), input_size=(3, size, size)).foolbox()
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    mean = torch.tensor(prep["mean"])[:, None, None]
    std = torch.tensor(prep["std"])[:, None, None]
    with torch.no_grad():
        t0 = time.perf_counter()
        y = net((x - mean) / std).argmax(1)
        forward = time.perf_counter() - t0
    attack = dataclasses.replace(ATTACKS.get("pgd-l2"), steps=steps)
    run_attack(net, x[:1], y[:1], dataclasses.replace(attack, steps=1), [1.0], preprocessing=prep)
    wall, cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        run_attack(net, x, y, attack, [1.0], preprocessing=prep)
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    work = batch * steps
    params = sum(p.numel() for p in net.parameters()) / 1e6
    print(f"  {name:20s} {spec.family:6s} {params:6.1f}M  {work / wall:6.2f} img-steps/s wall "
          f"({wall / work:6.3f} s each)  {work / cpu:6.2f} cpu   forward {forward / batch:6.3f} s/img",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    print(f"PGD-L2 via run_attack at {args.size}x{args.size}, batch {args.batch}, {args.steps} steps, "
          f"best of {args.repeats}, random weights, {args.threads} torch thread(s)")
    for name in args.models:
        bench(name, args.size, args.batch, args.steps, args.repeats)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
