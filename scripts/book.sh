#!/usr/bin/env bash
# Build the executable book:
#   1. install what is needed (scripts/setup.sh),
#   2. execute every chapter notebook listed in _toc.yml with papermill at
#      `-p preset $FREQKIT_BOOK_PRESET` (default: cpu) into copies under _build/src/
#      (the tree stays clean). Each chapter loads its run files from
#      $FREQKIT_RESULTS/<chapter>/<preset> (default: the committed results/) and computes
#      only the runs that are missing there,
#   3. `jupyter-book build` of _build/src with warnings as errors (-W -n --keep-going)
#      into _build/html,
#   4. check the built pages with headless Chromium (scripts/check_pages.py).
# A chapter that can run neither from its data nor from finished runs here (e.g. chapter 6 at
# smoke without ../shared/data) gets a page saying why instead of failing the build; the last
# line names such chapters.
# CI builds the smoke book into a scratch results folder:
#   FREQKIT_BOOK_PRESET=smoke FREQKIT_RESULTS=$(mktemp -d) bash scripts/book.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
preset="${FREQKIT_BOOK_PRESET:-cpu}"
t_start=$SECONDS

mapfile -t chapters < <("$PYTHON" scripts/check_pages.py --list-chapters)
if [ ${#chapters[@]} -eq 0 ]; then
    echo "book.sh: _toc.yml lists no chapter notebooks" >&2
    exit 1
fi

stage=_build/src
rm -rf "$stage" _build/html _build/.doctrees _build/jupyter_execute
mkdir -p "$stage/notebooks"
cp _config.yml _toc.yml "$stage/"
cp -r book "$stage/book"
ln -s ../../_vendor "$stage/_vendor"

echo "== executing ${#chapters[@]} chapters (preset=$preset, results in ${FREQKIT_RESULTS:-results/})"
not_built=()
for nb in "${chapters[@]}"; do
    t0=$SECONDS
    # a chapter with neither its data nor finished runs here gets a page that says so (freqkit.book)
    reason="$("$PYTHON" -c 'import sys; from freqkit.book import unavailable_reason as u; print(u(*sys.argv[1:]))' \
        "$nb" "$preset")"
    if [ -n "$reason" ]; then
        echo "   NOTE: $nb not executed: $reason"
        "$PYTHON" -c 'import sys; from freqkit.book import write_unavailable_page as w; w(*sys.argv[1:])' \
            "$nb" "$stage/$nb" "$reason"
        not_built+=("$nb")
        continue
    fi
    "$PYTHON" -m papermill "$nb" "$stage/$nb" -p preset "$preset" \
        --cwd "$stage/$(dirname "$nb")" --kernel python3 --no-progress-bar --log-level WARNING
    "$PYTHON" -c "import sys; from freqkit.book import tag_parameter_cells as t; t(sys.argv[1])" "$stage/$nb"
    echo "   $nb: $((SECONDS - t0)) s"
done
t_exec=$SECONDS

echo "== jupyter-book build"
log="_build/jupyter-book-build.log"
status=0
jupyter-book build --all -W -n --keep-going "$stage" --path-output . >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ] || grep -qE "WARNING|ERROR" "$log"; then
    grep -E "WARNING|ERROR" "$log" >&2 || tail -n 40 "$log" >&2
    echo "book.sh: jupyter-book build failed or warned (exit $status); full log: $log" >&2
    exit 1
fi
echo "   built with 0 warnings in $((SECONDS - t_exec)) s: _build/html/index.html"
t_build=$SECONDS

echo "== checking pages with headless Chromium"
"$PYTHON" scripts/check_pages.py _build/html
echo "book.sh: OK (preset $preset): execute $((t_exec - t_start)) s, build $((t_build - t_exec)) s, check $((SECONDS - t_build)) s, total $((SECONDS - t_start)) s"
if [ ${#not_built[@]} -gt 0 ]; then
    echo "book.sh: NOTE: ${#not_built[@]} chapter(s) not executed here (no data, no finished runs): ${not_built[*]}"
fi
