#!/usr/bin/env bash
# Build the executable book from scratch:
#   1. install what is needed (scripts/setup.sh),
#   2. execute every chapter notebook listed in _toc.yml with papermill at
#      `-p preset smoke`, in place,
#   3. `jupyter-book build` with warnings as errors (-W -n --keep-going),
#   4. check the built pages with headless Chromium (scripts/check_pages.py).
# Set FREQKIT_BOOK_PRESET to execute at another preset (e.g. cpu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
preset="${FREQKIT_BOOK_PRESET:-smoke}"
t_start=$SECONDS

mapfile -t chapters < <("$PYTHON" scripts/check_pages.py --list-chapters)
if [ ${#chapters[@]} -eq 0 ]; then
    echo "book.sh: _toc.yml lists no chapter notebooks" >&2
    exit 1
fi

for nb in "${chapters[@]}"; do
    t0=$SECONDS
    echo "== executing $nb (preset=$preset)"
    "$PYTHON" -m papermill "$nb" "$nb" -p preset "$preset" \
        --cwd "$(dirname "$nb")" --kernel python3 --no-progress-bar --log-level WARNING
    echo "   done in $((SECONDS - t0)) s"
done
t_exec=$SECONDS

echo "== jupyter-book build"
log="_build/jupyter-book-build.log"
mkdir -p _build
status=0
jupyter-book build --all -W -n --keep-going . >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ] || grep -qE "WARNING|ERROR" "$log"; then
    grep -E "WARNING|ERROR" "$log" >&2 || tail -n 40 "$log" >&2
    echo "book.sh: jupyter-book build failed or warned (exit $status); full log: $log" >&2
    exit 1
fi
echo "   built with 0 warnings in $((SECONDS - t_exec)) s"
t_build=$SECONDS

echo "== checking pages with headless Chromium"
"$PYTHON" scripts/check_pages.py _build/html
echo "book.sh: OK: execute $((t_exec - t_start)) s, build $((t_build - t_exec)) s, check $((SECONDS - t_build)) s, total $((SECONDS - t_start)) s"
