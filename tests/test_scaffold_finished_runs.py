"""Chapter.run / Chapter.status with datasets that do not load here but whose runs are finished.

A toy chapter whose data availability is faked (``common.available_datasets``
patched, so the scaffold's real checkers ``_default_check_data`` and
``check_first_available`` run): a dataset missing here whose runs of the grid are
all in ``results_dir`` is read from those files (its ``run_one`` is never called,
the values are the files'), one with only some runs there is skipped with the
counts in the note and in ``skipped_datasets``, and a first-available chapter keeps
its first choice when that choice's runs are complete.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import xarray as xr

from freqkit import sweep
from freqkit.experiments import common, scaffold
from freqkit.experiments.scaffold import Chapter, check_first_available


@dataclasses.dataclass(frozen=True)
class P:
    name: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1)
    grayscale: bool = False


class Toy:
    """A toy chapter; ``loadable`` fakes which datasets load; ``calls`` records run_one's configs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, loadable: set[str], datasets: tuple[str, ...],
                 *, first: bool = False) -> None:
        self.loadable = loadable
        self.calls: list[dict[str, Any]] = []

        def fake_available(names: Any, *, grayscale: bool = False) -> tuple[dict[str, str], dict[str, str]]:
            return ({n: f"fake source of {n}" for n in names if n in loadable},
                    {n: f"no {n} files here" for n in names if n not in loadable})

        monkeypatch.setattr(common, "available_datasets", fake_available)

        def configs(p: P, available: tuple[str, ...] = ()) -> list[dict[str, Any]]:
            names = [d for d in p.datasets if d in available]
            return [{"dataset": d, "seed": s} for d in (names[:1] if first else names) for s in p.seeds]

        self.chapter = Chapter(
            name="toy", title="Toy", notebook="", presets={"smoke": P("smoke", datasets)},
            configs=configs, run_one=self.run_one, check_data=check_first_available if first else None)

    def run_one(self, c: dict[str, Any]) -> xr.Dataset:
        if c["dataset"] not in self.loadable:
            raise AssertionError(f"run_one touched the data of {c['dataset']!r}, which does not load")
        self.calls.append(c)
        return value_run(c, float(c["seed"]))


def value_run(c: dict[str, Any], y: float) -> xr.Dataset:
    return sweep.expand_run_dims(xr.Dataset({"y": ((), y)}), dataset=c["dataset"], seed=c["seed"])


def finish_elsewhere(folder: Path, dataset: str, seeds: tuple[int, ...]) -> list[Path]:
    """Runs of ``dataset`` computed on another machine: y = 100 + seed (the toy computes y = seed)."""
    cfgs = [{"dataset": dataset, "seed": s} for s in seeds]
    return sweep.run_sweep(cfgs, lambda c: value_run(c, 100.0 + c["seed"]), folder, progress=False)


def test_missing_dataset_with_all_runs_finished_is_read_from_its_files(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"a"}, ("a", "b"))
    finish_elsewhere(tmp_path, "b", (0, 1))
    before = toy.chapter.status("smoke", tmp_path)
    assert (len(before["done"]), len(before["missing"])) == (2, 2)  # b's two runs are done, a's to do

    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    out = capsys.readouterr().out
    assert "NOTE: dataset 'b' does not load here (no b files here); using its 2 finished runs in" in out
    assert "skipping" not in out
    assert [c["dataset"] for c in toy.calls] == ["a", "a"]  # only a computed
    assert ds.y.sel(dataset="b").values.tolist() == [100.0, 101.0]  # the files' values
    assert ds.y.sel(dataset="a").values.tolist() == [0.0, 1.0]
    assert json.loads(ds.attrs["finished_only_datasets"]) == ["b"]
    assert ds.attrs["skipped_datasets"] == ""
    assert json.loads(ds.attrs["dataset_sources"]) == {"a": "fake source of a"}
    assert ds.attrs["n_runs"] == 4
    after = toy.chapter.status("smoke", tmp_path)
    assert (len(after["done"]), len(after["missing"])) == (4, 0)

    toy.calls.clear()  # a second call computes nothing
    again = toy.chapter.run("smoke", tmp_path, progress=False)
    assert toy.calls == [] and again.y.equals(ds.y)


def test_missing_dataset_with_some_runs_finished_is_skipped_with_the_counts(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"a"}, ("a", "b"))
    finish_elsewhere(tmp_path, "b", (0,))
    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    out = capsys.readouterr().out
    assert "NOTE: skipping dataset 'b': no b files here (1 of its 2 runs of this grid are finished in" in out
    assert ds.dataset.values.tolist() == ["a"] and ds.attrs["n_runs"] == 2
    assert ds.attrs["skipped_datasets"] == "b: no b files here (1 of 2 runs finished)"
    assert json.loads(ds.attrs["finished_only_datasets"]) == []
    assert toy.chapter.status("smoke", tmp_path)["missing"] == []  # b is not part of run's grid


def test_a_corrupt_run_file_does_not_count_as_finished(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"a"}, ("a", "b"))
    paths = finish_elsewhere(tmp_path, "b", (0, 1))
    paths[1].write_bytes(b"not netcdf")  # run_sweep would recompute it, which needs b's data
    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    assert "(1 of its 2 runs of this grid are finished" in capsys.readouterr().out
    assert ds.dataset.values.tolist() == ["a"]
    assert "b: no b files here (1 of 2 runs finished)" == ds.attrs["skipped_datasets"]


def test_first_available_chapter_keeps_its_first_choice_when_its_runs_are_finished(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"b"}, ("a", "b"), first=True)
    assert [c["dataset"] for c in toy.chapter.grid("smoke")] == ["b", "b"]  # today's choice here
    finish_elsewhere(tmp_path, "a", (0, 1))
    assert [p.name for p in toy.chapter.status("smoke", tmp_path)["done"]] == [
        f"{sweep.run_key({'dataset': 'a', 'seed': s})}.nc" for s in (0, 1)]

    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    assert "using its 2 finished runs" in capsys.readouterr().out
    assert toy.calls == []  # nothing computed: b's grid is not run
    assert ds.dataset.values.tolist() == ["a"] and ds.y.values.ravel().tolist() == [100.0, 101.0]
    assert json.loads(ds.attrs["finished_only_datasets"]) == ["a"]
    assert json.loads(ds.attrs["dataset_sources"]) == {}  # b loads but this grid does not use it
    assert ds.attrs["skipped_datasets"] == ""
    assert sorted(tmp_path.glob("*.nc")) == sorted(toy.chapter.status("smoke", tmp_path)["done"])


def test_first_available_chapter_falls_back_when_its_first_choice_is_incomplete(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"b"}, ("a", "b"), first=True)
    finish_elsewhere(tmp_path, "a", (1,))
    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    assert "skipping dataset 'a': no a files here (1 of its 2 runs" in capsys.readouterr().out
    assert [c["dataset"] for c in toy.calls] == ["b", "b"]
    assert ds.dataset.values.tolist() == ["b"]
    assert json.loads(ds.attrs["dataset_sources"]) == {"b": "fake source of b"}
    assert json.loads(ds.attrs["finished_only_datasets"]) == []


def test_first_available_chapter_prefers_a_complete_second_choice_to_computing_the_third(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, {"c"}, ("a", "b", "c"), first=True)
    finish_elsewhere(tmp_path, "b", (0, 1))
    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    out = capsys.readouterr().out
    assert "skipping dataset 'a': no a files here (0 of its 2 runs" in out
    assert "dataset 'b' does not load here (no b files here); using its 2 finished runs" in out
    assert toy.calls == [] and ds.dataset.values.tolist() == ["b"]
    assert ds.attrs["skipped_datasets"] == "a: no a files here"


def test_a_missing_dataset_the_grid_no_longer_needs_is_not_skipped(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy = Toy(monkeypatch, set(), ("a", "b"), first=True)
    finish_elsewhere(tmp_path, "a", (0, 1))
    ds = toy.chapter.run("smoke", tmp_path, progress=False)
    assert "dataset 'b' does not load here (no b files here); this grid does not need it" in \
        capsys.readouterr().out
    assert ds.attrs["skipped_datasets"] == "" and json.loads(ds.attrs["finished_only_datasets"]) == ["a"]


@pytest.mark.parametrize("first", [False, True])
def test_nothing_loads_and_nothing_finished_is_the_no_runs_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, first: bool) -> None:
    toy = Toy(monkeypatch, set(), ("a", "b"), first=first)
    finish_elsewhere(tmp_path, "b", (0,))  # some, not all, of b's runs
    with pytest.raises(ValueError, match="no runs to do — none of the data is available here") as err:
        toy.chapter.run("smoke", tmp_path, progress=False)
    assert "a: no a files here" in str(err.value) and "b: no b files here (1 of 2 runs finished)" in str(err.value)
    assert toy.calls == []
    assert toy.chapter.status("smoke", tmp_path) == {"done": [], "missing": []}


def test_a_finished_run_that_vanishes_during_the_call_is_an_error_not_a_data_load(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy = Toy(monkeypatch, {"a"}, ("a", "b"))
    paths = finish_elsewhere(tmp_path, "b", (0, 1))
    plan = Chapter._plan

    def plan_then_delete(self: Chapter, *args: Any) -> Any:
        out = plan(self, *args)
        paths[0].unlink()
        return out

    monkeypatch.setattr(scaffold.Chapter, "_plan", plan_then_delete)
    with pytest.raises(ValueError, match=f"finished run {paths[0].stem}.nc of b vanished"):
        toy.chapter.run("smoke", tmp_path, progress=False)
    assert all(c["dataset"] == "a" for c in toy.calls)
