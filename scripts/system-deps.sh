#!/usr/bin/env bash
# Installs the Debian packages netlm needs beyond Python, when they are missing.
#   scripts/system-deps.sh run    PDF rendering: Pango (WeasyPrint) and the Noto CJK fonts
#   scripts/system-deps.sh test   also Chromium (browser tests), poppler-utils (PDF checks), PostgreSQL
#   scripts/system-deps.sh bench  also wrk (HTTP load generator)
set -euo pipefail
mode=${1:-run}
packages=(libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk)
if [ "$mode" = test ]; then
  packages+=(chromium poppler-utils postgresql)
elif [ "$mode" = bench ]; then
  packages+=(wrk)
fi
if [ "$mode" != run ]; then packages+=(openjdk-17-jre-headless); fi  # Java for Spark: survival tests and bench (issue 12b)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "netlm needs these Debian packages: ${missing[*]} (install them as root)" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
