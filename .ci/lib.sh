# shellcheck shell=bash
# Sourced by every .ci/steps/*.sh, from the repository root:
#   . .ci/lib.sh
# CI runs as root on a fresh Debian 12; each step installs what it needs.
export DEBIAN_FRONTEND=noninteractive

# need_pkgs PKG...: install with apt-get those of the Debian packages that
# are not installed yet (apt-get update first, only when one is missing).
need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "-- installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_build_deps: what the library's build and test suite need; the list
# is scripts/dev's (the README's quick start installs the same).
need_build_deps() {
    scripts/dev deps
}
