#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests (Playwright drives it through
# executable_path; Playwright's own browser download is not used). Needs root; says how if not.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "the console tests need Chromium: run \`sudo apt-get update && sudo apt-get install -y chromium\`" >&2
    exit 1
fi
echo "installing chromium (apt-get; about a minute)"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
test -x /usr/bin/chromium
