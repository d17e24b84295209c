"""Static checks of the book: table of contents, chapter parameters, offline config.

(The smoke execution of each chapter is tested elsewhere; scripts/book.sh builds it.)
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

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
    assert [r for r in rel if r.startswith("notebooks/")] == sorted(
        r for r in rel if r.startswith("notebooks/"))  # chapters in order


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
    assert modules - API_MODULES == set(), f"book/api.md misses {sorted(modules - API_MODULES)}"
