# shellcheck shell=bash
# Shared helpers for scripts/dev-stack.sh and its components (scripts/stack/NAME.sh).
# Sourced, not run. Only bash, coreutils, curl, flock (util-linux) and the tools a component
# names (java, tar, ...) are used.
#
# ------------------------------------------------------------------------------------------
# Component contract (kafka.sh, registry.sh, flink.sh, ...)
# ------------------------------------------------------------------------------------------
# dev-stack.sh sources common.sh, then scripts/stack/NAME.sh for each component NAME it is
# asked about, and calls these functions (all must exist):
#
#   NAME_install   Download/unpack into "$(stack_cache_dir)/NAME/..." (shared by every state
#                  dir). Pinned sha256 for everything downloaded (stack_fetch). Idempotent: a
#                  complete install leaves a marker and a second call returns at once. Hold
#                  stack_lock "NAME-install" around the work so parallel `up`s don't race.
#   NAME_up        Start the component if this state dir's instance is not running (call
#                  NAME_install first), wait for it to be ready with a bounded deadline, then
#                  print its endpoint line(s) "KEY=value" on stdout. Nothing else on stdout.
#                  Already running -> just print the lines. Returns non-zero on failure, after
#                  printing the tail of its log to stderr (stack_log_tail).
#   NAME_down      Stop only the process this state dir started (pid file + marker), wait for
#                  it to exit (bounded, then SIGKILL), remove the pid file. Idempotent.
#   NAME_status    Print the endpoint line(s) and return 0 if running, else return 1 (print
#                  nothing on stdout).
#
# Optional: NAME_clean (remove the component's state after down; the default just removes
# "$(stack_component_dir NAME)").
#
# Rules every component follows:
#   * Servers bind 127.0.0.1 only (every listener, including management/metrics ones).
#   * Everything mutable lives in "$(stack_component_dir NAME)" under the state dir
#     (${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}/NAME): pid file, logs, data,
#     config, chosen ports. Two state dirs must be able to run at the same time, so ports are
#     picked free per state dir (stack_pick_port) unless given by env, and remembered there.
#   * Logs go to stderr (stack_log) or to files in the component dir; stdout carries only
#     KEY=value lines.
#   * Processes are started with stack_spawn, which detaches them (setsid, stdin </dev/null,
#     output to a log file) and writes the pid file, and puts the marker
#     "-Dsqlgate.stack.dir=<component dir>" (or any marker string you pass) on the command line
#     so stack_pid_alive never mistakes a recycled pid for ours.
#   * Every wait is bounded (stack_wait_port / stack_wait_url / stack_stop take a timeout).
#
# Environment:
#   SQLGATE_CACHE         download cache root (default $HOME/.cache/sqlgate); files go to
#                         $SQLGATE_CACHE/stack/NAME/...
#   SQLGATE_STACK_DIR     state dir (default $HOME/.cache/sqlgate/stack/run)
#   SQLGATE_MAVEN_REPO    Maven repository base URL (default https://repo1.maven.org/maven2)
#   SQLGATE_STACK_TIMEOUT default readiness deadline in seconds (default 120)
# ------------------------------------------------------------------------------------------

# shellcheck disable=SC2034 # used by the component scripts
STACK_MAVEN_REPO="${SQLGATE_MAVEN_REPO:-https://repo1.maven.org/maven2}"
# shellcheck disable=SC2034
STACK_TIMEOUT="${SQLGATE_STACK_TIMEOUT:-120}"

stack_log() { printf '[dev-stack] %s\n' "$*" >&2; }
stack_die() { printf '[dev-stack] error: %s\n' "$*" >&2; exit 1; }

# stack_need TOOL... : fail with a clear message naming the first missing tool.
stack_need() {
  local t pkg
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 && continue
    case "$t" in
      mvn) pkg=maven ;;
      java) pkg=openjdk-17-jre-headless ;;
      flock | setsid) pkg=util-linux ;;
      sha256sum | base64) pkg=coreutils ;;
      *) pkg="$t" ;;
    esac
    stack_die "required tool '$t' not found on PATH (Debian: apt-get install -y $pkg)"
  done
}

stack_cache_dir() { printf '%s/stack' "${SQLGATE_CACHE:-$HOME/.cache/sqlgate}"; }
stack_state_dir() { printf '%s' "${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}"; }
# stack_component_dir NAME : absolute per-state-dir directory of a component (created).
stack_component_dir() {
  local d
  d="$(stack_state_dir)/$1"
  mkdir -p "$d" || stack_die "cannot create $d"
  (cd "$d" && pwd -P)
}

# stack_lock NAME CMD... : run CMD while holding an exclusive lock in the cache dir (bounded
# wait of 30 min, enough for a cold download by another process). Uses fd 8 (dev-stack.sh
# holds the state dir lock on fd 9); stack_spawn closes both in the processes it starts.
stack_lock() {
  local name="$1"; shift
  stack_need flock
  local dir; dir="$(stack_cache_dir)"
  mkdir -p "$dir"
  (
    flock -w 1800 8 || stack_die "timed out waiting for lock $dir/.$name.lock"
    "$@"
  ) 8>"$dir/.$name.lock"
}

# stack_sha256_check FILE SHA256 : non-zero (with a message) if FILE does not have that hash.
stack_sha256_check() {
  local file="$1" want="$2" got
  stack_need sha256sum
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  if [[ "$got" != "$want" ]]; then
    stack_log "sha256 mismatch for $file: expected $want, got $got"
    return 1
  fi
}

# stack_fetch URL DEST SHA256 : download URL to DEST unless DEST already has SHA256.
# Writes to DEST.part first and renames only after the checksum matched.
stack_fetch() {
  local url="$1" dest="$2" sha="$3"
  if [[ -f "$dest" ]] && stack_sha256_check "$dest" "$sha" 2>/dev/null; then
    return 0
  fi
  stack_need curl
  mkdir -p "$(dirname "$dest")"
  rm -f "$dest.part"
  if ! curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 1200 \
      -o "$dest.part" "$url"; then
    rm -f "$dest.part"
    stack_log "download failed: $url"
    return 1
  fi
  if ! stack_sha256_check "$dest.part" "$sha"; then
    rm -f "$dest.part"
    return 1
  fi
  mv -f "$dest.part" "$dest"
}

# stack_port_in_use PORT : true if something accepts TCP connections on 127.0.0.1:PORT.
stack_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stack_pick_port [EXCLUDE...] : print a port on 127.0.0.1 that nothing listens on, from
# 20000-32767 (below Linux's default ephemeral range), not in the EXCLUDE list.
stack_pick_port() {
  local i p x skip
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
    skip=0
    for x in "$@"; do [[ "$x" == "$p" ]] && skip=1; done
    ((skip)) && continue
    if ! stack_port_in_use "$p"; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  stack_die "could not find a free port on 127.0.0.1"
}

# stack_choose_port VAR PORTS_ENV [EXCLUDE...] : print the port for VAR: the environment's
# value, else the one remembered in PORTS_ENV if nothing listens on it, else a free one; never
# one of EXCLUDE (a clash picks a free one).
stack_choose_port() {
  local var="$1" file="$2" given port x clash=0
  shift 2
  given="${!var:-}"
  port="${given:-$(stack_env_get "$file" "$var")}"
  for x in "$@"; do [[ "$port" == "$x" ]] && clash=1; done
  if [[ -z "$port" ]] || ((clash)) || { [[ -z "$given" ]] && stack_port_in_use "$port"; }; then
    port="$(stack_pick_port "$@")" || return 1
  fi
  printf '%s\n' "$port"
}

# stack_pid_alive PIDFILE MARKER : true if the pid in PIDFILE runs and its command line
# contains MARKER (guards against pid reuse).
stack_pid_alive() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  fi
  return 0
}

# stack_spawn PIDFILE LOGFILE CMD... : start CMD detached (own session, stdin from /dev/null,
# stdout+stderr appended to LOGFILE) and write its pid to PIDFILE. CMD should contain the
# marker later given to stack_pid_alive / stack_stop.
stack_spawn() {
  local pidfile="$1" logfile="$2"; shift 2
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  rm -f "$pidfile"
  # The inner sh writes its own pid, then execs CMD, so the pid is CMD's whether or not setsid
  # had to fork.
  # shellcheck disable=SC2016
  # fd 8/9 are dev-stack.sh's lock fds: the child must not inherit (and so hold) the locks.
  "${launcher[@]}" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" "$@" \
    </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.05
  done
  stack_log "process did not start: $*"
  return 1
}

# stack_stop PIDFILE MARKER [TIMEOUT_S] : SIGTERM our process, wait up to TIMEOUT_S (default
# 30) for it to exit, then SIGKILL (and wait 10 s more). Idempotent; removes PIDFILE.
stack_stop() {
  local pidfile="$1" marker="$2" timeout="${3:-30}" pid i
  if ! stack_pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    stack_log "pid $pid did not exit within ${timeout}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    stack_log "pid $pid is still alive"
    return 1
  fi
  rm -f "$pidfile"
}

# stack_wait_port PORT TIMEOUT_S [PIDFILE MARKER] : wait until 127.0.0.1:PORT accepts
# connections; fail early if the process of PIDFILE died.
stack_wait_port() {
  local port="$1" timeout="$2" pidfile="${3:-}" marker="${4:-}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    stack_port_in_use "$port" && return 0
    if [[ -n "$pidfile" ]] && ! stack_pid_alive "$pidfile" "$marker"; then
      stack_log "process exited before 127.0.0.1:$port opened"
      return 1
    fi
    sleep 0.2
  done
  stack_log "timed out after ${timeout}s waiting for 127.0.0.1:$port"
  return 1
}

# stack_wait_url URL TIMEOUT_S [PIDFILE MARKER] : wait until GET URL answers 2xx.
stack_wait_url() {
  local url="$1" timeout="$2" pidfile="${3:-}" marker="${4:-}" deadline
  stack_need curl
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null && return 0
    if [[ -n "$pidfile" ]] && ! stack_pid_alive "$pidfile" "$marker"; then
      stack_log "process exited before $url answered"
      return 1
    fi
    sleep 0.25
  done
  stack_log "timed out after ${timeout}s waiting for $url"
  return 1
}

# stack_wait_log FILE PATTERN TIMEOUT_S [PIDFILE MARKER] : wait until FILE has a line
# matching the fixed string PATTERN.
stack_wait_log() {
  local file="$1" pattern="$2" timeout="$3" pidfile="${4:-}" marker="${5:-}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    grep -qF -- "$pattern" "$file" 2>/dev/null && return 0
    if [[ -n "$pidfile" ]] && ! stack_pid_alive "$pidfile" "$marker"; then
      stack_log "process exited before '$pattern' appeared in $file"
      return 1
    fi
    sleep 0.2
  done
  stack_log "timed out after ${timeout}s waiting for '$pattern' in $file"
  return 1
}

# stack_log_tail FILE [N] : copy the last N (default 40) lines of FILE to stderr.
stack_log_tail() {
  [[ -f "$1" ]] || return 0
  stack_log "last lines of $1:"
  tail -n "${2:-40}" "$1" >&2
}

# stack_rotate_log FILE : keep one previous log as FILE.1.
stack_rotate_log() {
  [[ -f "$1" ]] && mv -f "$1" "$1.1"
  : >"$1"
}

# stack_java_major JAVA : print the major version of that java binary (e.g. 17, 21, 25).
stack_java_major() {
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)"
  v="${v#1.}"
  printf '%s\n' "${v%%.*}"
}

# stack_find_java MIN_MAJOR [ENVVAR] : print the path of a java binary with major version >=
# MIN_MAJOR. Looks at $ENVVAR (a java binary or a JDK home), $JAVA_HOME, java on PATH, then
# /usr/lib/jvm/*. Fails naming what is missing.
stack_find_java() {
  local min="$1" var="${2:-}" c m best=""
  local cands=()
  if [[ -n "$var" && -n "${!var:-}" ]]; then
    c="${!var}"
    [[ -d "$c" ]] && c="$c/bin/java"
    [[ -x "$c" ]] || stack_die "$var=${!var} is not a java binary or JDK home"
    m="$(stack_java_major "$c")"
    ((m >= min)) || stack_die "$var points to Java $m; Java $min or newer is needed"
    printf '%s\n' "$c"
    return 0
  fi
  [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && cands+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java; do [[ -x "$c" ]] && cands+=("$c"); done
  # The first candidate that is new enough wins: $JAVA_HOME, then PATH, then /usr/lib/jvm.
  for c in "${cands[@]}"; do
    m="$(stack_java_major "$c" 2>/dev/null)"
    if [[ "$m" =~ ^[0-9]+$ ]] && ((m >= min)); then best="$c"; break; fi
  done
  [[ -n "$best" ]] || stack_die "required tool 'java' (version $min or newer) not found: looked at ${var:+\$$var, }\$JAVA_HOME, PATH and /usr/lib/jvm/*${var:+; set $var to a JDK $min+ home}"
  printf '%s\n' "$best"
}

# stack_now_ms : wall clock in milliseconds. stack_since T0_MS : "1.234s" since T0_MS.
stack_now_ms() { local t="${EPOCHREALTIME:-$(date +%s.%N)}"; t="${t/,/.}"; printf '%s\n' "$(( ${t%%.*} * 1000 + 10#$(printf '%.3s' "${t#*.}000") ))"; }
stack_since() { local d=$(( $(stack_now_ms) - $1 )); printf '%d.%03ds' $((d / 1000)) $((d % 1000)); }

# stack_env_get FILE KEY : print the value of KEY=value in FILE (empty if absent).
stack_env_get() {
  [[ -f "$1" ]] || return 0
  sed -n "s/^$2=//p" "$1" | tail -n1
}

# stack_rss_kib PIDFILE : print resident set size of the process in KiB (or "?").
stack_rss_kib() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || { echo "?"; return; }
  awk '/^VmRSS:/{print $2}' "/proc/$pid/status" 2>/dev/null || echo "?"
}
