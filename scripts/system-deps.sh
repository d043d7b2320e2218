#!/usr/bin/env bash
# The Debian packages netlm uses beyond Python, by purpose. Nothing else is installed, started or
# configured. Usage:
#   scripts/system-deps.sh install GROUP...   as root: apt-get install what is missing;
#                                             otherwise: one message naming what is missing, exit 1
#   scripts/system-deps.sh advise GROUP...    as install when root; otherwise only a note (exit 0)
#   scripts/system-deps.sh check GROUP...     exit 1 naming what is missing; changes nothing
#   scripts/system-deps.sh list GROUP...      print the packages
#
# One purpose per line: to add a package, add it to its purpose's line (or add a line) and to the
# table in the README's Quick start. `a|b*` means: a, or any installed package matching b*
# (e.g. Debian's versioned postgresql-client-15 instead of the postgresql-client metapackage);
# the first name is the one installed.
set -euo pipefail

declare -A GROUP=(
  [pdf]="libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk"   # PDF report: WeasyPrint's Pango, Chinese fonts
  [test]="chromium poppler-utils postgresql-client|postgresql-client-[0-9]*"  # browser tests, PDF checks, pg_dump
  [postgres-server]="postgresql|postgresql-[0-9]*"          # initdb/pg_ctl for the tests' private cluster
  [spark]="openjdk-17-jre-headless"                         # Spark's JVM (registry, survival --engine spark)
  [bench]="wrk"                                             # HTTP load generator
)

action=${1:-}
shift || true
if [[ ! "$action" =~ ^(install|advise|check|list)$ ]] || [ $# -eq 0 ]; then
  echo "usage: $0 install|advise|check|list GROUP... (groups: ${!GROUP[*]})" >&2
  exit 2
fi
packages=()
for group in "$@"; do
  [ -n "${GROUP[$group]+x}" ] || { echo "unknown group: $group (groups: ${!GROUP[*]})" >&2; exit 2; }
  read -r -a more <<<"${GROUP[$group]}"
  packages+=("${more[@]}")
done
if [ "$action" = list ]; then
  echo "${packages[*]%%|*}"
  exit 0
fi

installed() {  # any of the |-separated names or patterns is installed
  local name names
  IFS='|' read -r -a names <<<"$1"
  for name in "${names[@]}"; do
    dpkg-query -W -f='${Status}\n' "$name" 2>/dev/null | grep -q "install ok installed" && return 0
  done
  return 1
}
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("${p%%|*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$action" = check ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  if [ "$action" = advise ]; then
    echo "note: the PDF report will need the Debian packages: ${missing[*]} (the rest works without them)" >&2
    exit 0
  fi
  echo "netlm needs these Debian packages, which are not installed: ${missing[*]}" >&2
  echo "install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

online_before=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 ~ /^online/ {print $1 "/" $2}' || true)
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2

# Debian's postgresql package creates a "main" cluster and starts it. The tests use a private
# cluster of their own, so stop any cluster this install started: nothing is left running.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters --no-header | awk '$4 ~ /^online/ {print $1 " " $2}' | while read -r version name; do
    if ! grep -qx "$version/$name" <<<"$online_before"; then
      echo "stopping the PostgreSQL cluster $version/$name that the package started" >&2
      pg_ctlcluster "$version" "$name" stop </dev/null >&2
    fi
  done
fi
