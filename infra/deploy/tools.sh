#!/usr/bin/env bash
# The offline checkers of deploy/ (no container engine runs on the project's machines):
#
#   tools.sh install   docker-compose (Debian's, for `docker-compose config`), promtool
#                      (Debian's prometheus package) and the Containerfile linter
#                      (dockerfile-utils, from npm, in devtools/deploylint)
#
# As root, the Debian packages are installed with apt-get when missing; otherwise a
# missing one is an error naming the package: make test fails loudly, it never skips.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
ROOT=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)

cmd_install() {
    local missing=()
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    if ((${#missing[@]})); then
        is_root || die "not found: ${missing[*]} (Debian packages); install them or run as root"
        command -v apt-get >/dev/null 2>&1 || die "not found: ${missing[*]}, and no apt-get"
        log "installing ${missing[*]} with apt-get"
        apt_install "${missing[@]}"
        # The prometheus package starts its server; only promtool is wanted here.
        if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
    fi
    local lint=$ROOT/devtools/deploylint
    if [[ ! -x $lint/node_modules/.bin/dockerfile-utils ]]; then
        npm ci --prefix "$lint" --no-audit --no-fund >&2 || die "npm ci in $lint failed"
    fi
    log "docker-compose $(docker-compose version --short), $(promtool --version 2>&1 | head -1)"
}

case ${1:-} in
    install) cmd_install ;;
    *) die "usage: tools.sh install" ;;
esac
