"""Bad input to the chapter layer: the command line, the scaffold, the book helpers, Slurm and
every chapter module (issue 11). A clear error, never silent wrong data.

The framework (:class:`Kind`, :class:`Call`, :class:`Env`, ``raises``, ``returns``,
``classify`` and the handled / weak / silent rules) is that of ``tests/test_bad_input.py``,
imported from there. Added here:

* ``dry()``: chapter runs without work. :meth:`Chapter.data` says every dataset of the preset
  is available (no data is loaded) and :func:`freqkit.sweep.run_sweep` raises :class:`Ran`
  (the sweep would start: the misuse was accepted), so a misused ``run`` either fails before
  any work or is classified *silent*; ``submitit.AutoExecutor`` (with ``sbatch`` "on PATH")
  and, for ``freqkit book``, ``scripts/book.sh`` are replaced the same way: nothing is submitted
  or built.
* command-line calls (``freqkit run ...`` through :func:`freqkit.cli.main`): *handled* means
  exit status 2 with exactly one ``error:`` line that names the argument (argparse's usage line
  may precede it) and no traceback; *silent* means the command went ahead.
* a check that raises :class:`Weak` classifies the call as weak (the framework's rule for a
  check that raises anything but AssertionError): an error that is not one line, or that comes
  only after the data were loaded.

``python tests/test_bad_input_chapters.py --raw`` classifies every kind;
``--before FILE`` prints the rows below (``-v``: every call with its message). "before" was
measured on the code before the fixes of this change; the parametrised test requires every kind
to be handled now.

Covered: ``freqkit.cli``, ``freqkit.experiments.scaffold``, ``freqkit.book``, ``freqkit.slurm``
and the chapter modules ``freqkit.experiments.ch00`` ... ``ch06``
(``test_every_public_callable_is_covered``: every callable in their ``__all__``, including
each chapter's ``run``, appears in some kind).

==========================  ==================================================  =======  =======
kind                        misuse                                              before   after
==========================  ==================================================  =======  =======
scaffold-preset             unknown / non-str / another chapter's preset        silent   handled
scaffold-overrides          unknown overrides; values of the wrong type/range   weak     handled
scaffold-numpy              numpy scalars / arrays for overrides and flags      weak     handled
scaffold-results-dir        results_dir a file, below one, read-only, '', 3     silent   handled
scaffold-device             unknown / unavailable device strings                handled  handled
scaffold-run-flags          progress='no', None                                 silent   handled
scaffold-available          available= a bare string (substrings), 3, [3]       silent   handled
scaffold-chapter            bad Chapter fields; unknown chapters; bad sources   silent   handled
cli-run                     freqkit run: bad chapter, --set syntax/keys, optio  silent   handled
cli-status-book             freqkit status / book: bad results, presets         silent   handled
book-parameters             papermill parameters: unknown names, bad values     silent   handled
book-helpers                glue formats, run_table input, notebooks, threads   silent   handled
slurm-run-task              unknown chapter/preset/device; bad JSON; results    silent   handled
slurm-submit                resources <= 0 / not ints; bad chapter, device      silent   handled
ch00-configs                config fields out of range; numpy; wrong configs    silent   handled
ch00-analysis               analysis of no chapter's results; tensor shapes     silent   handled
ch01                        preset fields; epsilon not in the results; input    silent   handled
ch02                        preset fields; epsilon, min_accuracy; input         silent   handled
ch03                        preset fields; theory sizes; summaries; input       silent   handled
ch04                        StegoRunConfig/Preset fields; equal PSNR; input     silent   handled
ch05                        attack/arch/run config fields; check_data; input    silent   handled
ch06                        RunSpec/RunConfig/Preset fields; kernels; input     silent   handled
==========================  ==================================================  =======  =======

22 kinds of misuse tried (280 calls): before 1 handled / 2 weak / 19 silent; after 22 handled / 0
weak / 0 silent. By call: before 66 handled / 107 weak / 88 silent of 261 (``ch02.trained_count``
did not exist yet; the calls of the new ``scaffold`` helpers count as weak there), after 280 handled
(18 calls were added with chapter 3's learning-rate rules, chapter 4's equal-PSNR runs,
``cli.parallel_seconds``, ``Chapter.book_grids``, the run table's finished-only datasets and the
pages of chapters that cannot run here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_bad_input import (
    ORDER,
    Call,
    Env,
    Kind,
    _assert,
    assert_covered,
    assert_docstring_table,
    assert_handled,
    fk,
    patched,
    raises,
    returns,
)
from test_bad_input import main as _main

torch.set_num_threads(1)

COVERED_MODULES = ("cli", "experiments.scaffold", "book", "slurm", *(f"experiments.ch0{i}" for i in range(7)))


# =========================================================================== helpers


class Ran(Exception):
    """The chapter's sweep (or a Slurm submission, or the book build) would have started."""


class Weak(Exception):
    """Raised by a check: the misuse was refused, but not well (classified weak)."""


def ch(n: int) -> Any:
    return fk(f"experiments.ch0{n}")


def S() -> Any:
    return fk("experiments.scaffold")


@contextlib.contextmanager
def dry(data_calls: list | None = None) -> Iterator[None]:
    """Chapter runs that load no data and compute nothing (see the module docstring)."""
    scaffold, sweep = S(), fk("sweep")

    def data(self: Any, preset: Any, **overrides: Any) -> tuple[dict[str, str], dict[str, str]]:
        p = self.get_preset(preset)
        kw = self._check_overrides(overrides)
        if data_calls is not None:
            data_calls.append(self.name)
        names = list(getattr(p, "datasets", ()))
        extra = kw.get("datasets")
        names += [extra] if isinstance(extra, str) else [n for n in (extra or ()) if isinstance(n, str)] \
            if isinstance(extra, (list, tuple)) else []
        return {n: "stub" for n in names}, {}

    def run_sweep(configs: Any, run_fn: Any, out_dir: Any, **kw: Any) -> Any:
        raise Ran(f"run_sweep of {len(list(configs))} configs into {out_dir}")

    class Executor:  # submitit.AutoExecutor: nothing is ever submitted
        def __init__(self, **_: Any) -> None:
            raise Ran("submitit")

    import submitit

    sbatch = types.SimpleNamespace(which=lambda name: f"/usr/bin/{name}")  # as on a login node
    with patched(((scaffold.Chapter, "data", data), (sweep, "run_sweep", run_sweep),
                  (submitit, "AutoExecutor", Executor), (fk("slurm"), "shutil", sbatch))):
        yield


def dry_run(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` under :func:`dry`; a started sweep returns ``"ran"`` (misuse accepted)."""
    def call() -> Any:
        with dry():
            try:
                return fn()
            except Ran:
                return "ran"
    return call


def configs_run(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` under :func:`dry`, returning the canonical JSON of the configs the sweep got."""
    def call() -> Any:
        got: list[str] = []
        sweep = fk("sweep")

        def run_sweep(configs: Any, run_fn: Any, out_dir: Any, **kw: Any) -> Any:
            got.extend(sweep.config_json(c) for c in configs)
            raise Ran("ran")

        with dry(), patched(((sweep, "run_sweep", run_sweep),)):
            try:
                fn()
            except Ran:
                pass
        return got
    return call


def before_data(label: str, fn: Callable[[], Any], *needles: str) -> Call:
    """Refused naming ``needles`` before any data are looked for (else weak; accepted: silent)."""
    def call() -> Any:
        seen: list[str] = []
        with dry(seen):
            try:
                fn()
            except Ran:
                return "ran", seen, ""
            except ValueError as err:
                return "error", seen, str(err)
        return "returned", seen, ""

    def check(result: tuple[str, list[str], str]) -> None:
        what, seen, msg = result
        _assert(what == "error", f"accepted ({what})")
        missing = [n for n in needles if n not in msg]
        if missing:
            raise Weak(f"error without {missing}: {msg[:200]}")
        if seen:
            raise Weak(f"refused only after looking for the data of {seen}: {msg[:200]}")
    return returns(label, call, check)


def cli_run(argv: list[str]) -> tuple[Any, str, str]:
    """``freqkit ARGV`` in-process under :func:`dry`: ``(exit status or 'ran', stdout, stderr)``."""
    cli = fk("cli")
    out, err = io.StringIO(), io.StringIO()
    book_sh = types.SimpleNamespace(call=lambda *a, **k: (_ for _ in ()).throw(Ran("book.sh")))
    with dry(), patched(((cli, "subprocess", book_sh),)), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            rc: Any = cli.main(argv)
        except SystemExit as exit_:
            rc = exit_.code
        except Ran:
            rc = "ran"
    return rc, out.getvalue(), err.getvalue()


def cli_error(argv: list[str], *needles: str) -> Call:
    """``freqkit ARGV`` must exit 2 with one ``error:`` line naming ``needles``, no traceback."""
    def check(result: tuple[Any, str, str]) -> None:
        rc, out, err = result
        _assert(rc not in (0, "ran"), f"accepted: exit {rc}, stdout {out.strip()[:120]!r}")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error:" in ln]
        if rc != 2 or "Traceback" in err or len(errors) != 1 or lines[-1] != errors[0]:
            raise Weak(f"exit {rc}, stderr {err.strip()[-300:]!r}")
        missing = [n for n in needles if n not in errors[0]]
        if missing:
            raise Weak(f"error line without {missing}: {errors[0][:200]}")
    return returns("freqkit " + " ".join(argv), lambda: cli_run(argv), check)


def same_json(expected: Callable[[], Any]) -> Callable[[Any], None]:
    """The result's canonical JSON (config, list of configs) equals that of ``expected()``."""
    def check(result: Any) -> None:
        sweep = fk("sweep")
        want = expected()
        as_json = (lambda v: [sweep.config_json(c) if not isinstance(c, str) else c for c in v]) \
            if isinstance(want, list) else sweep.config_json
        _assert(as_json(result) == as_json(want), "differs from the Python-typed call")
    return check


def equal_to(expected: Callable[[], Any]) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        want = expected()
        _assert(result == want, f"{str(result)[:160]} != {str(want)[:160]}")
    return check


def a_file(env: Env) -> Path:
    path = env.mkdir("files") / "not-a-folder"
    path.write_text("x")
    return path


def read_only_dir(env: Env) -> Path:
    """A folder this process cannot write to (root ignores modes: a path on sysfs then)."""
    if os.geteuid() != 0:
        folder = env.mkdir("ro")
        folder.chmod(0o555)
        return folder
    return Path("/sys/freqkit-bad-input-results")


def other_results() -> xr.Dataset:
    """A results dataset of no chapter (another experiment's variables)."""
    return xr.Dataset({"score": (("run",), [0.5, 0.7])}, coords={"run": [0, 1]})


def toy_chapter(**kw: Any) -> Any:
    @dataclasses.dataclass(frozen=True)
    class P:
        name: str
        xs: tuple[int, ...]

    fields: dict[str, Any] = {
        "name": "toy", "title": "Toy", "notebook": "", "presets": {"smoke": P("smoke", (1, 2))},
        "configs": lambda p, available=(): [{"x": x} for x in p.xs],
        "run_one": lambda c: fk("sweep").expand_run_dims(xr.Dataset({"y": ((), c["x"])}), x=c["x"]),
        "check_data": lambda p: ({}, {})}
    fields.update(kw)
    return S().Chapter(**fields)


# =========================================================================== scaffold


def scaffold_calls_preset(env: Env) -> list[Call]:
    ch01, ch02, ch04 = ch(1), ch(2), ch(4)
    return [
        raises("ch01.get_preset('Smoke')", lambda: ch01.get_preset("Smoke"), "preset='Smoke'", "smoke"),
        raises("ch01.get_preset(3)", lambda: ch01.get_preset(3), "preset=3", "smoke"),
        raises("ch01.get_preset(None)", lambda: ch01.get_preset(None), "preset=None", "smoke"),
        raises("ch01.get_preset(chapter 4's smoke preset)", lambda: ch01.get_preset(ch04.PRESETS["smoke"]),
               "preset=", "ch01"),
        returns("ch01.get_preset(numpy str 'smoke')", lambda: ch01.get_preset(np.str_("smoke")),
                lambda p: _assert(p is ch01.PRESETS["smoke"], f"{p!r}")),
        raises("Chapter.grid('huge')", lambda: ch01.CHAPTER.grid("huge", available=()), "preset='huge'"),
        raises("Chapter.status('smok')", lambda: ch01.CHAPTER.status("smok", env.mkdir("st")), "preset='smok'"),
        raises("Chapter.results_dir('huge')", lambda: ch01.CHAPTER.results_dir("huge"), "preset='huge'", "smoke"),
        raises("Chapter.results_dir(3)", lambda: ch01.CHAPTER.results_dir(3), "preset=3"),
        raises("ch02.run(preset=3)", dry_run(lambda: ch02.run(3, env.mkdir("r"), progress=False)), "preset=3"),
        raises("ch02.configs(3)", lambda: ch02.configs(3), "preset=3"),
        *(raises(f"ch0{n}.get_preset(1)", (lambda n=n: ch(n).get_preset(1)), "preset=1", f"ch0{n}")
          for n in (0, 2, 3, 4, 5, 6)),
    ]


def scaffold_calls_overrides(env: Env) -> list[Call]:
    ch01, ch03 = ch(1), ch(3)

    def run3(**kw: Any) -> Callable[[], Any]:
        return dry_run(lambda: ch03.run("smoke", env.mkdir("r"), progress=False, **kw))
    return [
        raises("ch01.run(presett='cpu')", dry_run(lambda: ch01.run("smoke", env.mkdir("r"), presett="cpu")),
               "presett='cpu'", "ch01"),
        raises("ch01.run(datasets=['mnist']) (chapter 1 takes no overrides)",
               dry_run(lambda: ch01.run("smoke", env.mkdir("r"), datasets=["mnist"])), "datasets", "ch01"),
        raises("ch03.run(fixed_lr='0.01')", run3(fixed_lr="0.01"), "fixed_lr='0.01'"),
        raises("ch03.run(fixed_lr=nan)", run3(fixed_lr=math.nan), "fixed_lr=nan"),
        raises("ch03.run(fixed_lr=-0.1)", run3(fixed_lr=-0.1), "fixed_lr=-0.1"),
        raises("ch03.run(fixed_lr=True)", run3(fixed_lr=True), "fixed_lr=True"),
        raises("ch03.run(datasets=3)", run3(datasets=3), "datasets=3"),
        raises("ch03.run(datasets=[])", run3(datasets=[]), "datasets=[]"),
        raises("ch03.grid(datasets=['cifar-10'])",
               lambda: ch03.CHAPTER.grid("smoke", available=("cifar10",), datasets=["cifar-10"]), "cifar-10"),
        before_data("ch03.run(fixed_lr='0.01') before the data are looked for",
                    lambda: ch03.run("smoke", env.mkdir("r"), progress=False, fixed_lr="0.01"), "fixed_lr"),
        before_data("ch03.run(datasets=['cifar-10']) before the data are looked for",
                    lambda: ch03.run("smoke", env.mkdir("r"), progress=False, datasets=["cifar-10"]), "cifar-10"),
    ]


def scaffold_calls_numpy(env: Env) -> list[Call]:
    ch03 = ch(3)
    grid = ch03.CHAPTER.grid
    fm = ("fashion-mnist",)
    return [
        returns("ch03.grid(fixed_lr=np.float32(0.5)) = grid(fixed_lr=0.5)",
                lambda: grid("smoke", available=fm, fixed_lr=np.float32(0.5)),
                same_json(lambda: grid("smoke", available=fm, fixed_lr=0.5))),
        returns("ch03.grid(fixed_lr=np.int64(1)) = grid(fixed_lr=1.0)",
                lambda: grid("smoke", available=fm, fixed_lr=np.int64(1)),
                same_json(lambda: grid("smoke", available=fm, fixed_lr=1.0))),
        returns("ch03.run(datasets=np.array(['fashion-mnist'])) runs the fashion-mnist grid",
                configs_run(lambda: ch03.run("smoke", env.mkdir("r"), progress=False,
                                             datasets=np.array(["fashion-mnist"]))),
                same_json(lambda: [fk("sweep").config_json(c) for c in grid("smoke", available=fm,
                                                                             datasets=["fashion-mnist"])])),
        returns("ch01.run(progress=np.bool_(False)) runs", dry_run(
            lambda: ch(1).run("smoke", env.mkdir("r"), progress=np.bool_(False))),
            lambda r: _assert(r == "ran", f"{r!r}"), on_fail="weak"),
    ]


def scaffold_calls_results_dir(env: Env) -> list[Call]:
    ch01 = ch(1)
    blocker = a_file(env)

    def run(out: Any) -> Callable[[], Any]:
        return dry_run(lambda: ch01.run("smoke", out, progress=False))
    return [
        raises("ch01.run(results_dir=a file)", run(blocker), "results_dir=", "not-a-folder"),
        raises("ch01.run(results_dir=below a file)", run(blocker / "sub"), "results_dir=", "not-a-folder"),
        raises("ch01.run(results_dir=read-only)", run(read_only_dir(env)), "results_dir="),
        raises("ch01.run(results_dir='')", run(""), "results_dir=''"),
        raises("ch01.run(results_dir=3)", run(3), "results_dir=3"),
        raises("Chapter.results_dir('smoke', '')", lambda: ch01.CHAPTER.results_dir("smoke", ""), "results_dir=''"),
        raises("Chapter.status(results_dir=a file)", dry_run(lambda: ch01.CHAPTER.status("smoke", blocker)),
               "results_dir=", "not-a-folder"),
        raises("default_results_root() with FREQKIT_RESULTS=a file",
               lambda: _with_env({"FREQKIT_RESULTS": str(blocker)}, S().default_results_root),
               "FREQKIT_RESULTS", "not-a-folder"),
        before_data("ch01.run(results_dir=a file) before the data are looked for",
                    lambda: ch01.run("smoke", blocker, progress=False), "results_dir"),
    ]


def _with_env(values: dict[str, str | None], fn: Callable[[], Any]) -> Any:
    with patched(env=values):
        return fn()


def scaffold_calls_device(env: Env) -> list[Call]:
    ch01 = ch(1)

    def run(device: Any) -> Callable[[], Any]:
        return dry_run(lambda: ch01.run("smoke", env.mkdir("r"), progress=False, device=device))
    return [
        raises("ch01.run(device='gpu')", run("gpu"), "device='gpu'", "cpu"),
        raises("ch01.run(device='cuda:99')", run("cuda:99"), "device='cuda:99'"),
        raises("ch01.run(device=3)", run(3), "device=3"),
        before_data("ch01.run(device='gpu') before the data are looked for",
                    lambda: ch01.run("smoke", env.mkdir("r"), progress=False, device="gpu"), "device"),
    ]


def scaffold_calls_flags(env: Env) -> list[Call]:
    ch01 = ch(1)
    return [
        raises("ch01.run(progress='no')", dry_run(lambda: ch01.run("smoke", env.mkdir("r"), progress="no")),
               "progress='no'"),
        raises("ch01.run(progress=None)", dry_run(lambda: ch01.run("smoke", env.mkdir("r"), progress=None)),
               "progress=None"),
    ]


def scaffold_calls_available(env: Env) -> list[Call]:
    ch02, ch06 = ch(2), ch(6)
    sweep = fk("sweep")
    keys = lambda cs: sorted(sweep.run_key(c) for c in cs)
    return [
        returns("ch02.CHAPTER.grid(available='fashion-mnist') = available=('fashion-mnist',)",
                lambda: keys(ch02.CHAPTER.grid("smoke", available="fashion-mnist")),
                equal_to(lambda: keys(ch02.CHAPTER.grid("smoke", available=("fashion-mnist",))))),
        returns("ch02.configs(available='fashion-mnist') = available=('fashion-mnist',) (not mnist too)",
                lambda: keys(ch02.configs("smoke", available="fashion-mnist")),
                equal_to(lambda: keys(ch02.configs("smoke", available=("fashion-mnist",))))),
        returns("ch06.configs(available='cifar10') = available=('cifar10',)",
                lambda: keys(ch06.configs("smoke", available="cifar10")),
                equal_to(lambda: keys(ch06.configs("smoke", available=("cifar10",))))),
        raises("Chapter.grid(available=3)", lambda: ch02.CHAPTER.grid("smoke", available=3), "available=3"),
        raises("ch04.configs(available=[3])", lambda: ch(4).configs("smoke", available=[3]), "available=[3]"),
        raises("as_names(['mnist', 3], 'datasets')", lambda: S().as_names(["mnist", 3], "datasets"),
               "datasets=['mnist', 3]"),
        returns("as_names(np.array(['a', 'b'])) = ('a', 'b')", lambda: S().as_names(np.array(["a", "b"])),
                lambda r: _assert(r == ("a", "b") and all(type(n) is str for n in r), f"{r!r}")),
    ]


def scaffold_calls_chapter(env: Env) -> list[Call]:
    scaffold = S()
    p = types.SimpleNamespace(datasets=("fashion-mnist",), grayscale=False)
    return [
        raises("Chapter(overrides='datasets')", lambda: toy_chapter(overrides="datasets"), "overrides='datasets'"),
        raises("Chapter(overrides=('preset',))", lambda: toy_chapter(overrides=("preset",)), "overrides", "preset"),
        raises("Chapter(book_grids=({'lr': 1},))", lambda: toy_chapter(book_grids=({"lr": 1},)), "book_grids=",
               "overrides"),
        raises("Chapter(name=3)", lambda: toy_chapter(name=3), "name=3"),
        raises("Chapter(run_one=None)", lambda: toy_chapter(run_one=None), "run_one=None"),
        raises("Chapter(presets=a list)", lambda: toy_chapter(presets=["smoke"]), "presets=['smoke']"),
        raises("Chapter(presets={}): no presets", lambda: toy_chapter(presets={}), "presets={}"),
        raises("register('ch01')", lambda: scaffold.register("ch01"), "chapter='ch01'"),
        raises("chapters().get('ch7')", lambda: scaffold.chapters().get("ch7"), "'ch7'", "ch00"),
        raises("CHAPTERS.get(1)", lambda: scaffold.CHAPTERS.get(1), "1", "ch00"),
        raises("check_first_available(datasets=3)", lambda: scaffold.check_first_available(p, datasets=3),
               "datasets=3"),
        raises("check_first_available('smoke') (a name, no preset)",
               lambda: scaffold.check_first_available("smoke"), "preset='smoke'"),
        raises("describe_source(None)", lambda: scaffold.describe_source(None), "source=None"),
        raises("describe_source(3, checksum)", lambda: scaffold.describe_source(3, "sha256:ab"), "source=3"),
        raises("as_ints('12', 'seeds')", lambda: S().as_ints("12", "seeds", minimum=0), "seeds='12'"),
        returns("as_ints((np.int64(1), 2), 'seeds') = (1, 2)", lambda: S().as_ints((np.int64(1), 2), "seeds"),
                lambda r: _assert(r == (1, 2) and all(type(v) is int for v in r), f"{r!r}")),
        raises("check_sweep_preset(None)", lambda: S().check_sweep_preset(None), "preset=None"),
        raises("takes_results('ch09')(fn)(None)", lambda: S().takes_results("ch09")(lambda ds: ds.x)(None),
               "ds=None", "ch09"),
        raises("takes_results(3) (not a chapter name)", lambda: S().takes_results(3), "chapter=3"),
    ]


# =========================================================================== cli


def cli_calls_run(env: Env) -> list[Call]:
    out = str(env.mkdir("cli"))
    blocker = str(a_file(env))
    return [
        cli_error(["run", "ch9"], "'ch9'", "ch00"),
        cli_error(["run", "ch01", "--results", out, "--set", "oops"], "'oops'", "KEY=VALUE"),
        cli_error(["run", "ch01", "--results", out, "--set", "=1"], "'=1'", "KEY=VALUE"),
        cli_error(["run", "ch01", "--results", out, "--set", "presett=cpu"], "presett", "ch01"),
        cli_error(["run", "ch03", "--results", out, "--set", "fixed_lr=0.1", "--set", "fixed_lr=0.01"],
                  "fixed_lr", "twice"),
        cli_error(["run", "ch03", "--results", out, "--set", "fixed_lr=abc"], "fixed_lr='abc'"),
        cli_error(["run", "ch03", "--results", out, "--set", "datasets=[mnist]"], "datasets='[mnist]'"),
        cli_error(["run", "ch01", "--results", out, "--preset", "big"], "preset='big'", "smoke"),
        cli_error(["run", "ch01", "--results", out, "--device", "gpu"], "device='gpu'"),
        cli_error(["run", "ch01", "--results", blocker], "results_dir=", "not-a-folder"),
        cli_error(["run"], "chapter"),
        cli_error(["run", "ch01", "--preset"], "--preset"),
        cli_error(["run", "ch01", "--results", out, "--gpus-per-task", "1"], "--gpus-per-task", "--executor slurm"),
        cli_error(["run", "ch01", "--results", out, "--executor", "slurm", "--time", "-5"], "--time", "-5"),
        cli_error(["run", "ch01", "--results", out, "--executor", "slurm", "--array-parallelism", "0"],
                  "--array-parallelism", "0"),
        cli_error(["run", "ch01", "--results", out, "--executor", "slurm", "--mem-gb", "nan"], "--mem-gb", "nan"),
        cli_error(["list", "ch01"], "ch01"),
        raises("parse_overrides('fixed_lr=0.1') (a string, not a list)",
               lambda: fk("cli").parse_overrides("fixed_lr=0.1"), "items='fixed_lr=0.1'"),
        raises("parse_overrides(['a=1', 'a=2'])", lambda: fk("cli").parse_overrides(["a=1", "a=2"]), "a", "twice"),
    ]


def cli_calls_status_book(env: Env) -> list[Call]:
    cli = fk("cli")
    blocker = str(a_file(env))
    out = str(env.mkdir("st"))
    return [
        cli_error(["status", "ch01", "--results", blocker], "results_dir=", "not-a-folder"),
        cli_error(["status", "ch01", "--results", out, "--preset", "huge"], "preset='huge'"),
        cli_error(["status", "ch01", "--results", out, "--set", "presett=1"], "presett"),
        returns("status_report('ch01', ...) (a chapter name) = status_report(CHAPTER, ...)",
                dry_run(lambda: cli.status_report("ch01", "smoke", out)),
                equal_to(dry_run(lambda: cli.status_report(ch(1).CHAPTER, "smoke", out)))),
        raises("status_report(3, ...)", dry_run(lambda: cli.status_report(3, "smoke", out)), "chapter=3"),
        raises("parallel_seconds([1], jobs=0)", lambda: cli.parallel_seconds([1.0], 0), "jobs=0"),
        cli_error(["book", "--preset", "huge"], "preset='huge'", "cpu"),
    ]


# =========================================================================== book


def book_calls_parameters(env: Env) -> list[Call]:
    book, ch03 = fk("book"), ch(3).CHAPTER
    check = book.check_parameters
    return [
        raises("check_parameters(presett='cpu')", lambda: check({"preset": "smoke", "presett": "cpu"}, ch03),
               "presett='cpu'"),
        raises("check_parameters(preset='huge')", lambda: check({"preset": "huge"}, ch03), "preset='huge'",
               "smoke", accepted="weak"),
        raises("check_parameters(preset=3)", lambda: check({"preset": 3}, ch03), "preset=3", accepted="weak"),
        raises("check_parameters(results_dir=3)", lambda: check({"preset": "smoke", "results_dir": 3}, ch03),
               "results_dir=3", accepted="weak"),
        raises("check_parameters(fixed_lr='abc')", lambda: check({"preset": "smoke", "fixed_lr": "abc"}, ch03),
               "fixed_lr='abc'", accepted="weak"),
        raises("check_parameters(presett=np.int64(3))", lambda: check({"presett": np.int64(3)}, ch03), "presett"),
        raises("check_parameters(None, chapter)", lambda: check(None, ch03), "namespace=None"),
        raises("check_parameters(presett, chapter='ch03') (a name)",
               lambda: check({"preset": "smoke", "presett": "cpu"}, "ch03"), "presett='cpu'"),
        raises("check_parameters(chapter=3)", lambda: check({"preset": "smoke"}, 3), "chapter=3"),
    ]


def book_calls_helpers(env: Env) -> list[Call]:
    book = fk("book")
    text = env.mkdir("nb") / "notes.txt"
    text.write_text("not a notebook")

    def threads(value: str) -> Callable[[], Any]:
        def call() -> Any:
            try:
                with patched(env={"FREQKIT_THREADS": value}):
                    return book.setup_notebook()
            finally:
                torch.set_num_threads(1)
        return call
    return [
        raises("glue('x', 'abc', '{:.3f}')", lambda: book.glue("x", "abc", "{:.3f}"), "fmt='{:.3f}'", "'abc'"),
        raises("glue(3, 1.0)", lambda: book.glue(3, 1.0), "name=3"),
        raises("glue('x', 1.0, fmt=3)", lambda: book.glue("x", 1.0, 3), "fmt=3"),
        raises("run_table(None)", lambda: book.run_table(None), "ds=None"),
        raises("run_table(dataset_sources not JSON)",
               lambda: book.run_table(xr.Dataset(attrs={"dataset_sources": "{oops"})), "dataset_sources"),
        raises("unavailable_reason('nope.ipynb')", lambda: book.unavailable_reason("nope.ipynb", "smoke"),
               "notebook='nope.ipynb'", "chapter notebook"),
        raises("unavailable_reason(ch01, preset='big')",
               lambda: book.unavailable_reason("notebooks/01_implicit_bias_norms.ipynb", "big"), "preset='big'"),
        raises("write_unavailable_page(reason='')",
               lambda: book.write_unavailable_page("notebooks/01_implicit_bias_norms.ipynb", env.mkdir() / "p.ipynb", ""),
               "reason=''"),
        raises("run_table(finished_only_datasets a dict)",
               lambda: book.run_table(xr.Dataset(attrs={"finished_only_datasets": '{"a": 1}'})),
               "finished_only_datasets", "JSON list"),
        raises("tag_parameter_cells(missing file)", lambda: book.tag_parameter_cells(text.parent / "none.ipynb"),
               "path=", "none.ipynb"),
        raises("tag_parameter_cells(not a notebook)", lambda: book.tag_parameter_cells(text), "path=", "notes.txt"),
        raises("setup_notebook() with FREQKIT_THREADS='two'", threads("two"), "FREQKIT_THREADS='two'"),
        raises("setup_notebook() with FREQKIT_THREADS='0'", threads("0"), "FREQKIT_THREADS='0'"),
    ]


# =========================================================================== slurm


def slurm_calls_run_task(env: Env) -> list[Call]:
    slurm = fk("slurm")
    out = str(env.mkdir("slurm"))
    blocker = str(a_file(env))

    def a_config() -> str:
        with dry():
            return fk("sweep").config_json(ch(1).CHAPTER.grid("smoke")[0])
    return [
        raises("run_task('ch99', ...)", dry_run(lambda: slurm.run_task("ch99", "smoke", "{}", out)), "'ch99'"),
        raises("run_task(preset='huge')", dry_run(lambda: slurm.run_task("ch01", "huge", "{}", out)), "'huge'"),
        raises("run_task(overrides_json not JSON)", dry_run(
            lambda: slurm.run_task("ch03", "smoke", "{}", out, overrides_json="{oops")), "overrides_json"),
        raises("run_task(device='gpu')", dry_run(
            lambda: slurm.run_task("ch01", "smoke", a_config(), out, device="gpu")), "device='gpu'"),
        raises("run_task(config not in the grid)", dry_run(
            lambda: slurm.run_task("ch01", "smoke", '{"x": 1}', out)), "config", "not in the grid"),
        raises("run_task(results_dir=a file)", dry_run(
            lambda: slurm.run_task("ch01", "smoke", a_config(), blocker)), "results_dir=", "not-a-folder"),
    ]


def slurm_calls_submit(env: Env) -> list[Call]:
    slurm = fk("slurm")
    c1 = ch(1).CHAPTER

    def submit(chapter: Any = None, preset: str = "smoke", **kw: Any) -> Callable[[], Any]:
        return dry_run(lambda: slurm.submit_missing(chapter or c1, preset, str(env.mkdir("sub")), **kw))
    return [
        raises("submit_missing(chapter=3)", submit(chapter=3), "chapter=3"),
        raises("submit_missing(gpus_per_task=-1)", submit(gpus_per_task=-1), "gpus_per_task=-1"),
        raises("submit_missing(time_min=0)", submit(time_min=0), "time_min=0"),
        raises("submit_missing(cpus_per_task=1.5)", submit(cpus_per_task=1.5), "cpus_per_task=1.5"),
        raises("submit_missing(mem_gb=-4)", submit(mem_gb=-4), "mem_gb=-4"),
        raises("submit_missing(array_parallelism=0)", submit(array_parallelism=0), "array_parallelism=0"),
        raises("submit_missing(device='gpu')", submit(device="gpu"), "device='gpu'"),
        raises("submit_missing(preset='huge')", submit(preset="huge"), "preset='huge'"),
        raises("submit_missing(overrides={'presett': 1})", submit(overrides={"presett": 1}), "presett"),
        returns("submit_missing(gpus_per_task=np.int64(0), time_min=np.int64(5)) submits",
                submit(gpus_per_task=np.int64(0), time_min=np.int64(5)),
                lambda r: _assert(r == "ran", f"{r!r}"), on_fail="weak"),
    ]


# =========================================================================== chapters


def results_calls(module: Any, names: tuple[str, ...], arg: str = "ds", n: str = "") -> list[Call]:
    """Each analysis function given results of no chapter, and a path instead of a dataset."""
    calls = []
    for i, name in enumerate(names):
        fn = getattr(module, name, None)
        if fn is None:  # a function newer than the code measured (the "before" column)
            continue
        bad: Any = other_results() if i % 2 == 0 else f"results/{n}/cpu"
        calls.append(raises(f"{n}.{name}({'other results' if i % 2 == 0 else 'a path'})",
                            (lambda fn=fn, bad=bad: fn(bad)), f"{arg}=", n))
    return calls


def ch00_calls_configs(env: Env) -> list[Call]:
    c = ch(0)
    cfg = lambda **kw: c.ImageSetConfig(**{"image_set": "cifar10", "n_images": 5, **kw})
    return [
        raises("ch00.configs(3)", lambda: c.configs(3), "preset=3"),
        returns("ImageSetConfig(n_images=np.int64(5)) = n_images=5", lambda: cfg(n_images=np.int64(5)),
                same_json(lambda: cfg(n_images=5)), on_fail="weak"),
        raises("ImageSetConfig(blur_sigma='1')", lambda: cfg(blur_sigma="1"), "blur_sigma='1'"),
        raises("ImageSetConfig(noise_seed=-1)", lambda: cfg(noise_seed=-1), "noise_seed=-1"),
        raises("ImageSetConfig(n_examples=2.5)", lambda: cfg(n_examples=2.5), "n_examples=2.5"),
        raises("KernelConfig(kernel_sizes=(3.5,))", lambda: c.KernelConfig(kernel_sizes=(3.5,)), "kernel_sizes"),
        raises("KernelConfig(n=0)", lambda: c.KernelConfig(kernel_sizes=(3,), n=0), "n=0"),
        raises("KernelConfig(gaussian_widths=(0.0,))", lambda: c.KernelConfig(gaussian_widths=(0.0,)),
               "gaussian_widths=(0.0,)"),
        raises("Preset(n_foolbox=50)", lambda: c.Preset("x", n_foolbox=50, n_fashion_mnist=10, n_cifar10=10),
               "n_foolbox=50", accepted="weak"),
        raises("ch00.run_one('smoke')", lambda: c.run_one("smoke"), "config", "str"),
        raises("run_image_set(KernelConfig())", lambda: c.run_image_set(c.KernelConfig()), "config=", "KernelConfig"),
        raises("run_kernels(ImageSetConfig)", lambda: c.run_kernels(cfg()), "config=", "ImageSetConfig"),
        raises("load_image_set('cifar10')", lambda: c.load_image_set("cifar10"), "config='cifar10'"),
        raises("kernel_kappa(None)", lambda: c.kernel_kappa(None), "config=None"),
        returns("available_image_sets(names='foolbox-cifar10') = names=('foolbox-cifar10',)",
                lambda: c.available_image_sets(names="foolbox-cifar10"),
                equal_to(lambda: c.available_image_sets(names=("foolbox-cifar10",)))),
        raises("available_image_sets(names=['nope'])", lambda: c.available_image_sets(names=["nope"]),
               "names=['nope']", accepted="silent"),
        raises("ch00.run(preset='huge')", dry_run(lambda: c.run("huge", env.mkdir("r"))), "preset='huge'"),
    ]


def ch00_calls_analysis(env: Env) -> list[Call]:
    c = ch(0)
    x = torch.rand(2, 3, 8, 8)
    y = torch.zeros(2, dtype=torch.long)
    return results_calls(c, ("f50_table", "claims_table", "image_set_table", "findings", "jpeg_finding"),
                         n="ch00") + [
        raises("jpeg_table({})", lambda: c.jpeg_table({}), "jf={}"),
        raises("combine([])", lambda: c.combine([]), "paths=[]"),
        raises("combine_datasets([], [])", lambda: c.combine_datasets([], []), "runs=[]"),
        raises("combine_datasets(1 run, 0 names)", lambda: c.combine_datasets([other_results()], []), "names=[]"),
        raises("image_set_metrics(numpy x)",
               lambda: c.image_set_metrics(x.numpy(), c.ImageSetConfig("cifar10", 5)), "x="),
        raises("match_pairs(pool of other image size)",
               lambda: c.match_pairs(x, y, torch.rand(3, 3, 4, 4), torch.zeros(3, dtype=torch.long)), "pool"),
        raises("jpeg_pair_metrics(other of 3 images for 2)",
               lambda: c.jpeg_pair_metrics(x, torch.rand(3, 3, 8, 8), torch.arange(2)), "other"),
    ]


def ch01_calls(env: Env) -> list[Call]:
    c = ch(1)
    base = c.PRESETS["smoke"]
    toy = c._toy_results()
    return [
        raises("ch01.Preset(seeds=(-1,))", lambda: dataclasses.replace(base, seeds=(-1,)), "seeds=(-1,)"),
        raises("ch01.Preset(datasets=('fashion',))", lambda: dataclasses.replace(base, datasets=("fashion",)),
               "datasets=('fashion',)"),
        raises("ch01.Preset(models=('cnn',))", lambda: dataclasses.replace(base, models=("cnn",)), "models=('cnn',)"),
        raises("ch01.Preset(epsilon_main=3.0 not in epsilons)",
               lambda: dataclasses.replace(base, epsilon_main=3.0), "epsilon_main=3.0"),
        returns("ch01.Preset(seeds=(np.int64(0),)) = seeds=(0,)",
                lambda: c.configs(dataclasses.replace(base, seeds=(np.int64(0),))),
                same_json(lambda: c.configs(base)), on_fail="weak"),
        raises("ch01.norm_summary(epsilon=7.0 not in the results)", lambda: c.norm_summary(toy, 7.0),
               "epsilon=7.0", "1.0"),
        raises("ch01.claims_table(epsilon='1')", lambda: c.claims_table(toy, "1"), "epsilon='1'"),
        raises("ch01.run(results_dir='')", dry_run(lambda: c.run("smoke", "")), "results_dir=''"),
        *results_calls(c, ("accuracy_table", "claims_table", "norm_summary"), n="ch01")[:1],
        raises("ch01.norm_summary(a path)", lambda: c.norm_summary("results/ch01/cpu", 1.0), "ds=", "ch01"),
        raises("ch01.claims_table(other results)", lambda: c.claims_table(other_results(), 1.0), "ds=", "ch01"),
    ]


def ch02_calls(env: Env) -> list[Call]:
    c = ch(2)
    base = c.PRESETS["smoke"]
    toy = c._toy_results()
    return [
        raises("ch02.Preset(kernel_size=0)", lambda: dataclasses.replace(base, kernel_size=0), "kernel_size=0"),
        raises("ch02.Preset(depths=(0,))", lambda: dataclasses.replace(base, depths=(0,)), "depths=(0,)"),
        raises("ch02.grid_table('huge')", lambda: c.grid_table("huge"), "preset='huge'"),
        raises("ch02.f50_runs(epsilon=9.0)", lambda: c.f50_runs(toy, 9.0), "epsilon=9.0"),
        raises("ch02.f50_summary(min_accuracy=2.0)", lambda: c.f50_summary(toy, min_accuracy=2.0),
               "min_accuracy=2.0"),
        raises("ch02.training_note(min_accuracy='0.6')", lambda: c.training_note(toy, "0.6"), "min_accuracy='0.6'"),
        raises("ch02.run(device='tpu')", dry_run(lambda: c.run("smoke", env.mkdir("r"), device="tpu")),
               "device='tpu'"),
        *results_calls(c, ("f50_runs", "f50_summary", "ordering_checks", "claims_table", "verdict",
                           "accuracy_table", "f50_accuracy_correlation", "flat_f50", "training_note",
                           "trained_count"), n="ch02"),
    ]


def ch03_calls(env: Env) -> list[Call]:
    c = ch(3)
    base = c.PRESETS["smoke"]
    summary = c.kappa_summary(c._toy_results())
    return [
        raises("ch03.Preset(kernel_sizes=(0,))", lambda: dataclasses.replace(base, kernel_sizes=(0,)),
               "kernel_sizes=(0,)"),
        raises("ch03.Preset(image_size=-32)", lambda: dataclasses.replace(base, image_size=-32), "image_size=-32"),
        raises("ch03.settings_table(dataset='cifar-10')", lambda: c.settings_table("cpu", "cifar-10"),
               "dataset='cifar-10'"),
        raises("ch03.box_kappa_high(depth=0)", lambda: c.box_kappa_high(3, 32, 15, depth=0), "depth=0"),
        returns("ch03.box_kappa_high(np.int64 k, n, kappa_k) = Python ints",
                lambda: c.box_kappa_high(np.int64(3), np.int64(32), np.int64(15)),
                equal_to(lambda: c.box_kappa_high(3, 32, 15)), on_fail="weak"),
        raises("ch03.uncertainty_kappa_bound(support=0)", lambda: c.uncertainty_kappa_bound(0, 32, 15), "support=0"),
        raises("ch03.random_kernel_kappa_high(draws=0)", lambda: c.random_kernel_kappa_high(3, 32, 15, draws=0),
               "draws=0"),
        raises("ch03.theory_curves(kernel_sizes=[])", lambda: c.theory_curves([], [1]), "kernel_sizes=[]"),
        raises("ch03.flat_kappa_high(n=0)", lambda: c.flat_kappa_high(0, 15), "n=0"),
        raises("ch03.grid_table(var='nope')", lambda: c.grid_table(summary, "nope"), "var='nope'"),
        raises("ch03.verdict('x', {})", lambda: c.verdict("x", {}), "claims='x'"),
        *results_calls(c, ("kappa_summary", "claims_table"), n="ch03"),
        *results_calls(c, ("lr_table", "training_facts", "same_rate_trends"), arg="summary", n="ch03"),
        *results_calls(c, ("theory_claims", "theory_notes"), arg="theory", n="ch03"),
        raises("ch03.run(fixed_lr='x')", dry_run(lambda: c.run("smoke", env.mkdir("r"), fixed_lr="x")),
               "fixed_lr='x'"),
        raises("ch03.run(lr_rule='best')", dry_run(lambda: c.run("smoke", env.mkdir("r"), lr_rule="best")),
               "lr_rule='best'", "'retry', 'select'"),
        raises("ch03.configs(lr_rule='select', fixed_lr=0.01)",
               lambda: c.configs("smoke", lr_rule="select", fixed_lr=0.01), "lr_rule='select'", "fixed_lr=0.01"),
        raises("ch03.rule_table({})", lambda: c.rule_table({}), "summaries={}"),
        raises("ch03.rule_table(results, not summaries)", lambda: c.rule_table({"x": c._toy_results()}),
               "summaries['x']=", "kappa_summary"),
    ]


def ch04_calls(env: Env) -> list[Call]:
    c = ch(4)
    base = c.PRESETS["smoke"]
    cfg = lambda **kw: c.StegoRunConfig(**{"band": "high", "band_lo": 0.25, "band_hi": 0.5, "epsilon": 0.1,
                                           **kw})
    return [
        raises("ch04.ModelSpec('cnn')", lambda: c.ModelSpec("cnn"), "name='cnn'"),
        raises("ch04.ModelSpec(channels=0)", lambda: c.ModelSpec("lkc", channels=0), "channels=0"),
        raises("StegoRunConfig(model='cnn')", lambda: cfg(model="cnn"), "model='cnn'"),
        raises("StegoRunConfig(dataset=3)", lambda: cfg(dataset=3), "dataset=3"),
        raises("StegoRunConfig(seed=-1)", lambda: cfg(seed=-1), "seed=-1"),
        raises("StegoRunConfig(depth=0)", lambda: cfg(depth=0), "depth=0"),
        raises("StegoRunConfig(n_train=0)", lambda: cfg(n_train=0), "n_train=0"),
        returns("StegoRunConfig(seed=np.int64(1)) = seed=1", lambda: cfg(seed=np.int64(1), n_train=np.int64(8)),
                same_json(lambda: cfg(seed=1, n_train=8)), on_fail="weak"),
        raises("ch04.Preset(epsilon=-1)", lambda: dataclasses.replace(base, epsilon=-1.0), "epsilon=-1.0"),
        raises("ch04.Preset(bands=('ultra',))", lambda: dataclasses.replace(base, bands=("ultra",)),
               "bands=('ultra',)"),
        raises("ch04.Preset(seeds=(0.5,))", lambda: dataclasses.replace(base, seeds=(0.5,)), "seeds=(0.5,)"),
        raises("ch04.run_one('smoke')", lambda: c.run_one("smoke"), "cfg='smoke'"),
        raises("ch04.run_one(a chapter-6 config)", lambda: c.run_one(ch(6).configs("smoke")[0]), "cfg=",
               "StegoRunConfig"),
        raises("ch04.settings_table(3)", lambda: c.settings_table(3), "preset=3"),
        raises("ch04.run(presett='cpu')", dry_run(lambda: c.run("smoke", env.mkdir("r"), presett="cpu")),
               "presett"),
        raises("StegoRunConfig(psnr_db=-3)", lambda: cfg(psnr_db=-3.0), "psnr_db=-3.0"),
        raises("StegoRunConfig(band='clean', psnr_db=30)", lambda: c.StegoRunConfig(psnr_db=30.0), "psnr_db=30.0",
               "band='clean'"),
        raises("ch04.Preset(equal_psnr_db=0)", lambda: dataclasses.replace(base, equal_psnr_db=0.0),
               "equal_psnr_db=0.0"),
        raises("ch04.at_scaling(ds, 'db')", lambda: c.at_scaling(c._toy_results(), "db"), "scaling='db'",
               "'epsilon'"),
        raises("ch04.gain_summary(two scalings)", lambda: c.gain_summary(xr.concat(
            [c._toy_results().expand_dims(scaling=[s]) for s in c.SCALINGS], "scaling")), "at_scaling"),
        raises("ch04.scaling_table(one scaling)", lambda: c.scaling_table(
            c._toy_results().expand_dims(scaling=["epsilon"])), "scalings ['epsilon']", "'psnr'"),
        *results_calls(c, ("gain_summary", "table1", "swap_table", "claims_table", "verdict", "at_scaling",
                           "scaling_table"), n="ch04"),
    ]


def ch05_calls(env: Env) -> list[Call]:
    c = ch(5)
    base = c.PRESETS["smoke"]
    cifar = next(x for x in c.configs("smoke") if x.kind == "cifar")
    imnet = next(x for x in c.configs("smoke") if x.kind == "imagenet")
    return [
        returns("AttackSetting(steps=np.int64(3)) = steps=3", lambda: c.AttackSetting("pgd-l2", 1.0, np.int64(3), 0.5),
                same_json(lambda: c.AttackSetting("pgd-l2", 1.0, 3, 0.5)), on_fail="weak"),
        raises("AttackSetting(rel_stepsize='0.5')", lambda: c.AttackSetting("pgd-l2", 1.0, 3, "0.5"),
               "rel_stepsize='0.5'"),
        raises("ArchSetting('nope', 8, 1)", lambda: c.ArchSetting("nope", 8, 1), "name='nope'"),
        raises("ArchSetting('resnet', 0, 1)", lambda: c.ArchSetting("resnet", 0, 1), "width=0"),
        raises("ImageNetRunConfig(n_images=0)", lambda: dataclasses.replace(imnet, n_images=0), "n_images=0"),
        raises("ImageNetRunConfig(batch_size=0)", lambda: dataclasses.replace(imnet, batch_size=0), "batch_size=0"),
        raises("CifarRunConfig(n_attack=0)", lambda: dataclasses.replace(cifar, n_attack=0), "n_attack=0"),
        raises("CifarRunConfig(dataset=None)", lambda: dataclasses.replace(cifar, dataset=None), "dataset=None"),
        raises("ch05.Preset(seeds=(-1,))", lambda: dataclasses.replace(base, seeds=(-1,)), "seeds=(-1,)"),
        raises("ch05.check_data(3)", lambda: c.check_data(3), "preset=3"),
        raises("ch05.run_one('smoke')", lambda: c.run_one("smoke"), "cfg='smoke'"),
        raises("ch05.run(results_dir=a file)", dry_run(lambda: c.run("smoke", a_file(env))), "results_dir="),
        *results_calls(c, ("summary_table", "claims_table"), n="ch05"),
    ]


def ch06_calls(env: Env) -> list[Call]:
    c = ch(6)
    base = c.PRESETS["smoke"]
    cfg = c.configs("smoke")[0]
    return [
        raises("RunSpec(mode='adv')", lambda: c.RunSpec("x", "adv"), "mode='adv'"),
        raises("RunSpec(epsilon=-1)", lambda: c.RunSpec("x", "pgd", epsilon=-1.0), "epsilon=-1.0"),
        raises("RunSpec(train_steps=0)", lambda: c.RunSpec("x", "pgd", train_steps=0), "train_steps=0"),
        raises("ch06.RunConfig(width=0)", lambda: dataclasses.replace(cfg, width=0), "width=0"),
        raises("ch06.RunConfig(n_eval=0)", lambda: dataclasses.replace(cfg, n_eval=0), "n_eval=0"),
        returns("ch06.RunConfig(seed=np.int64(0)) = seed=0", lambda: dataclasses.replace(cfg, seed=np.int64(0)),
                same_json(lambda: cfg), on_fail="weak"),
        raises("ch06.Preset(epochs=0)", lambda: dataclasses.replace(base, epochs=0), "epochs=0"),
        raises("ch06.Preset(models=(('resnet9', 2, None),))",
               lambda: dataclasses.replace(base, models=(("resnet9", 2, None),)), "resnet9"),
        raises("ch06.run_one('smoke')", lambda: c.run_one("smoke"), "cfg='smoke'"),
        raises("ch06.run_one(a chapter-0 config)", lambda: c.run_one(ch(0).KernelConfig()), "cfg=", "RunConfig"),
        raises("kernel_smoothness(numpy weight)", lambda: c.kernel_smoothness(np.zeros((2, 3, 3, 3))), "weight"),
        raises("kernel_smoothness(2-D weight)", lambda: c.kernel_smoothness(torch.zeros(3, 3)), "weight"),
        raises("collapse_epoch(['a'])", lambda: c.collapse_epoch(["a"]), "pgd_accuracy=['a']"),
        raises("collapse_epoch(ratio=2)", lambda: c.collapse_epoch([0.5, 0.4], ratio=2.0), "ratio=2.0"),
        raises("ch06.run(preset=None)", dry_run(lambda: c.run(None, env.mkdir("r"))), "preset=None"),
        *results_calls(c, ("stopping_table", "overfitting_table", "aliasing_table", "checkpoint_table",
                           "summary_table", "claims_table"), n="ch06"),
    ]


# =========================================================================== the kinds


def _f(module: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{module}.{n}" for n in names)


def _ch(n: int, *names: str) -> tuple[str, ...]:
    return _f(f"experiments.ch0{n}", *names)


KINDS: list[Kind] = [
    Kind("scaffold-preset", _f("experiments.scaffold", "Chapter")
         + tuple(f"experiments.ch0{n}.get_preset" for n in range(7)),
         "unknown / non-str / another chapter's preset", scaffold_calls_preset),
    Kind("scaffold-overrides", _f("experiments.scaffold", "Chapter") + _f("experiments.ch03", "run", "configs"),
         "unknown overrides; values of the wrong type/range", scaffold_calls_overrides),
    Kind("scaffold-numpy", _f("experiments.scaffold", "Chapter"),
         "numpy scalars / arrays for overrides and flags", scaffold_calls_numpy),
    Kind("scaffold-results-dir", _f("experiments.scaffold", "Chapter", "default_results_root"),
         "results_dir a file, below one, read-only, '', 3", scaffold_calls_results_dir),
    Kind("scaffold-device", _f("experiments.scaffold", "Chapter"), "unknown / unavailable device strings",
         scaffold_calls_device),
    Kind("scaffold-run-flags", _f("experiments.scaffold", "Chapter"), "progress='no', None", scaffold_calls_flags),
    Kind("scaffold-available", _f("experiments.scaffold", "Chapter", "as_names")
         + _f("experiments.ch02", "configs") + _f("experiments.ch06", "configs"),
         "available= a bare string (substrings), 3, [3]", scaffold_calls_available),
    Kind("scaffold-chapter", _f("experiments.scaffold", "Chapter", "register", "chapters", "CHAPTERS",
                                "check_first_available", "describe_source", "as_ints", "check_sweep_preset",
                                "takes_results"),
         "bad Chapter fields; unknown chapters; bad sources", scaffold_calls_chapter),
    Kind("cli-run", _f("cli", "main", "parse_overrides"),
         "freqkit run: bad chapter, --set syntax/keys, options", cli_calls_run),
    Kind("cli-status-book", _f("cli", "main", "status_report", "parallel_seconds"),
         "freqkit status / book: bad results, presets", cli_calls_status_book),
    Kind("book-parameters", _f("book", "check_parameters"),
         "papermill parameters: unknown names, bad values", book_calls_parameters),
    Kind("book-helpers", _f("book", "glue", "run_table", "tag_parameter_cells", "setup_notebook",
                            "unavailable_reason", "write_unavailable_page"),
         "glue formats, run_table input, notebooks, threads", book_calls_helpers),
    Kind("slurm-run-task", _f("slurm", "run_task"), "unknown chapter/preset/device; bad JSON; results",
         slurm_calls_run_task),
    Kind("slurm-submit", _f("slurm", "submit_missing"), "resources <= 0 / not ints; bad chapter, device",
         slurm_calls_submit),
    Kind("ch00-configs", _ch(0, "configs", "ImageSetConfig", "KernelConfig", "Preset", "run_one", "run_image_set",
                             "run_kernels", "load_image_set", "kernel_kappa", "available_image_sets", "run"),
         "config fields out of range; numpy; wrong configs", ch00_calls_configs),
    Kind("ch00-analysis", _ch(0, "f50_table", "claims_table", "image_set_table", "findings", "jpeg_finding",
                              "jpeg_table", "combine", "combine_datasets", "image_set_metrics", "match_pairs",
                              "jpeg_pair_metrics"),
         "analysis of no chapter's results; tensor shapes", ch00_calls_analysis),
    Kind("ch01", _ch(1, "Preset", "configs", "norm_summary", "claims_table", "accuracy_table", "run"),
         "preset fields; epsilon not in the results; input", ch01_calls),
    Kind("ch02", _ch(2, "Preset", "grid_table", "f50_runs", "f50_summary", "training_note", "run", "ordering_checks",
                     "claims_table", "verdict", "accuracy_table", "f50_accuracy_correlation", "flat_f50",
                     "trained_count"),
         "preset fields; epsilon, min_accuracy; input", ch02_calls),
    Kind("ch03", _ch(3, "Preset", "settings_table", "box_kappa_high", "uncertainty_kappa_bound",
                     "random_kernel_kappa_high", "theory_curves", "flat_kappa_high", "grid_table", "verdict",
                     "kappa_summary", "claims_table", "lr_table", "training_facts", "same_rate_trends",
                     "theory_claims", "theory_notes", "run", "get_preset", "rule_table"),
         "preset fields; theory sizes; summaries; input", ch03_calls),
    Kind("ch04", _ch(4, "ModelSpec", "StegoRunConfig", "Preset", "run_one", "settings_table", "run", "configs",
                     "gain_summary", "table1", "swap_table", "claims_table", "verdict", "at_scaling",
                     "scaling_table"),
         "StegoRunConfig/Preset fields; equal PSNR; input", ch04_calls),
    Kind("ch05", _ch(5, "AttackSetting", "ArchSetting", "ImageNetRunConfig", "CifarRunConfig", "Preset",
                     "check_data", "run_one", "run", "configs", "summary_table", "claims_table"),
         "attack/arch/run config fields; check_data; input", ch05_calls),
    Kind("ch06", _ch(6, "RunSpec", "RunConfig", "Preset", "run_one", "kernel_smoothness", "collapse_epoch", "run",
                     "configs", "stopping_table", "overfitting_table", "aliasing_table", "checkpoint_table",
                     "summary_table", "claims_table"),
         "RunSpec/RunConfig/Preset fields; kernels; input", ch06_calls),
]


# =========================================================================== tests


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_misuse_is_handled(kind: Kind, env: Env) -> None:
    assert_handled(kind, env)


def test_every_public_callable_is_covered() -> None:
    """Every callable (and registry) in the ``__all__`` of the covered modules is in a kind; each
    chapter's ``run`` is among them."""
    assert_covered(KINDS, COVERED_MODULES)
    covered = {f for kind in KINDS for f in kind.functions}
    assert all(f"experiments.ch0{i}.run" in covered for i in range(7))


def test_table_in_docstring_lists_every_kind() -> None:
    assert_docstring_table(__doc__, KINDS, set(ORDER))


def table(argv: list[str]) -> int:
    """``python tests/test_bad_input_chapters.py [-v] [--raw] [--before FILE]`` (as the framework's)."""
    if "FREQKIT_RESULTS" not in os.environ:  # as in conftest: never the committed results/
        import tempfile

        os.environ["FREQKIT_RESULTS"] = tempfile.mkdtemp(prefix="freqkit-bad-input-results-")
    return _main(argv, kinds=KINDS)


if __name__ == "__main__":
    sys.exit(table(sys.argv[1:]))
