"""Every chapter through the one scaffold (:mod:`freqkit.experiments.scaffold`).

Parametrised over :data:`freqkit.experiments.scaffold.CHAPTERS`: presets and
grids, a smoke run (executed twice: the second computes nothing), isolation
from other grids' files in the same results folder, and the committed ``cpu``
results the book is built from.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from freqkit import results, sweep
from freqkit.experiments.scaffold import CHAPTERS, chapters

REPO_ROOT = Path(__file__).resolve().parents[1]
NAMES = chapters().names()


def test_every_chapter_is_registered_and_in_the_toc() -> None:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert NAMES[:5] == ["ch00", "ch01", "ch02", "ch03", "ch04"]
    for name in NAMES:
        nb = Path(CHAPTERS.get(name).notebook)
        assert (REPO_ROOT / nb).is_file(), nb
        assert nb.with_suffix("").as_posix() in files, nb


@pytest.mark.parametrize("name", NAMES)
def test_notebook_checks_its_parameters(name: str) -> None:
    """Each chapter fails on an unknown papermill parameter (book.check_parameters) after its
    parameters cell, and that cell defines exactly preset, results_dir and the overrides."""
    import json

    ch = CHAPTERS.get(name)
    nb = json.loads((REPO_ROOT / ch.notebook).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    names = {line.split("=")[0].strip() for line in "".join(params[0]["source"]).splitlines()
             if "=" in line and not line.startswith((" ", "#"))}
    assert names == {"preset", "results_dir", *ch.overrides}
    after = "".join("".join(c["source"]) for c in code[code.index(params[0]) + 1:][:2])
    assert f"book.check_parameters(globals(), {name}.CHAPTER)" in after


@pytest.mark.parametrize("name", NAMES)
def test_presets_and_grids(name: str) -> None:
    ch = CHAPTERS.get(name)
    assert list(ch.presets)[:3] == ["smoke", "cpu", "paper"]
    for preset_name, preset in ch.presets.items():
        assert preset.name == preset_name
        cfgs = ch.grid(preset_name, available=tuple(getattr(preset, "datasets", ())))
        keys = [sweep.run_key(c) for c in cfgs]
        assert cfgs and len(set(keys)) == len(keys), preset_name  # every run once
    with pytest.raises(ValueError, match=r"preset='medium' is not allowed.*smoke"):
        ch.get_preset("medium")
    with pytest.raises(ValueError, match=r"presett='cpu' is not a parameter of chapter"):
        ch.run("smoke", presett="cpu")
    # the smoke grid is the smallest
    assert len(ch.grid("smoke", available=tuple(getattr(ch.presets["smoke"], "datasets", ())))) \
        <= len(ch.grid("cpu", available=tuple(getattr(ch.presets["cpu"], "datasets", ()))))


def _foreign_copy(path: Path, dest: Path) -> tuple[str, object]:
    """Write a copy of run ``path`` at another grid point (first run dim changed); return it."""
    ds = results.load_results(path)
    dim = results.run_coordinates(ds)[0][0]
    value = ds[dim].values[0]
    other = f"{value}-foreign" if isinstance(value, str) else value + 1000
    ds = ds.assign_coords({dim: [other]})
    results.save_results(ds, dest)
    return dim, other


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_resumes_and_ignores_other_grids(name: str, tmp_path: Path) -> None:
    ch = CHAPTERS.get(name)
    available, missing = ch.data("smoke")
    if not available:  # e.g. chapter 6 needs CIFAR-10, which only ../shared/data holds here
        pytest.skip(f"no data of chapter {name}'s smoke preset here: {missing}")
    ds = ch.run("smoke", tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.nc"))
    expected = {sweep.run_key(c) for c in ch.grid("smoke", available=tuple(available))}
    assert {f.stem for f in files} == expected
    assert ds.attrs["chapter"] == name and ds.attrs["preset"] == "smoke"
    assert ds.attrs["n_runs"] == len(expected)
    for f in files:  # provenance and flat attrs in every run file
        attrs = results.load_results(f).attrs
        assert {"config", "git_commit", "git_dirty", "created_at", "device"} <= set(attrs)
    # another grid's file in the same folder is not combined, and nothing is recomputed
    dim, foreign = _foreign_copy(files[0], tmp_path / "0000000000000000.nc")
    mtimes = {f: os.stat(f).st_mtime_ns for f in files}

    def must_not_run(config: object) -> None:
        raise AssertionError(f"recomputed {config}")

    again = dataclasses.replace(ch, run_one=must_not_run).run("smoke", tmp_path, progress=False)
    assert foreign not in again[dim].values.tolist()
    assert {f: os.stat(f).st_mtime_ns for f in files} == mtimes
    for var in ds.data_vars:
        if ds[var].attrs.get("units") not in results.TIMING_UNITS and ds[var].dtype.kind == "f":
            np.testing.assert_array_equal(ds[var].values, again[var].values, err_msg=var)


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_at_smoke(name: str, tmp_path: Path) -> None:
    """The chapter notebook runs at smoke into a scratch folder, and every glued number is set."""
    papermill = pytest.importorskip("papermill")
    available, missing = CHAPTERS.get(name).data("smoke")
    if not available:
        pytest.skip(f"no data of chapter {name}'s smoke preset here: {missing}")
    nb_path = REPO_ROOT / CHAPTERS.get(name).notebook
    out = tmp_path / nb_path.name
    papermill.execute_notebook(
        str(nb_path), str(out), parameters={"preset": "smoke", "results_dir": str(tmp_path / "r")},
        cwd=str(nb_path.parent), kernel_name="python3", progress_bar=False)
    import json
    import re

    nb = json.loads(out.read_text())
    used = set()
    glued = set()
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            used |= set(re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", src))
        for o in cell.get("outputs", []):
            for mime in o.get("data", {}):
                if mime.startswith("application/papermill.record/"):
                    glued |= set(o.get("metadata", {}).get("scrapbook", {}).get("name", "").split())
    assert used <= glued, f"glue keys used but never set: {sorted(used - glued)}"


COMMITTED = REPO_ROOT / "results"
#: The committed results of the whole book stay small (issue 7: at most 40 MB).
MAX_COMMITTED_BYTES = 40 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_committed_cpu_results_cover_the_grid_and_are_clean(name: str) -> None:
    """The book is built from results/<chapter>/cpu/: every run of the cpu grid (with every
    dataset the preset names) is there, made from committed code, and nothing else is."""
    ch = CHAPTERS.get(name)
    preset = ch.presets["cpu"]
    folder = COMMITTED / name / "cpu"
    keys = {sweep.run_key(c) for grid in ch.book_grids
            for c in ch.grid("cpu", available=tuple(getattr(preset, "datasets", ())), **grid)}
    present = {p.stem for p in folder.glob("*.nc")}
    assert keys <= present, f"{len(keys - present)} cpu runs of {name} are not committed: " \
                            "run `bash scripts/cpu_results.sh " + name + "`"
    assert present <= keys, f"stale run files in {folder}: {sorted(present - keys)[:5]}"
    for path in folder.glob("*.nc"):
        attrs = results.load_results(path).attrs
        assert attrs["git_dirty"] == 0, f"{path.name} was made from uncommitted code"


def test_committed_results_are_small() -> None:
    total = sum(p.stat().st_size for p in COMMITTED.glob("*/cpu/*.nc"))
    assert total <= MAX_COMMITTED_BYTES, f"committed results take {total / 2**20:.1f} MB"


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_is_displayed(name: str) -> None:
    """plots.show returns the figure's HTML (with plotly.js the first time): a call that is not
    the last line of its cell must be wrapped in display(), or the bundle is lost for the page."""
    import json

    nb = json.loads((REPO_ROOT / CHAPTERS.get(name).notebook).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = [ln for ln in "".join(cell["source"]).splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            if "plots.show(" in line and i < len(lines) - 1 or (
                    "plots.show(" in line and line.startswith(" ")):
                assert "display(plots.show(" in line, f"{name}: {line.strip()}"
