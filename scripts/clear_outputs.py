#!/usr/bin/env python3
"""Strip outputs and execution metadata from notebooks before committing.

scripts/book.sh executes copies of the chapters (under _build/src), so the
committed notebooks stay clean; a notebook run by hand in Jupyter or papermill
in place fills up with outputs, several MB of embedded plotly.js and papermill
metadata. Run this before `git commit`:

    python scripts/clear_outputs.py                 # every notebooks/*.ipynb
    python scripts/clear_outputs.py a.ipynb b.ipynb
    python scripts/clear_outputs.py --check         # exit 1 if any has outputs

Cells injected by papermill (tag ``injected-parameters``) are removed; the
``parameters`` cell is kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")
VOLATILE_NB_METADATA = ("papermill", "widgets")


def clear_notebook(nb: nbformat.NotebookNode) -> bool:
    """Strip ``nb`` in place; return whether anything changed."""
    before = nbformat.writes(nb)
    nb.cells = [c for c in nb.cells
                if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    for key in VOLATILE_NB_METADATA:
        nb.metadata.pop(key, None)
    return nbformat.writes(nb) != before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="only report notebooks that would change; exit 1 if any")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if clear_notebook(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    verb = "has outputs" if args.check else "cleared"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
