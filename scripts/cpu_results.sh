#!/usr/bin/env bash
# Compute the committed cpu-preset results of the book from a clean checkout of HEAD, so every
# run file records git_dirty = 0 and the commit it was made with:
#   bash scripts/cpu_results.sh [CHAPTER ...]     # default: every chapter in _toc.yml order
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
    (cd "$clone" && PYTHONPATH="$clone" FREQKIT_RESULTS="$root/results" HF_HUB_OFFLINE=1 \
        FREQKIT_SHARED_DATA="${FREQKIT_SHARED_DATA:-$root/../shared/data}" \
        python3 -m freqkit run "$ch" --preset cpu --device cpu)
    echo "   $ch: $((SECONDS - t0)) s"
done
