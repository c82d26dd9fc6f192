#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/e2e/test_console_browser.py).
#
#   chromium.sh install   ensure /usr/bin/chromium is installed (apt-get, as root)
#
# Playwright drives this binary through executable_path: no browser is downloaded.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"

CHROMIUM=${CHAINON_CHROMIUM:-/usr/bin/chromium}

case ${1:-} in
    install)
        [[ -x $CHROMIUM ]] && exit 0
        is_root || die "$CHROMIUM not found and not root: install the 'chromium' package"
        command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM not found and apt-get is unavailable"
        log "Chromium not found; installing the 'chromium' package with apt-get"
        apt_install chromium
        [[ -x $CHROMIUM ]] || die "chromium installed but $CHROMIUM is missing"
        ;;
    *)
        echo "usage: $PROG install" >&2
        exit 2
        ;;
esac
