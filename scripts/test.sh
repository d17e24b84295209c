#!/usr/bin/env bash
# Install what is needed, then run the fast test suite (doctests of freqkit + tests/).
# Extra arguments are passed to pytest, e.g. `bash scripts/test.sh -k results`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

status=0
"$PYTHON" -m pytest --doctest-modules freqkit tests -m "not slow" --timeout=600 -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5); treating this as a failure" >&2
    exit 1
fi
exit "$status"
