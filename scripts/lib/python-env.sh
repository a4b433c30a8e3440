# shellcheck shell=bash
# Sourced by the scripts in scripts/: the Python packages they use (aws-cli, boto3)
# live in a virtual environment of their own, because `pip install` into the system
# Python is refused on current Debian and Ubuntu (externally-managed-environment).
#
#   python_env PACKAGE...   create the environment if needed, install the PACKAGEs
#                           that are not in it yet, and put its bin/ first on PATH
#                           (so `python3`, `aws` and friends are the environment's)
#
# The environment is ${CAIRN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/venv} and is
# reused by every later run. Delete the directory to start over. CAIRN_VENV=off uses
# whatever python3 and tools are already on PATH and installs nothing.
#
# Needs python3 with its venv module; as root with apt-get, python3 and python3-venv
# are installed when missing.

[[ -n "${_CAIRN_PYTHON_ENV_SH:-}" ]] && return 0
_CAIRN_PYTHON_ENV_SH=1

# shellcheck source=scripts/lib/need.sh
. "$(dirname "${BASH_SOURCE[0]}")/need.sh"

_pyenv_log() { printf '%s: %s\n' "$(basename "${0:-cairn}")" "$*" >&2; }

# Create the environment in $1 unless a working one is there.
_python_env_create() {
    local dir="$1"
    if [[ -x "$dir/bin/python3" ]] && "$dir/bin/python3" -c 'import pip' >/dev/null 2>&1; then
        return 0
    fi
    if [[ -e "$dir" ]]; then
        # Broken (e.g. the python it was made from is gone). Remove it only if it is one.
        [[ -f "$dir/pyvenv.cfg" ]] || {
            _pyenv_log "error: $dir exists but is not a Python virtual environment (set CAIRN_VENV elsewhere)"
            exit 1
        }
        _pyenv_log "recreating the broken virtual environment $dir"
        rm -rf "$dir"
    fi
    mkdir -p "$(dirname "$dir")"
    _pyenv_log "creating a Python virtual environment in $dir"
    if ! python3 -m venv "$dir" >/dev/null 2>&1; then
        rm -rf "$dir"
        # Debian and Ubuntu ship the venv module (ensurepip) separately.
        if can_apt_install && apt_install python3-venv && python3 -m venv "$dir" >&2; then
            :
        else
            rm -rf "$dir"
            _pyenv_log "error: 'python3 -m venv' does not work; install the package python3-venv" \
                "(Debian/Ubuntu: sudo apt-get install python3-venv), or point CAIRN_VENV at a virtual environment"
            exit 1
        fi
    fi
}

python_env() {
    if [[ "${CAIRN_VENV:-}" == off ]]; then
        need_cmd python3 python3
        return 0
    fi
    local dir="${CAIRN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/venv}"
    need_cmd python3 python3
    mkdir -p "$(dirname "$dir")"
    # One script at a time sets the environment up (two runs at once would race).
    local lock_fd=""
    if command -v flock >/dev/null 2>&1; then
        exec {lock_fd}>"$dir.lock"
        flock "$lock_fd"
    fi
    _python_env_create "$dir"
    local missing=() p
    for p in "$@"; do
        "$dir/bin/python3" -m pip show --quiet "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        _pyenv_log "installing ${missing[*]} into $dir (pip)"
        if ! "$dir/bin/python3" -m pip install --quiet --disable-pip-version-check "${missing[@]}" >&2; then
            if [[ -n "$lock_fd" ]]; then exec {lock_fd}>&-; fi
            _pyenv_log "error: pip could not install ${missing[*]} into $dir"
            exit 1
        fi
    fi
    if [[ -n "$lock_fd" ]]; then exec {lock_fd}>&-; fi
    # The environment's bin/ first, once.
    local rest=":$PATH:"
    rest="${rest//":$dir/bin:"/:}"
    rest="${rest#:}"
    PATH="$dir/bin:${rest%:}"
    export PATH VIRTUAL_ENV="$dir"
    hash -r
}
