# Shared by scripts/demo and scripts/test: make or reuse the project's
# virtualenv in .venv and install the project into it (editable), skipping
# pip when nothing changed since the last install.
#
# Usage (after cd to the repository root):  source scripts/lib/venv.sh
#                                            ensure_venv ""      # runtime only
#                                            ensure_venv test    # with test extras

VENV_DIR=".venv"
VENV_PYTHON="$VENV_DIR/bin/python"
VENV_STAMP="$VENV_DIR/.schakel-installed"

die() {
    echo "error: $*" >&2
    exit 1
}

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [[ -n $candidate ]] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

make_venv() {
    local python
    python=$(find_python) || die "Python 3.11 or newer is needed (apt-get install python3)"
    echo "Creating the virtualenv in $VENV_DIR with $python" >&2
    # Debian and Ubuntu ship venv without ensurepip unless python3-venv is in.
    if ! "$python" -m venv "$VENV_DIR"; then
        rm -rf "$VENV_DIR"
        die "could not create a virtualenv: apt-get install python3-venv"
    fi
}

install_stamp() {
    local extras=$1
    echo "$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras:-none}"
}

stamp_satisfies() {
    local extras=$1 have want_hash
    [[ -f $VENV_STAMP && -x $VENV_DIR/bin/schakel ]] || return 1
    have=$(cat "$VENV_STAMP")
    want_hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
    [[ ${have%% *} == "$want_hash" ]] || return 1
    # An install with the test extras also serves a run without them.
    [[ -z $extras || ${have#* } == "$extras" ]]
}

ensure_venv() {
    local extras=$1 target="."
    [[ -f pyproject.toml ]] || die "run from the repository root"

    if [[ ! -x $VENV_PYTHON ]] \
        || ! "$VENV_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        rm -rf "$VENV_DIR"
        make_venv
    fi

    # Browser tests drive the system's Chromium; never fetch Playwright's own.
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

    stamp_satisfies "$extras" && return 0
    [[ -n $extras ]] && target=".[$extras]"
    echo "Installing Schakel ($target) into $VENV_DIR" >&2
    "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check -e "$target" \
        || die "pip install -e '$target' failed"
    install_stamp "$extras" >"$VENV_STAMP"
}
