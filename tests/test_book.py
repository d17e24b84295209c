"""Checks of the book's sources: table of contents, chapters, parameters, API page, offline config.

scripts/book.sh executes the chapters listed in ``_toc.yml`` into copies under
``_build/src`` (the committed notebooks stay without outputs) and builds those;
the smoke execution of each chapter is tested in tests/test_chapters.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from freqkit import book

ROOT = Path(__file__).resolve().parents[1]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_pages = _load_script("check_pages")
clear_outputs = _load_script("clear_outputs")
TOC_FILES = check_pages.toc_files()
CHAPTERS = check_pages.chapter_notebooks()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_toc_lists_intro_chapters_and_references_explicitly():
    toc_text = (ROOT / "_toc.yml").read_text()
    assert not re.search(r"^\s*-?\s*glob\s*:", toc_text, re.MULTILINE)
    rel = [f.relative_to(ROOT).as_posix() for f in TOC_FILES]
    assert rel[0] == "book/intro.md" and rel[-1] == "book/references.md"
    assert "notebooks/00_fourier_toolkit.ipynb" in rel
    assert "notebooks/06_aliasing_robust_overfitting.ipynb" in rel
    assert rel[-2:] == ["book/api.md", "book/references.md"]  # back matter last
    notebooks = [r for r in rel if r.startswith("notebooks/")]
    assert notebooks == sorted(notebooks)  # chapters in order
    numbers = [re.match(r"notebooks/(\d\d)_", r) for r in notebooks]
    assert all(numbers), f"chapter notebooks must be named NN_name: {notebooks}"
    assert len({m[1] for m in numbers}) == len(numbers), f"two chapters share a number: {notebooks}"


def _registered_chapters():
    from freqkit.experiments.scaffold import chapters

    registry = chapters()
    return [registry.get(name) for name in registry.names()]


def test_toc_chapters_are_the_registered_chapters_in_order():
    """book.sh executes the _toc.yml chapters; each is one scaffold chapter, in the same order."""
    toc = [p.relative_to(ROOT).as_posix() for p in CHAPTERS]
    registered = [Path(ch.notebook).as_posix() for ch in _registered_chapters()]
    assert toc == registered, (f"_toc.yml chapters {toc} differ from the registered chapters' "
                               f"notebooks {registered}")
    assert check_pages.chapter_notebooks() == CHAPTERS  # what `check_pages --list-chapters` gives


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _assigned_names(source: str) -> list[str]:
    import ast

    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


@pytest.mark.parametrize("chapter", _registered_chapters(), ids=lambda ch: ch.name)
def test_notebook_parameters_are_the_chapter_arguments_and_are_checked(chapter):
    """The parameters cell sets exactly preset, results_dir and the chapter's overrides, and the
    next cell rejects any other parameter papermill injects (book.check_parameters)."""
    cells = _code_cells(ROOT / chapter.notebook)
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert sorted(_assigned_names(cells[index].source)) == sorted(
        ["preset", "results_dir", *chapter.overrides]), chapter.notebook
    setup = cells[index + 1].source
    assert re.search(rf"^book\.check_parameters\(globals\(\), {chapter.name}\.CHAPTER\)$", setup,
                     re.MULTILINE), (f"{chapter.notebook}: the cell after the parameters cell must "
                                     f"call book.check_parameters(globals(), {chapter.name}.CHAPTER)")


@pytest.mark.notebook
def test_unknown_notebook_parameter_fails_naming_it(tmp_path):
    """papermill -p presett cpu stops the chapter at its set-up cell (before any run)."""
    papermill = pytest.importorskip("papermill")
    chapter = _registered_chapters()[0]
    nb = ROOT / chapter.notebook
    with pytest.raises(papermill.PapermillExecutionError,
                       match=rf"unknown notebook parameter presett='cpu' for chapter {chapter.name}"):
        papermill.execute_notebook(
            str(nb), str(tmp_path / nb.name), kernel_name="python3", progress_bar=False,
            parameters={"preset": "smoke", "results_dir": str(tmp_path / "r"), "presett": "cpu"},
            cwd=str(nb.parent))
    assert not (tmp_path / "r").exists()  # nothing ran


def test_book_script_executes_copies_not_the_committed_notebooks():
    """book.sh writes each executed chapter to _build/src/<notebook>, never over notebooks/."""
    script = (ROOT / "scripts" / "book.sh").read_text()
    assert re.search(r"^stage=_build/src$", script, re.MULTILINE)
    calls = re.findall(r"-m papermill (\S+) (\S+) -p preset", script)
    assert calls == [('"$nb"', '"$stage/$nb"')], calls
    assert re.search(r'^preset="\$\{FREQKIT_BOOK_PRESET:-cpu\}"$', script, re.MULTILINE)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path):
    """Notebooks are committed stripped (python scripts/clear_outputs.py)."""
    nb = nbformat.read(path, as_version=4)
    assert clear_outputs.clear_notebook(nb) is False, (
        f"{path.name} has outputs or execution metadata: run python scripts/clear_outputs.py")


def test_intro_lists_every_chapter_in_order():
    """book/intro.md links each _toc.yml chapter once, in the table-of-contents order."""
    links = re.findall(r"\{doc\}`[^`<]*<\.\./(notebooks/[\w-]+)>`", (ROOT / "book/intro.md").read_text())
    assert links == [p.relative_to(ROOT).with_suffix("").as_posix() for p in CHAPTERS]


@pytest.mark.parametrize("path", TOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_toc_entry_exists(path):
    assert path.is_file(), f"_toc.yml lists {path.relative_to(ROOT)}, which does not exist"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_papermill_parameters_cell_with_smoke_preset(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: need exactly one cell tagged 'parameters'"
    assert tagged[0].cell_type == "code"
    assert re.search(r'^preset\s*=\s*"smoke"', tagged[0].source, re.MULTILINE), (
        f"{path.name}: the parameters cell must set preset = \"smoke\"")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_config_renders_offline_without_executing():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    sphinx_config = CONFIG["sphinx"]["config"]
    mathjax = sphinx_config["mathjax_path"]
    assert not re.match(r"^(https?:)?//", mathjax), f"mathjax_path {mathjax!r} is a URL"
    assert mathjax == "mathjax/tex-chtml.js"
    assert "_vendor/static" in sphinx_config["html_static_path"]
    text = (ROOT / "_config.yml").read_text()
    assert not re.search(r"https?://\S*(mathjax|jsdelivr|cdnjs|unpkg)", text, re.IGNORECASE)
    assert CONFIG["html"]["use_repository_button"] is False
    assert not CONFIG["launch_buttons"].get("binderhub_url")
    assert CONFIG["bibtex_bibfiles"] == ["book/references.bib"]


def test_every_citation_has_a_bibtex_entry():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book/references.bib").read_text(),
                          re.MULTILINE))
    assert {"caro2024translational", "gunasekar2018implicit", "grabinski2022aliasing",
            "grabinski2022flc", "wang2020highfrequency", "rauber2020foolbox",
            "wightman2019timm"} <= keys
    cited = set()
    for path in [p for p in TOC_FILES if p.suffix == ".md"]:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            cited.update(k.strip() for k in group.split(","))
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", cell.source):
                    cited.update(k.strip() for k in group.split(","))
    assert cited, "intro cites nothing"
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_remote_resource_scan():
    bad = ['<script src="https://cdn.plot.ly/plotly.min.js"></script>',
           "<link rel='stylesheet' href='http://x.org/a.css'>",
           '<script defer src="//cdn.jsdelivr.net/mathjax.js"></script>',
           '<img class="logo" src="https://example.org/a.png">']
    good = ['<script src="../_static/mathjax/tex-chtml.js"></script>',
            '<a href="https://doi.org/10.3389/fncom.2024.1387077">doi</a>',
            '<link rel="stylesheet" href="_static/styles.css">']
    assert [len(check_pages.remote_resources(s)) for s in bad] == [1, 1, 1, 1]
    assert [len(check_pages.remote_resources(s)) for s in good] == [0, 0, 0]


def test_rendering_check_counts_unrendered_figures_and_missing_math():
    div = '<div id="{}" class="plotly-graph-div" style="height:420px"></div>'
    source = div.format("a") + div.format("b") + '<span class="math notranslate">x</span>'
    source += '<script src="_static/mathjax/tex-chtml.js"></script>'
    rendered = '<div id="{}" class="plotly-graph-div js-plotly-plot"><svg class="main-svg"></svg></div>'
    dom_ok = rendered.format("a") + rendered.format("b") + "<mjx-container></mjx-container>"
    assert check_pages.check_rendering(source, dom_ok) == []
    dom_bad = rendered.format("a") + div.format("b")
    problems = check_pages.check_rendering(source, dom_bad)
    assert any("[1]" in p for p in problems) and any("mjx-container" in p for p in problems)


def test_clear_outputs_strips_outputs_and_papermill_cells():
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 1.0}
    params = nbformat.v4.new_code_cell('preset = "smoke"', metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell('preset = "cpu"',
                                         metadata={"tags": ["injected-parameters"]})
    code = nbformat.v4.new_code_cell("1 + 1", execution_count=3,
                                     outputs=[nbformat.v4.new_output("execute_result",
                                                                     {"text/plain": "2"})],
                                     metadata={"papermill": {"status": "completed"}})
    nb.cells = [params, injected, code]
    assert clear_outputs.clear_notebook(nb) is True
    assert [c.source for c in nb.cells] == ['preset = "smoke"', "1 + 1"]
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert "papermill" not in nb.metadata and "papermill" not in nb.cells[1].metadata
    assert nb.cells[0].metadata["tags"] == ["parameters"]
    assert clear_outputs.clear_notebook(nb) is False


def test_committed_notebooks_can_be_parsed_as_json():
    for path in CHAPTERS:
        json.loads(path.read_text())


ROLE = re.compile(r"\{(func|mod|class|data|meth|attr)\}`~?([\w.]+)`")
#: modules that book/api.md documents with automodule
API_MODULES = set(re.findall(r"automodule:: ([\w.]+)", (ROOT / "book/api.md").read_text()))


def _resolve(target: str):
    """Import the longest module prefix of ``target`` and walk the remaining attributes."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(target)


def test_code_roles_in_chapters_name_documented_freqkit_objects():
    """Every {func}/{mod}/... role in a chapter or book page names a freqkit object that
    book/api.md documents (otherwise ``jupyter-book build -n`` warns and CI fails)."""
    roles = []
    for path in TOC_FILES:
        if path.suffix == ".ipynb":
            texts = [c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown"]
        else:
            texts = [path.read_text()]
        roles += [(path.name, kind, target) for t in texts for kind, target in ROLE.findall(t)]
    assert roles, "no code roles found: the pattern is broken"
    for name, kind, target in roles:
        assert target.startswith("freqkit."), f"{name}: {{{kind}}}`{target}` is not a freqkit object"
        _resolve(target)  # AttributeError / ImportError names the bad target
        owners = [m for m in API_MODULES if target == m or target.startswith(m + ".")]
        assert owners, f"{name}: {target} is not under a module that book/api.md documents"


def test_api_page_documents_every_freqkit_module():
    import pkgutil

    import freqkit

    modules = {m.name for m in pkgutil.walk_packages(freqkit.__path__, "freqkit.")
               if not m.ispkg}
    # private modules (a component starting with "_": freqkit._validate, freqkit.__main__) are
    # not part of the API; every other module is, and only existing modules are documented
    public = {m for m in modules if not any(part.startswith("_") for part in m.split("."))}
    assert {"freqkit.spectra", "freqkit.experiments.scaffold", "freqkit.figures.ch01"} <= public
    assert public - API_MODULES == set(), f"book/api.md misses {sorted(public - API_MODULES)}"
    absent = sorted(m for m in API_MODULES if importlib.util.find_spec(m) is None)
    assert not absent, f"book/api.md documents modules that do not exist: {absent}"


@pytest.mark.slow
def test_front_and_back_matter_build_without_warnings(tmp_path):
    """The intro, API reference and references pages build with ``-W -n`` (every docstring
    cross-reference resolves), with one-line stand-ins for the chapters: a quick check of what
    scripts/book.sh builds, without executing a notebook (about 30 s)."""
    import shutil
    import subprocess

    jupyter_book = shutil.which("jupyter-book")
    if jupyter_book is None:
        pytest.skip("jupyter-book is not installed")
    (tmp_path / "book").mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for path in TOC_FILES:
        rel = path.relative_to(ROOT)
        if path.suffix == ".ipynb":
            title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
            (tmp_path / rel.with_suffix(".md")).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel.with_suffix(".md")).write_text(f"{title}\n\nstand-in\n")
        else:
            shutil.copy(path, tmp_path / rel)
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    if (ROOT / "_vendor").is_dir():
        (tmp_path / "_vendor").symlink_to(ROOT / "_vendor")
    else:
        (tmp_path / "_vendor" / "static").mkdir(parents=True)
    proc = subprocess.run([jupyter_book, "build", "--all", "-W", "-n", "--keep-going", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # no terminal colours
    problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0 and not problems, "\n".join(problems[:20]) or proc.stderr[-2000:]


def test_a_chapter_without_data_or_runs_gets_a_page_that_says_why(tmp_path, monkeypatch) -> None:
    import dataclasses

    from freqkit.experiments import scaffold

    ch06 = scaffold.chapters().get("ch06")
    nodata = dataclasses.replace(ch06, check_data=lambda p, **kw: ({}, {"cifar10": "not on this machine"}))
    monkeypatch.setitem(scaffold.CHAPTERS._items, "ch06", nodata)
    monkeypatch.setenv("FREQKIT_RESULTS", str(tmp_path / "results"))
    reason = book.unavailable_reason(ch06.notebook, "smoke")
    assert "none of its data loads here" in reason and "cifar10: not on this machine" in reason
    assert book.unavailable_reason(ROOT / ch06.notebook, "smoke") == reason  # absolute path, same chapter
    out = tmp_path / "page.ipynb"
    book.write_unavailable_page(ROOT / ch06.notebook, out, reason)
    nb = nbformat.read(out, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown"]
    assert nb.cells[0].source.startswith("# Chapter 6") and reason in nb.cells[1].source
    assert book.unavailable_reason("notebooks/00_fourier_toolkit.ipynb", "smoke") == ""  # its data are here
    with pytest.raises(ValueError, match="notebook='notebooks/nope.ipynb' is not allowed"):
        book.unavailable_reason("notebooks/nope.ipynb", "smoke")
    with pytest.raises(ValueError, match="reason='' is not allowed"):
        book.write_unavailable_page(ROOT / ch06.notebook, out, "")
