#!/usr/bin/env bash
# The Debian packages netlm uses beyond Python, by purpose. Nothing else is installed, started or
# configured. Usage:
#   scripts/system-deps.sh install GROUP...   as root: apt-get install what is missing;
#                                             otherwise: one message naming what is missing, exit 1
#   scripts/system-deps.sh advise GROUP...    as install when root, but never fails: when the
#                                             packages cannot be installed (not root, apt busy,
#                                             offline), a note names them and it exits 0
#   scripts/system-deps.sh check GROUP...     exit 1 naming what is missing; changes nothing
#   scripts/system-deps.sh list GROUP...      print the packages
#
# One purpose per line: to add a package, add it to its purpose's line (or add a line) and to the
# table in the README's Quick start. `a|b*` means: a, or any installed package matching b*
# (e.g. Debian's versioned postgresql-client-15 instead of the postgresql-client metapackage);
# the first name is the one installed.
#
# apt and dpkg allow one user at a time (unattended-upgrades often holds their locks on a fresh
# machine), so installing waits for the locks first, up to NETLM_APT_LOCK_TIMEOUT seconds (300),
# naming the process that holds them every few seconds. apt-get's own DPkg::Lock::Timeout covers
# dpkg's locks but not `apt-get update`'s (apt 2.6), hence the wait here. NETLM_APT_LOCKS
# (space-separated paths) replaces the lock files watched, for the tests.
set -euo pipefail

declare -A GROUP=(
  [pdf]="libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk"   # PDF report: WeasyPrint's Pango, Chinese fonts
  [test]="chromium poppler-utils postgresql-client|postgresql-client-[0-9]*"  # browser tests, PDF checks, pg_dump
  [postgres-server]="postgresql|postgresql-[0-9]*"          # initdb/pg_ctl for the tests' private cluster
  [spark]="openjdk-17-jre-headless"                         # Spark's JVM (registry, survival --engine spark)
  [bench]="wrk"                                             # HTTP load generator
  [build]="python3 python3-venv python3-pip make"           # the venv and make (.ci/run, bare machine)
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

LOCK_TIMEOUT=${NETLM_APT_LOCK_TIMEOUT:-300}
read -r -a LOCKS <<<"${NETLM_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}"

lock_holder() {  # "PID (NAME)" of a process holding a POSIX lock on file $1, as /proc/locks shows it
  local dev inode id pid
  [ -e "$1" ] || return 1
  dev=$((16#$(stat -c %D "$1"))) inode=$(stat -c %i "$1")
  id=$(printf '%02x:%02x:%d' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$inode")
  pid=$(awk -v id="$id" '$2 == "POSIX" && $6 == id {print $5; exit} $2 == "->" && $3 == "POSIX" && $7 == id {print $6; exit}' /proc/locks)
  [ -n "$pid" ] || return 1
  echo "$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo 'ended'))"
}

wait_for_locks() {  # 0 once no lock is held; 1 (saying who holds it) after LOCK_TIMEOUT seconds
  local start=$SECONDS said=-5 lock holder
  while :; do
    holder=""
    for lock in "${LOCKS[@]}"; do
      holder=$(lock_holder "$lock") && break
    done
    [ -z "$holder" ] && return 0
    if ((SECONDS - start >= LOCK_TIMEOUT)); then
      echo "apt is still busy after ${LOCK_TIMEOUT} s: $lock is held by process $holder." >&2
      echo "Let it finish (unattended-upgrades does, within minutes), then run this again; or wait longer with NETLM_APT_LOCK_TIMEOUT=SECONDS." >&2
      return 1
    fi
    if ((SECONDS - said >= 5)); then
      echo "waiting for apt: $lock is held by process $holder ($((SECONDS - start)) s of at most ${LOCK_TIMEOUT} s)" >&2
      said=$SECONDS
    fi
    sleep 1
  done
}

install_missing() {  # apt-get update and install, each after waiting for apt's locks
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  wait_for_locks || return 1
  apt-get update -q >&2 || return 1
  wait_for_locks || return 1
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" "${missing[@]}" >&2
}

online_before=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 ~ /^online/ {print $1 "/" $2}' || true)
if ! install_missing; then
  if [ "$action" = advise ]; then
    echo "note: the PDF report's Debian packages were not installed (${missing[*]}); netlm starts without them and the PDF report names what is missing. Install them later: scripts/system-deps.sh install pdf" >&2
    exit 0
  fi
  echo "could not install the Debian packages ${missing[*]}: the reason is above" >&2
  exit 1
fi

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
