# shellcheck shell=bash
# Sourced by the scripts in scripts/: make sure the programs they call are there.
#
#   need_cmd CMD PACKAGE   CMD on PATH, else install the Debian/Ubuntu PACKAGE with
#                          apt-get when running as root, else stop with an error that
#                          names the package
#   apt_install PACKAGE... apt-get install (as root; runs apt-get update once if needed)
#
# Package names are Debian's (curl, iproute2 for ss, python3, python3-venv); on other
# systems the error message still says what to look for.

[[ -n "${_CAIRN_NEED_SH:-}" ]] && return 0
_CAIRN_NEED_SH=1

_need_log() { printf '%s: %s\n' "$(basename "${0:-cairn}")" "$*" >&2; }

# True when this shell may install system packages with apt-get.
can_apt_install() {
    [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1
}

_CAIRN_APT_UPDATED=""
apt_install() {
    can_apt_install || return 1
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 install --no-install-recommends)
    _need_log "installing $* with apt-get"
    if "${apt[@]}" "$@" >/dev/null 2>&1; then
        return 0
    fi
    # A fresh image often has no package lists yet.
    if [[ -z "$_CAIRN_APT_UPDATED" ]]; then
        _CAIRN_APT_UPDATED=1
        env DEBIAN_FRONTEND=noninteractive apt-get -q update >/dev/null 2>&1 || true
    fi
    "${apt[@]}" "$@" >&2
}

need_cmd() {
    local cmd="$1" pkg="${2:-$1}"
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if can_apt_install; then
        apt_install "$pkg" || true
        hash -r
        command -v "$cmd" >/dev/null 2>&1 && return 0
        _need_log "error: '$cmd' is still missing after apt-get install $pkg"
    else
        _need_log "error: '$cmd' is needed but not installed; install the package $pkg" \
            "(Debian/Ubuntu: sudo apt-get install $pkg)"
    fi
    exit 1
}
