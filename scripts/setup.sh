# shellcheck shell=bash
# Sourced by scripts/book.sh and scripts/test.sh: installs what the project
# needs on a fresh machine and is fast (a few checks) when everything is there.
#   - Debian packages: dataset-fashion-mnist, chromium (and npm if absent)
#   - python3 -m pip install -e '.[dev]' (pinned torch/torchvision from pyproject)
#   - MathJax 3.2.2 vendored into _vendor/static/mathjax via `npm pack`
# Exports FREQKIT_ROOT, HF_HUB_OFFLINE=1 and PYTHON.

FREQKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FREQKIT_ROOT
export HF_HUB_OFFLINE=1
export PYDEVD_DISABLE_FILE_VALIDATION=1
PYTHON="${PYTHON:-python3}"
export PYTHON
MATHJAX_VERSION=3.2.2

_freqkit_log() { printf '[setup] %s\n' "$*" >&2; }

_freqkit_apt() {
    local missing=() pkg
    for pkg in dataset-fashion-mnist chromium; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        _freqkit_log "apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        _freqkit_log "WARNING: missing Debian packages (${missing[*]}) and not root with apt-get; install them by hand"
    fi
}

_freqkit_pip() {
    local stamp="$FREQKIT_ROOT/_vendor/pip-install.stamp" want
    want="$(sha256sum "$FREQKIT_ROOT/pyproject.toml" | cut -d' ' -f1) $FREQKIT_ROOT"
    # The import check also makes sure `freqkit` resolves to *this* checkout (a
    # kernel started in notebooks/ must not pick up another clone's editable install).
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && (cd / && "$PYTHON" - "$FREQKIT_ROOT" <<'PY'
import sys, pathlib
import freqkit, papermill, jupyter_book, pytest_timeout, hypothesis, ipykernel  # noqa: F401
root = pathlib.Path(sys.argv[1]).resolve()
sys.exit(0 if root in pathlib.Path(freqkit.__file__).resolve().parents else 1)
PY
    ) >/dev/null 2>&1; then
        return 0
    fi
    _freqkit_log "python3 -m pip install -e '.[dev]'"
    (cd "$FREQKIT_ROOT" && "$PYTHON" -m pip install -q --root-user-action=ignore -e '.[dev]')
    mkdir -p "$FREQKIT_ROOT/_vendor"
    printf '%s' "$want" >"$stamp"
}

_freqkit_mathjax() {
    local dest="$FREQKIT_ROOT/_vendor/static/mathjax" tmp
    [ -f "$dest/tex-chtml.js" ] && [ -d "$dest/output/chtml/fonts/woff-v2" ] && return 0
    _freqkit_log "npm pack mathjax@$MATHJAX_VERSION -> _vendor/static/mathjax"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null && tar xzf "mathjax-$MATHJAX_VERSION.tgz")
    rm -rf "$dest"
    mkdir -p "$dest/output/chtml"
    cp "$tmp/package/es5/tex-chtml.js" "$dest/tex-chtml.js"
    cp -r "$tmp/package/es5/output/chtml/fonts" "$dest/output/chtml/fonts"
    cp "$tmp/package/LICENSE" "$dest/LICENSE"
    rm -rf "$tmp"
}

_freqkit_apt
_freqkit_pip
_freqkit_mathjax
