#!/usr/bin/env bash
# Prints the path of a `promtool` (Prometheus's own checker) for tests/metrics_promtool.rs,
# installing it first when the cache has none. Nothing is installed system-wide:
#
#   1. $SQLGATE_PROMTOOL, when set, is used as is (a promtool you trust; no download);
#   2. else ${SQLGATE_CACHE:-$HOME/.cache/sqlgate}/promtool/<deb version>/usr/bin/promtool when
#      an earlier run installed it there;
#   3. else Debian's `prometheus` package is fetched with `apt-get download` (apt checks its
#      hash against the signed archive index) into that directory and unpacked with
#      `dpkg-deb -x` (no dpkg database, no maintainer scripts, no root needed). When the
#      machine's package lists do not know the package (a fresh container), apt reads the
#      machine's sources into lists of its own under the cache directory first
#      (`apt-get update` with private Dir::State::Lists and Dir::Cache); the system's lists
#      are left alone.
#
# Exit status: 0 with the path on stdout (nothing else on stdout), 1 with the reason on
# stderr. Needs apt-get and dpkg-deb (any Debian or Ubuntu machine).
set -euo pipefail

die() { printf '[promtool] error: %s\n' "$*" >&2; exit 1; }
log() { printf '[promtool] %s\n' "$*" >&2; }

if [[ -n "${SQLGATE_PROMTOOL:-}" ]]; then
  [[ -x "$SQLGATE_PROMTOOL" ]] || die "SQLGATE_PROMTOOL=$SQLGATE_PROMTOOL is not an executable"
  printf '%s\n' "$SQLGATE_PROMTOOL"
  exit 0
fi

root="${SQLGATE_CACHE:-$HOME/.cache/sqlgate}/promtool"
mkdir -p "$root"
# Any earlier install will do: promtool's metric rules are stable across Debian's updates.
for found in "$root"/*/usr/bin/promtool; do
  if [[ -x "$found" && -e "$(dirname "$(dirname "$(dirname "$found")")")/.complete" ]]; then
    printf '%s\n' "$found"
    exit 0
  fi
done

command -v apt-get >/dev/null || die "apt-get not found: promtool comes from Debian's prometheus package (set SQLGATE_PROMTOOL to a promtool to use instead)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (set SQLGATE_PROMTOOL to a promtool to use instead)"
command -v flock >/dev/null || die "flock not found (util-linux)"

exec 9>"$root/.lock"
flock -w 600 9 || die "timed out waiting for another promtool install ($root/.lock)"

work="$root/download"
rm -rf "$work"
mkdir -p "$work"
# apt drops privileges to _apt for downloads, which cannot write a directory under $HOME.
chmod 0777 "$work"
apt_opts=()
if ! (cd "$work" && apt-get download -q prometheus >"$work/apt.log" 2>&1); then
  log "the system's package lists have no prometheus package; reading the apt sources into $root/apt"
  mkdir -p "$root/apt/lists/partial" "$root/apt/cache/archives/partial"
  apt_opts=(-o "Dir::State::Lists=$root/apt/lists" -o "Dir::Cache=$root/apt/cache"
            -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" -q update >"$work/apt-update.log" 2>&1 \
    || die "apt-get update (private lists) failed: $(tail -n 5 "$work/apt-update.log")"
  (cd "$work" && apt-get "${apt_opts[@]}" download -q prometheus >"$work/apt.log" 2>&1) \
    || die "apt-get download prometheus failed: $(tail -n 5 "$work/apt.log")"
fi
deb=$(ls "$work"/prometheus_*.deb 2>/dev/null | head -n 1)
[[ -n "$deb" ]] || die "apt-get download left no prometheus_*.deb in $work"
version=$(dpkg-deb -f "$deb" Version)
dest="$root/${version//[^A-Za-z0-9.+_-]/_}"
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest" || die "dpkg-deb -x $deb failed"
[[ -x "$dest/usr/bin/promtool" ]] || die "$deb has no usr/bin/promtool"
"$dest/usr/bin/promtool" --version >/dev/null 2>&1 || die "$dest/usr/bin/promtool does not run"
# Only the checker is kept: the server binary and the web assets are not needed.
mv "$dest/usr/bin/promtool" "$work/promtool"
rm -rf "$dest/usr" "$dest"/*
mkdir -p "$dest/usr/bin"
mv "$work/promtool" "$dest/usr/bin/promtool"
touch "$dest/.complete"
rm -rf "$work"
log "installed promtool $version into $dest"
printf '%s\n' "$dest/usr/bin/promtool"
