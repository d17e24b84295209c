"""The ``freqkit`` command line: list chapters, run or check a chapter's sweep, build the book.

It drives the same chapter scaffold as the notebooks
(:class:`freqkit.experiments.scaffold.Chapter`)::

    freqkit list
    freqkit run ch03 --preset cpu [--results DIR] [--device auto|cpu|cuda|cuda:N]
                     [--set datasets='["fashion-mnist"]'] [--executor local|slurm] [slurm options]
    freqkit status ch03 --preset cpu [--results DIR]
    freqkit book [--preset cpu]

Errors are one line (``freqkit: error: ...``, exit status 2), not a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from freqkit._validate import as_int

__all__ = ["main", "parallel_seconds", "parse_overrides", "status_report"]

REPO_ROOT = Path(__file__).resolve().parents[1]


class CommandError(ValueError):
    """A user error reported as one line."""


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is JSON when it parses, else a string.

    Examples
    --------
    >>> parse_overrides(['datasets=["mnist"]', "fixed_lr=0.01", "name=abc"])
    {'datasets': ['mnist'], 'fixed_lr': 0.01, 'name': 'abc'}
    >>> parse_overrides(["oops"])
    Traceback (most recent call last):
    ...
    freqkit.cli.CommandError: --set 'oops' is not allowed; use KEY=VALUE (VALUE as JSON, e.g. datasets='["mnist"]')
    >>> parse_overrides(["fixed_lr=0.1", "fixed_lr=0.01"])
    Traceback (most recent call last):
    ...
    freqkit.cli.CommandError: --set fixed_lr is given twice (0.1 and 0.01); give each key once
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not all(
            isinstance(i, str) for i in items):
        raise CommandError(f"items={items!r} is not allowed; use a list of 'KEY=VALUE' strings")
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--set {item!r} is not allowed; use KEY=VALUE (VALUE as JSON, "
                               "e.g. datasets='[\"mnist\"]')")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if key in out:
            raise CommandError(f"--set {key} is given twice ({json.dumps(out[key])} and {json.dumps(parsed)}); "
                               "give each key once")
        out[key] = parsed
    return out


def _chapter(name: str) -> Any:
    from freqkit.experiments.scaffold import Chapter, chapters

    if isinstance(name, Chapter):
        return name
    registry = chapters()
    if not isinstance(name, str):
        raise CommandError(f"chapter={name!r} is not allowed; use a Chapter or a chapter name of {registry.names()}")
    if name not in registry:
        raise CommandError(f"unknown chapter {name!r}; use one of {registry.names()}")
    return registry.get(name)


def _run_info(path: Path) -> tuple[float | None, bool]:
    """``(run_seconds, failed)`` of a finished run file."""
    from freqkit import results

    ds = results.load_results(path)
    seconds = ds.attrs.get("run_seconds")
    if seconds is None:  # files written before run_seconds: the stored timings
        timings = [float(ds[v].sum()) for v in ds.data_vars if ds[v].attrs.get("units") == "s"]
        seconds = sum(timings) if timings else None
    failed = bool("failed" in ds and float(ds["failed"].sum()) > 0)
    return (float(seconds) if seconds is not None else None), failed


def parallel_seconds(seconds: Sequence[float], jobs: int) -> float:
    """Wall time of runs of these durations shared by ``jobs`` processes, longest first to the least busy.

    The greedy longest-first schedule of ``freqkit run`` processes that take the next
    unclaimed run (within 4/3 of the best schedule).

    Examples
    --------
    >>> parallel_seconds([5, 4, 3, 3, 3], 2)
    10.0
    >>> parallel_seconds([5, 4, 3], 1), parallel_seconds([], 2)
    (12.0, 0.0)
    """
    jobs = as_int(jobs, "jobs", minimum=1)
    busy = [0.0] * jobs
    for s in sorted((float(v) for v in seconds), reverse=True):
        busy[busy.index(min(busy))] += s
    return max(busy)


def status_report(chapter: Any, preset: str, results_dir: str | None = None,
                  **overrides: Any) -> dict[str, Any]:
    """Runs done / missing / failed of a chapter preset and the estimated cost of the missing ones.

    The estimate is the mean measured ``run_seconds`` of the finished runs times
    the number missing (None when no run has finished yet). ``seconds_done`` is
    the sum of the finished runs' ``run_seconds`` (one process after another),
    ``seconds_done_2_jobs`` the same runs shared by two processes
    (:func:`parallel_seconds`), ``longest_run_seconds`` the longest. ``chapter`` is
    a :class:`~freqkit.experiments.scaffold.Chapter` or its name.
    """
    from freqkit import sweep

    chapter = _chapter(chapter)
    state = chapter.status(preset, results_dir, **overrides)
    seconds, failed = [], 0
    for path in state["done"]:
        s, f = _run_info(path)
        failed += int(f)
        if s is not None:
            seconds.append(s)
    mean = sum(seconds) / len(seconds) if seconds else None
    missing = len(state["missing"])
    return {
        "chapter": chapter.name, "preset": preset,
        "results_dir": str(chapter.results_dir(preset, results_dir)),
        "done": len(state["done"]), "missing": missing, "failed": failed,
        "seconds_per_run": mean,
        "estimated_seconds_missing": None if mean is None else mean * missing,
        "seconds_done": sum(seconds), "seconds_done_2_jobs": parallel_seconds(seconds, 2),
        "longest_run_seconds": max(seconds, default=None),
        "locked": sum(1 for p in state["missing"] if sweep.lock_is_live(p)),
    }


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "unknown (no finished run to measure)"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _cmd_list(args: argparse.Namespace) -> int:
    from freqkit.experiments.scaffold import chapters

    registry = chapters()
    for name in registry.names():
        ch = registry.get(name)
        presets = []
        for pname in ch.presets:
            try:
                n = len(ch.grid(pname, available=tuple(getattr(ch.presets[pname], "datasets", ()))))
            except ValueError:
                n = "?"
            presets.append(f"{pname} ({n} runs)")
        print(f"{name}  {ch.title}")
        print(f"      presets: {', '.join(presets)}")
        if ch.overrides:
            print(f"      --set: {', '.join(ch.overrides)}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    ch = _chapter(args.chapter)
    rep = status_report(ch, args.preset, args.results, **parse_overrides(args.set))
    print(f"{rep['chapter']} preset {rep['preset']} in {rep['results_dir']}: "
          f"{rep['done']} done, {rep['missing']} missing ({rep['locked']} running now), "
          f"{rep['failed']} failed (training stayed at chance)")
    print(f"  measured {_fmt_seconds(rep['seconds_per_run'])} per run; missing runs need about "
          f"{_fmt_seconds(rep['estimated_seconds_missing'])} on this kind of machine")
    if rep["done"]:
        print(f"  the finished runs took {_fmt_seconds(rep['seconds_done'])} one after another "
              f"(longest {_fmt_seconds(rep['longest_run_seconds'])}); shared by 2 processes about "
              f"{_fmt_seconds(rep['seconds_done_2_jobs'])}")
    return 0


#: ``freqkit run`` options of the Slurm executor: (attribute, default, smallest allowed value).
_SLURM_OPTIONS: tuple[tuple[str, Any, float], ...] = (
    ("gpus_per_task", 0, 0), ("cpus_per_task", 2, 1), ("mem_gb", 4.0, 0), ("time", 60, 1),
    ("array_parallelism", 64, 1))


def _slurm_options(args: argparse.Namespace) -> None:
    """Refuse Slurm options without ``--executor slurm``; fill in their defaults and check their range."""
    given = [name for name, _, _ in _SLURM_OPTIONS if getattr(args, name) is not None]
    given += ["wait"] if args.wait else []
    given += ["slurm_partition"] if args.slurm_partition is not None else []
    if args.executor != "slurm":
        if given:
            option = "--" + given[0].replace("_", "-")
            raise CommandError(f"{option} is not allowed with --executor {args.executor}; it applies only "
                               "with --executor slurm")
        return
    for name, default, smallest in _SLURM_OPTIONS:
        value = getattr(args, name)
        if value is None:
            setattr(args, name, default)
        elif not (value >= smallest and value < float("inf")) or (name == "mem_gb" and value == 0):
            option = "--" + name.replace("_", "-")
            allowed = "> 0" if name == "mem_gb" else f">= {smallest}"
            raise CommandError(f"{option} {value} is not allowed; use a value {allowed}")


def _cmd_run(args: argparse.Namespace) -> int:
    from freqkit.device import resolve_device

    ch = _chapter(args.chapter)
    overrides = parse_overrides(args.set)
    ch.get_preset(args.preset)
    _slurm_options(args)
    if args.executor == "slurm":
        from freqkit import slurm

        jobs = slurm.submit_missing(
            ch, args.preset, args.results, device=args.device, overrides=overrides,
            partition=args.slurm_partition, gpus_per_task=args.gpus_per_task,
            time_min=args.time, array_parallelism=args.array_parallelism,
            cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb, wait=args.wait)
        print(f"submitted {len(jobs)} runs of {ch.name}/{args.preset} to Slurm"
              + (f" (job {jobs[0].job_id.split('_')[0]})" if jobs else "")
              + "; follow with: freqkit status " + f"{ch.name} --preset {args.preset}")
        return 0
    resolve_device(args.device)
    ds = ch.run(args.preset, args.results, progress=not args.quiet, device=args.device,
                **overrides)
    print(f"{ch.name}/{args.preset}: {ds.attrs.get('n_runs')} runs in "
          f"{ch.results_dir(args.preset, args.results)}")
    if ds.attrs.get("skipped_datasets"):
        print(f"  skipped: {ds.attrs['skipped_datasets']}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from freqkit.experiments.scaffold import chapters

    registry = chapters()
    common = [p for p in registry.get(registry.names()[0]).presets
              if all(p in registry.get(n).presets for n in registry.names())]
    if args.preset not in common:
        raise CommandError(f"preset={args.preset!r} is not allowed for the book; use one of {common} "
                           "(a preset every chapter has)")
    env = dict(os.environ, FREQKIT_BOOK_PRESET=args.preset)
    script = REPO_ROOT / "scripts" / "book.sh"
    if not script.is_file():
        raise CommandError(f"scripts/book.sh not found next to the package ({script}); "
                           "`freqkit book` needs a source checkout")
    return subprocess.call(["bash", str(script)], env=env)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freqkit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters, their presets and grid sizes")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("chapter", help="chapter name, e.g. ch03 (see `freqkit list`)")
        p.add_argument("--preset", default="smoke", help="smoke, cpu or paper (default smoke)")
        p.add_argument("--results", default=None,
                       help="results folder (default $FREQKIT_RESULTS/<chapter>/<preset> or "
                            "results/<chapter>/<preset>)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="chapter override (JSON value), e.g. --set fixed_lr=0.01")

    run = sub.add_parser("run", help="run (or resume) a chapter's sweep")
    common(run)
    run.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    run.add_argument("--executor", default="local", choices=("local", "slurm"))
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    slurm_opts = run.add_argument_group("slurm (with --executor slurm, through submitit)")
    slurm_opts.add_argument("--slurm-partition", default=None)
    slurm_opts.add_argument("--gpus-per-task", type=int, default=None, help="default 0")
    slurm_opts.add_argument("--cpus-per-task", type=int, default=None, help="default 2")
    slurm_opts.add_argument("--mem-gb", type=float, default=None, help="default 4")
    slurm_opts.add_argument("--time", type=int, default=None, help="minutes per task (default 60)")
    slurm_opts.add_argument("--array-parallelism", type=int, default=None, help="default 64")
    slurm_opts.add_argument("--wait", action="store_true", help="wait for every task to end")

    status = sub.add_parser("status", help="runs done / missing / failed and the cost left")
    common(status)
    book = sub.add_parser("book", help="build the book (scripts/book.sh)")
    book.add_argument("--preset", default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``freqkit`` console script and ``python -m freqkit``."""
    args = _parser().parse_args(argv)
    handler = {"list": _cmd_list, "run": _cmd_run, "status": _cmd_status, "book": _cmd_book}
    try:
        return handler[args.command](args)
    except (ValueError, OSError) as err:  # CommandError and the package's ValueErrors
        print(f"freqkit: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("freqkit: interrupted (finished runs are kept; run again to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
