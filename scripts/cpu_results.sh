#!/usr/bin/env bash
# Compute the committed cpu-preset results of the book from a clean checkout of HEAD, so every
# run file records git_dirty = 0 and the commit it was made with:
#   bash scripts/cpu_results.sh [CHAPTER ...]     # default: every chapter in _toc.yml order
#   FREQKIT_JOBS=2 bash scripts/cpu_results.sh ch02   # 2 processes of 1 thread each share the grid
#                                                       # (per-run locks: each run is computed once)
# Runs that already exist under results/<chapter>/cpu/ are skipped (delete a file to recompute it).
# Commit the new files afterwards: git add results/ && git commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "cpu_results.sh: NOTE: uncommitted changes are not used: runs are computed at HEAD" >&2
fi
clone="$(mktemp -d -t freqkit-clean-XXXXXX)"
trap 'rm -rf "$clone"' EXIT
git clone -q "$root" "$clone"
chapters=("$@")
if [ ${#chapters[@]} -eq 0 ]; then
    mapfile -t chapters < <(cd "$clone" && python3 -c "
from freqkit.experiments.scaffold import chapters
print('\n'.join(chapters().names()))")
fi
for ch in "${chapters[@]}"; do
    t0=$SECONDS
    echo "== $ch (cpu preset) from a clean clone at $(git -C "$clone" rev-parse --short HEAD)"
    jobs="${FREQKIT_JOBS:-1}"
    threads="${OMP_NUM_THREADS:-}"
    [ "$jobs" -gt 1 ] && threads=1  # several processes: one thread each
    # every grid the chapter's notebook runs (Chapter.book_grids), as --set arguments, one line each
    mapfile -t grids < <(cd "$clone" && PYTHONPATH="$clone" python3 -c "
import json
from freqkit.experiments.scaffold import chapters
for g in chapters().get('$ch').book_grids:
    print(' '.join(f'--set {k}={json.dumps(v)}' for k, v in g.items()))")
    for grid in "${grids[@]}"; do
        read -ra sets <<< "$grid"
        [ -n "$grid" ] && echo "   grid: $grid"
        pids=()
        for ((j = 0; j < jobs; j++)); do
            (cd "$clone" && env ${threads:+OMP_NUM_THREADS=$threads} PYTHONPATH="$clone" \
                FREQKIT_RESULTS="$root/results" HF_HUB_OFFLINE=1 \
                FREQKIT_SHARED_DATA="${FREQKIT_SHARED_DATA:-$root/../shared/data}" \
                python3 -m freqkit run "$ch" --preset cpu --device cpu "${sets[@]}") &
            pids+=($!)
            sleep 5  # the first process claims its first run before the next starts
        done
        status=0
        for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
        [ "$status" -eq 0 ] || { echo "cpu_results.sh: $ch failed (exit $status)" >&2; exit "$status"; }
    done
    echo "   $ch: $((SECONDS - t0)) s"
done
