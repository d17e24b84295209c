#!/usr/bin/env python3
"""Check the built book in a real browser (headless Chromium), offline.

For every page listed in ``_toc.yml`` (the chapters and the front/back matter):

- take a screenshot (``_build/screenshots/<page>.png``);
- dump the DOM after scripts ran and check that every plotly figure rendered
  (its div became ``js-plotly-plot`` and contains ``class="main-svg"``), and
  that MathJax produced ``<mjx-container>`` elements where the page has math;

and for every built HTML page: no ``<script src="http…">``, ``<link href="http…">``
or ``<img src="http…">`` (the book must work without network), and no absolute
filesystem path (``/work/…``, ``/tmp/…``, …) in the visible text. Remote host
names are also unresolvable for the browser, so a page that needed the network
fails the rendering checks too.

Usage::

    python scripts/check_pages.py [_build/html]      # check (exit 1 on failure)
    python scripts/check_pages.py --list-chapters    # notebooks listed in _toc.yml
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REMOTE_RESOURCE = re.compile(
    r"<(?:script|img|iframe)\b[^>]*\ssrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\shref\s*=\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)
PLOTLY_DIV = re.compile(r"<div\b[^>]*class=\"[^\"]*plotly-graph-div[^\"]*\"[^>]*>", re.IGNORECASE)
HAS_MATH = re.compile(r"class=\"[^\"]*\bmath\b[^\"]*\"")
# an absolute filesystem path in a page's visible text (a machine path leaked into the book)
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/~-])/(?:work|tmp|usr|root|home|opt|var|mnt|srv|etc|private|Users)/[\w.-]+")
# documented locations that are the same on every Debian machine (not leaked paths)
DOCUMENTED_PATHS = ("/usr/share/datasets",)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]+>")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1280,2000",
]


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """Source files of every entry in ``_toc.yml`` (root first), resolved to an extension."""
    toc = yaml.safe_load(toc_path.read_text())
    names: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    names.append(node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    files = []
    for name in names:
        candidates = [toc_path.parent / name] + [
            toc_path.parent / f"{name}{ext}" for ext in (".ipynb", ".md")
        ]
        found = next((c for c in candidates if c.is_file()), None)
        files.append(found if found is not None else toc_path.parent / f"{name}.ipynb")
    return files


def chapter_notebooks(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """The ``.ipynb`` entries of ``_toc.yml``, in order."""
    return [f for f in toc_files(toc_path) if f.suffix == ".ipynb"]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("check_pages: no chromium executable found (apt-get install chromium)")


def run_chromium(chromium: str, url: str, extra: list[str], budget_ms: int) -> str:
    with tempfile.TemporaryDirectory(prefix="freqkit-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--virtual-time-budget={budget_ms}", *extra, url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode} for {url}: {proc.stderr[-2000:]}")
    return proc.stdout


def check_rendering(source_html: str, dom: str) -> list[str]:
    """Problems with the rendered DOM of a page whose built HTML is ``source_html``."""
    problems = []
    expected = len(PLOTLY_DIV.findall(source_html))
    rendered_divs = PLOTLY_DIV.findall(dom)
    pieces = PLOTLY_DIV.split(dom)[1:]  # content after each figure div up to the next
    not_rendered = [
        i for i, (tag, after) in enumerate(zip(rendered_divs, pieces))
        if "js-plotly-plot" not in tag or 'class="main-svg"' not in after
    ]
    if len(rendered_divs) != expected:
        problems.append(f"{expected} plotly figures in the HTML but {len(rendered_divs)} in the DOM")
    if not_rendered:
        problems.append(f"plotly figures {not_rendered} (0-based) did not render (no main-svg)")
    if HAS_MATH.search(source_html):
        if "<mjx-container" not in dom:
            problems.append("page has math but MathJax produced no <mjx-container>")
        if "_static/mathjax/tex-chtml.js" not in source_html:
            problems.append("page has math but does not load the vendored _static/mathjax/tex-chtml.js")
    return problems


def machine_paths(html: str) -> list[str]:
    """Absolute filesystem paths in the visible text of a page (scripts and styles removed).

    >>> machine_paths("<p>data from /work/shared/data/x.tar.gz</p><script>'/usr/x'</script>")
    ['/work/shared']
    >>> machine_paths("<p>see https://example.org/usr/share and ../shared/data</p>")
    []
    >>> machine_paths("<p>Debian installs it in /usr/share/datasets/fashion-mnist</p>")
    []
    """
    text = TAG.sub(" ", SCRIPT_OR_STYLE.sub(" ", html))
    return sorted({m.group(0) for m in ABSOLUTE_PATH.finditer(text)
                   if not text.startswith(DOCUMENTED_PATHS, m.start())})


def remote_resources(html: str) -> list[str]:
    return [html[m.start():m.start() + 120] for m in REMOTE_RESOURCE.finditer(html)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--list-chapters", action="store_true",
                        help="print the chapter notebooks of _toc.yml and exit")
    parser.add_argument("--screenshots", default=None,
                        help="screenshot folder (default: <build_dir>/../screenshots)")
    parser.add_argument("--budget-ms", type=int, default=20000,
                        help="Chromium --virtual-time-budget per page")
    args = parser.parse_args(argv)

    if args.list_chapters:
        for nb in chapter_notebooks():
            print(nb.relative_to(ROOT))
        return 0

    build = Path(args.build_dir).resolve()
    if not (build / "index.html").is_file() and not any(build.glob("*.html")):
        print(f"check_pages: {build} has no built HTML; run jupyter-book build first",
              file=sys.stderr)
        return 1
    shots = Path(args.screenshots) if args.screenshots else build.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []

    for page in sorted(build.rglob("*.html")):
        text = page.read_text(errors="replace")
        for snippet in remote_resources(text):
            failures.append(f"{page.relative_to(build)}: loads a remote resource: {snippet!r}")
        for path in machine_paths(text):
            failures.append(f"{page.relative_to(build)}: shows a machine path: {path!r}")

    chromium = find_chromium()
    for nb in toc_files():
        rel = nb.relative_to(ROOT).with_suffix(".html")
        page = build / rel
        if not page.is_file():
            failures.append(f"{rel}: not built (listed in _toc.yml as {nb.relative_to(ROOT)})")
            continue
        url = page.as_uri()
        source_html = page.read_text(errors="replace")
        try:
            dom = run_chromium(chromium, url, ["--dump-dom"], args.budget_ms)
            shot = shots / f"{rel.with_suffix('').as_posix().replace('/', '__')}.png"
            run_chromium(chromium, url, [f"--screenshot={shot}"], args.budget_ms)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            failures.append(f"{rel}: {err}")
            continue
        problems = check_rendering(source_html, dom)
        n_fig = len(PLOTLY_DIV.findall(source_html))
        n_math = dom.count("<mjx-container")
        status = "FAIL" if problems else "ok"
        print(f"  {status:4s} {rel}: {n_fig} plotly figures, {n_math} MathJax elements, "
              f"screenshot {shot}")
        failures.extend(f"{rel}: {p}" for p in problems)

    if failures:
        print("check_pages: FAILED", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print("check_pages: all pages OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
