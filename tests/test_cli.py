"""The ``freqkit`` command line: one-line errors, list, run + status on the smoke grid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqkit import cli


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "freqkit", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize(("args", "message"), [
    (("run", "ch99"), "unknown chapter 'ch99'; use one of ['ch00', 'ch01'"),
    (("run", "ch01", "--preset", "huge"), "preset='huge' is not allowed for chapter ch01"),
    (("run", "ch01", "--device", "cuda:7"), "device='cuda:7' is not"),
    (("run", "ch01", "--device", "gpu"), "device='gpu' is not allowed"),
    (("run", "ch01", "--set", "presett=1"), "presett=1 is not a parameter of chapter ch01"),
    (("run", "ch01", "--set", "oops"), "--set 'oops' is not allowed"),
    (("run", "ch01", "--results", "/dev/null/x"), "results_dir='/dev/null/x' is not a writable"),
    (("status", "ch42"), "unknown chapter 'ch42'"),
])
def test_bad_input_is_one_clear_line(args: tuple[str, ...], message: str, capsys) -> None:
    assert cli.main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("freqkit: error: "), lines
    assert message in lines[0]


def test_unknown_executor_is_refused_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "ch01", "--executor", "kubernetes"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'kubernetes'" in capsys.readouterr().err


def test_list_names_every_chapter_and_preset() -> None:
    proc = _run("list")  # also checks `python -m freqkit`
    assert proc.returncode == 0, proc.stderr
    for name in ("ch00", "ch01", "ch02", "ch03", "ch04"):
        assert f"{name}  " in proc.stdout
    from freqkit.experiments import ch01

    sizes = ", ".join(f"{p} ({len(ch01.configs(p))} runs)" for p in ("smoke", "cpu", "paper"))
    assert sizes == "smoke (4 runs), cpu (72 runs), paper (120 runs)"  # chapter 1's grids
    assert sizes in proc.stdout


def test_run_then_status_counts_done_and_missing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    assert cli.main(["status", "ch01", "--preset", "smoke", "--results", str(out)]) == 0
    assert "0 done, 4 missing" in capsys.readouterr().out
    assert cli.main(["run", "ch01", "--preset", "smoke", "--results", str(out), "--quiet",
                     "--device", "cpu"]) == 0
    assert len(list(out.glob("*.nc"))) == 4
    capsys.readouterr()
    rep = cli.status_report(cli._chapter("ch01"), "smoke", str(out))
    assert (rep["done"], rep["missing"], rep["failed"]) == (4, 0, 0)
    assert rep["seconds_per_run"] > 0 and rep["estimated_seconds_missing"] == 0
    per_run = [cli._run_info(p)[0] for p in sorted(out.glob("*.nc"))]
    assert rep["seconds_done"] == pytest.approx(sum(per_run))
    assert rep["longest_run_seconds"] == pytest.approx(max(per_run))
    assert rep["seconds_done_2_jobs"] == pytest.approx(cli.parallel_seconds(per_run, 2))
    (sorted(out.glob("*.nc"))[0]).unlink()
    rep = cli.status_report(cli._chapter("ch01"), "smoke", str(out))
    assert rep["missing"] == 1
    assert rep["estimated_seconds_missing"] == pytest.approx(rep["seconds_per_run"])


@given(st.lists(st.floats(0, 100), max_size=12), st.integers(1, 4))
def test_parallel_seconds_is_between_the_lower_bounds_and_four_thirds_of_them(seconds, jobs) -> None:
    wall = cli.parallel_seconds(seconds, jobs)
    bound = max(sum(seconds) / jobs, max(seconds, default=0.0))  # no schedule is faster
    longest = max(seconds, default=0.0)
    assert bound - 1e-9 <= wall <= sum(seconds) / jobs + longest * (1 - 1 / jobs) + 1e-9  # Graham's list bound
    assert cli.parallel_seconds(seconds, 1) == pytest.approx(sum(seconds))

