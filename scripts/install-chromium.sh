#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium), the browser the HTML report's test drives with
# playwright-core (packages/dryrun/test/html-browser.test.ts). playwright-core downloads no browser;
# this is the only install step the browser test needs. Idempotent; run as root (CI is).
# Run the test mandatory afterwards with: CLEARANCE_TEST_BROWSER=1 pnpm exec vitest run
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
