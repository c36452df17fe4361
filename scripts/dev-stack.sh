#!/usr/bin/env bash
# Local dev/test stack: real Apache Kafka 4.x (KRaft, single node), Apicurio Registry
# (Confluent-compatible Schema Registry API) and, when scripts/stack/flink.sh is present, Flink.
# Everything binds 127.0.0.1. See scripts/stack/README.md and the contract in
# scripts/stack/common.sh.
#
#   scripts/dev-stack.sh up     [kafka] [registry] [flink]   (no names: kafka registry)
#   scripts/dev-stack.sh status [names]                      (no names: kafka registry)
#   scripts/dev-stack.sh down   [names]                      (no names: everything started)
#   scripts/dev-stack.sh clean  [names]                      (down, then delete the state)
#   scripts/dev-stack.sh install [names]                     (download/verify only)
#   scripts/dev-stack.sh kafka-tool CLASS|ALIAS [ARGS...]     (Kafka CLI from the same jars)
#   scripts/dev-stack.sh lock kafka                          (regenerate the jar lock; mvn)
#
# `up` and `status` print only KEY=value lines on stdout, e.g.
#   KAFKA_BOOTSTRAP=127.0.0.1:23456
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:24567/apis/ccompat/v7
# so `set -a; eval "$(scripts/dev-stack.sh up)"; set +a` exports them. Exit status: 0 ok,
# 1 failure (or, for status, something asked for is not running), 75 state dir lock timeout.
# Logs go to stderr. State (pids, logs, data, ports) lives in
# ${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}; downloads in
# ${SQLGATE_CACHE:-$HOME/.cache/sqlgate}/stack.
set -euo pipefail

STACK_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/stack" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=stack/common.sh
. "$STACK_SCRIPTS/common.sh"

ALL_COMPONENTS=(kafka registry flink)   # start order; stopped in reverse
DEFAULT_COMPONENTS=(kafka registry)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

load_component() {
  local name="$1"
  case "$name" in
    *[!a-z0-9_]* | "") stack_die "bad component name '$name'" ;;
  esac
  [[ -f "$STACK_SCRIPTS/$name.sh" ]] || stack_die "unknown component '$name' (no $STACK_SCRIPTS/$name.sh)"
  # shellcheck source=/dev/null
  . "$STACK_SCRIPTS/$name.sh"
  local f
  for f in install up down status; do
    declare -F "${name}_$f" >/dev/null || stack_die "$name.sh does not define ${name}_$f"
  done
}

# Sort the requested names into start order, dropping duplicates.
ordered() {
  local c n
  for c in "${ALL_COMPONENTS[@]}"; do
    for n in "$@"; do
      if [[ "$n" == "$c" ]]; then echo "$c"; break; fi
    done
  done
  for n in "$@"; do
    local known=0
    for c in "${ALL_COMPONENTS[@]}"; do [[ "$n" == "$c" ]] && known=1; done
    ((known)) || echo "$n"
  done
}

# Serialize up/down/clean/status per state dir (bounded wait): re-run this script under
# `flock -o`, so the lock is held by the flock process only and never inherited by the servers
# a component starts.
lock_state_dir() {
  [[ "${_SQLGATE_STACK_LOCKED:-}" == "$(stack_state_dir)" ]] && return 0
  stack_need flock
  local d; d="$(stack_state_dir)"
  mkdir -p "$d" || stack_die "cannot create state dir $d"
  _SQLGATE_STACK_LOCKED="$d" exec flock -o -w 900 -E 75 "$d/.dev-stack.flock" \
    bash "${BASH_SOURCE[0]}" "$@"
}

cmd="${1:-}"
[[ -n "$cmd" ]] || usage
shift
case "$cmd" in up | down | clean | status) lock_state_dir "$cmd" "$@" ;; esac

case "$cmd" in
  up | status | install)
    names=("$@")
    [[ ${#names[@]} -gt 0 ]] || names=("${DEFAULT_COMPONENTS[@]}")
    mapfile -t names < <(ordered "${names[@]}")
    for n in "${names[@]}"; do load_component "$n"; done
    rc=0
    for n in "${names[@]}"; do
      case "$cmd" in
        install)
          "${n}_install" >&2 || { stack_log "$n: install failed"; exit 1; }
          ;;
        up)
          if ! out="$("${n}_up")"; then
            stack_log "$n: failed to start (state dir $(stack_state_dir)/$n)"
            exit 1
          fi
          printf '%s\n' "$out"
          # Later components (e.g. flink) see earlier endpoints (KAFKA_BOOTSTRAP, ...).
          while IFS='=' read -r k v; do
            [[ "$k" =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "$k=$v"
          done <<<"$out"
          ;;
        status)
          if ! "${n}_status"; then
            stack_log "$n: not running (state dir $(stack_state_dir)/$n)"
            rc=1
          fi
          ;;
      esac
    done
    exit "$rc"
    ;;
  down | clean)
    names=("$@")
    if [[ ${#names[@]} -eq 0 ]]; then
      # Everything this state dir has state for.
      for c in "${ALL_COMPONENTS[@]}"; do
        [[ -d "$(stack_state_dir)/$c" && -f "$STACK_SCRIPTS/$c.sh" ]] && names+=("$c")
      done
    fi
    [[ ${#names[@]} -gt 0 ]] || exit 0
    mapfile -t names < <(ordered "${names[@]}")
    for n in "${names[@]}"; do load_component "$n"; done
    rc=0
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do
      n="${names[$i]}"
      [[ -d "$(stack_state_dir)/$n" ]] || continue
      if "${n}_down" >&2; then
        stack_log "$n: stopped"
      else
        stack_log "$n: could not be stopped"
        rc=1
        continue
      fi
      if [[ "$cmd" == clean ]]; then
        if declare -F "${n}_clean" >/dev/null; then
          "${n}_clean" >&2 || rc=1
        else
          rm -rf "${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}/$n"
        fi
        stack_log "$n: state removed"
      fi
    done
    exit "$rc"
    ;;
  kafka-tool)
    load_component kafka
    kafka_tool "$@"
    ;;
  lock)
    [[ "${1:-}" == kafka ]] || stack_die "usage: dev-stack.sh lock kafka"
    load_component kafka
    kafka_lock
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    stack_log "unknown command '$cmd'"
    usage
    ;;
esac
