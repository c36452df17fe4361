# shellcheck shell=bash
# Confluent-compatible Schema Registry: Apicurio Registry 3.x (Quarkus), in-memory H2 storage,
# Confluent API at http://127.0.0.1:PORT/apis/ccompat/v7 (also /apis/ccompat/v8 and Apicurio's
# own /apis/registry/v3). Sourced by scripts/dev-stack.sh after common.sh; see the contract at
# the top of common.sh. Nothing survives a restart (in-memory storage).
#
# Artifact: io.apicurio:apicurio-registry-app:<version>:tar.gz:all from Maven Central.
#   3.3.3 (default) needs Java 21+ (its classes are class-file version 65); the Temurin JDK in
#         /usr/lib/jvm is used when the default java is 17.
#   3.0.9 runs on Java 17; used automatically when no Java 21+ is found (warning on stderr),
#         or on request with SQLGATE_REGISTRY_VERSION=3.0.9.
#
# Environment:
#   SCHEMA_REGISTRY_PORT           HTTP port (default: remembered, else picked free)
#   SCHEMA_REGISTRY_MGMT_PORT      Quarkus management port (health/metrics, 3.3.x only)
#   SCHEMA_REGISTRY_COMPATIBILITY  default global compatibility, BACKWARD (Confluent's default;
#                                  Apicurio's own default is no rule, i.e. NONE)
#   SCHEMA_REGISTRY_HEAP_OPTS      default "-Xms64m -Xmx384m"
#   SCHEMA_REGISTRY_JVM_OPTS       extra JVM options (e.g. -Dapicurio.ccompat.legacy-id-mode.enabled=true)
#   SCHEMA_REGISTRY_JAVA_HOME      JDK (home or java binary) to use
#   SQLGATE_REGISTRY_VERSION       3.3.3 or 3.0.9

REGISTRY_DEFAULT_VERSION=3.3.3

# _registry_meta VERSION : "sha256 min_java runner" for a pinned version.
_registry_meta() {
  case "$1" in
    3.3.3) echo "8bc6751c76d963734224b01d5e7f84ccb3cb61c87d3bd77c36c35f10a5cbed63 21 quarkus-run.jar" ;;
    3.0.9) echo "2b28181501a20cbf6efcd77f9b7153908fc01f3d3a7c32024c0bd9e1b04c8a43 17 apicurio-registry-app-3.0.9-runner.jar" ;;
    *) return 1 ;;
  esac
}

# _registry_select : set REGISTRY_VERSION and REGISTRY_JAVA (java binary to run it with).
_registry_select() {
  local v="${SQLGATE_REGISTRY_VERSION:-$REGISTRY_DEFAULT_VERSION}" meta minj
  meta="$(_registry_meta "$v")" || stack_die "unsupported SQLGATE_REGISTRY_VERSION=$v (pinned: 3.3.3, 3.0.9)"
  minj="$(echo "$meta" | cut -d' ' -f2)"
  if [[ -z "${SQLGATE_REGISTRY_VERSION:-}" && -z "${SCHEMA_REGISTRY_JAVA_HOME:-}" ]] &&
     ! REGISTRY_JAVA="$(stack_find_java "$minj" 2>/dev/null)"; then
    stack_log "warning: Apicurio Registry $v needs Java $minj+, none found; falling back to 3.0.9 on Java 17 (set SCHEMA_REGISTRY_JAVA_HOME to a JDK $minj+ to use $v)"
    v=3.0.9
    meta="$(_registry_meta "$v")"
    minj="$(echo "$meta" | cut -d' ' -f2)"
  fi
  REGISTRY_VERSION="$v"
  REGISTRY_JAVA="$(stack_find_java "$minj" SCHEMA_REGISTRY_JAVA_HOME)" || return 1
}

registry_home() { printf '%s/registry/apicurio-registry-%s' "$(stack_cache_dir)" "$1"; }

# registry_install [VERSION] : download + verify + unpack (default: the selected version).
registry_install() {
  local v="${1:-}"
  if [[ -z "$v" ]]; then
    _registry_select || return 1
    v="$REGISTRY_VERSION"
  fi
  local meta sha home
  meta="$(_registry_meta "$v")" || stack_die "unsupported registry version $v"
  sha="$(echo "$meta" | cut -d' ' -f1)"
  home="$(registry_home "$v")"
  [[ "$(cat "$home/.complete" 2>/dev/null)" == "$sha" ]] && return 0
  stack_lock registry-install _registry_install_locked "$v" "$sha" "$home"
}

_registry_install_locked() {
  local v="$1" sha="$2" home="$3" start=$SECONDS
  [[ "$(cat "$home/.complete" 2>/dev/null)" == "$sha" ]] && return 0
  stack_need curl tar sha256sum
  local base tgz
  base="$(dirname "$home")"
  tgz="$base/apicurio-registry-app-$v-all.tar.gz"
  stack_log "installing Apicurio Registry $v into $home"
  stack_fetch "$STACK_MAVEN_REPO/io/apicurio/apicurio-registry-app/$v/apicurio-registry-app-$v-all.tar.gz" \
    "$tgz" "$sha" || return 1
  rm -rf "$home.tmp" "$home"
  mkdir -p "$home.tmp"
  tar -xzf "$tgz" -C "$home.tmp" || { rm -rf "$home.tmp"; stack_log "cannot unpack $tgz"; return 1; }
  mv "$home.tmp" "$home"
  rm -f "$tgz"
  printf '%s\n' "$sha" >"$home/.complete"
  stack_log "Apicurio Registry $v installed in $((SECONDS - start))s"
}

_registry_marker() { printf -- '-Dsqlgate.stack.dir=%s' "$1"; }

registry_status() {
  local dir port
  dir="$(stack_component_dir registry)"
  stack_pid_alive "$dir/registry.pid" "$(_registry_marker "$dir")" || return 1
  port="$(stack_env_get "$dir/ports.env" SCHEMA_REGISTRY_PORT)"
  printf 'SCHEMA_REGISTRY_URL=http://127.0.0.1:%s/apis/ccompat/v7\n' "$port"
}

registry_up() {
  local dir marker
  dir="$(stack_component_dir registry)"
  marker="$(_registry_marker "$dir")"
  if stack_pid_alive "$dir/registry.pid" "$marker"; then
    local running
    running="$(stack_env_get "$dir/ports.env" SCHEMA_REGISTRY_PORT)"
    if [[ -n "${SCHEMA_REGISTRY_PORT:-}" && "$SCHEMA_REGISTRY_PORT" != "$running" ]]; then
      stack_log "registry already runs on port $running for $dir (SCHEMA_REGISTRY_PORT=$SCHEMA_REGISTRY_PORT ignored; run down first)"
    fi
    registry_status
    return 0
  fi
  _registry_select || return 1
  registry_install "$REGISTRY_VERSION" >&2 || return 1
  local home runner port mport
  home="$(registry_home "$REGISTRY_VERSION")"
  runner="$home/$(_registry_meta "$REGISTRY_VERSION" | cut -d' ' -f3)"
  [[ -f "$runner" ]] || stack_die "missing $runner (remove $home and retry)"

  port="$(stack_choose_port SCHEMA_REGISTRY_PORT "$dir/ports.env")" || return 1
  mport="$(stack_choose_port SCHEMA_REGISTRY_MGMT_PORT "$dir/ports.env" "$port")" || return 1
  local p
  for p in "$port" "$mport"; do
    if stack_port_in_use "$p"; then
      stack_log "port 127.0.0.1:$p is already in use"
      return 1
    fi
  done
  printf 'SCHEMA_REGISTRY_PORT=%s\nSCHEMA_REGISTRY_MGMT_PORT=%s\nSCHEMA_REGISTRY_VERSION=%s\n' \
    "$port" "$mport" "$REGISTRY_VERSION" >"$dir/ports.env"

  local compat="${SCHEMA_REGISTRY_COMPATIBILITY:-BACKWARD}" heap="${SCHEMA_REGISTRY_HEAP_OPTS:--Xms64m -Xmx384m}"
  local jvm=()
  # shellcheck disable=SC2206 # word splitting of option strings is intended
  jvm=($heap -XX:+UseSerialGC -Djava.awt.headless=true ${SCHEMA_REGISTRY_JVM_OPTS:-})
  [[ "$compat" != NONE ]] && jvm+=("-Dapicurio.rules.global.compatibility=$compat")
  mkdir -p "$dir/tmp"
  stack_rotate_log "$dir/registry.log"
  local t0; t0="$(stack_now_ms)"
  stack_log "starting Apicurio Registry $REGISTRY_VERSION ($REGISTRY_JAVA) on 127.0.0.1:$port, state $dir"
  # cd so that nothing Quarkus writes relative to the working directory lands elsewhere.
  (cd "$dir" && stack_spawn "$dir/registry.pid" "$dir/registry.log" "$REGISTRY_JAVA" "${jvm[@]}" "$marker" \
    -Djava.io.tmpdir="$dir/tmp" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$mport" \
    -Dquarkus.http.access-log.enabled=false \
    -jar "$runner") || return 1
  if ! stack_wait_url "http://127.0.0.1:$port/apis/ccompat/v7/subjects" "$STACK_TIMEOUT" "$dir/registry.pid" "$marker"; then
    stack_log_tail "$dir/registry.log"
    stack_stop "$dir/registry.pid" "$marker" 10 || true
    return 1
  fi
  stack_log "registry ready in $(stack_since "$t0") (pid $(cat "$dir/registry.pid"), RSS $(stack_rss_kib "$dir/registry.pid") KiB)"
  registry_status
}

registry_down() {
  local dir
  dir="$(stack_component_dir registry)"
  stack_stop "$dir/registry.pid" "$(_registry_marker "$dir")" 30
}
