# shellcheck shell=bash
# Apache Flink standalone session cluster (JobManager + one TaskManager) plus the Flink SQL Gateway,
# all on 127.0.0.1, for scripts/dev-stack.sh. Source this file; it defines
#   flink_install  download (pinned sha256) and assemble a Flink distribution in the cache
#   flink_up       start JM + TM + SQL Gateway for one state dir; stdout: FLINK_SQL_GATEWAY_URL=…, FLINK_REST_URL=…
#   flink_down     stop what this state dir started
#   flink_status   stdout: the same two URL lines and exit 0 when all three run and answer; else exit 1
#                  (per-process state and RSS go to stderr)
#
# Cache:  ${SQLGATE_CACHE:-$HOME/.cache/sqlgate}/stack/flink/   (downloads/, m2/, flink-<version>/)
# State:  ${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}/flink/   (conf/, log/, pid/, tmp/, ports.env)
# Two state dirs run two independent Flinks from one install.
#
# Environment knobs (all optional):
#   FLINK_REST_PORT, FLINK_SQL_GATEWAY_PORT, FLINK_RPC_PORT   fixed ports (default: free ones)
#   FLINK_TASK_SLOTS (4), FLINK_JM_PROCESS_SIZE (1024m), FLINK_TM_PROCESS_SIZE (1536m),
#   FLINK_SQL_GATEWAY_HEAP (384m), FLINK_START_TIMEOUT (180 s per component),
#   FLINK_JAVA_HOME   JDK for Flink (default: $JAVA_HOME, java on PATH, then /usr/lib/jvm/*, the first
#                     that is Java 11, 17 or 21 — the versions Flink 2.2 supports)
#   FLINK_EXTRA_CONF  extra flat "key: value" lines appended to the generated config.yaml
#                     (e.g. "sql-gateway.session.idle-timeout: 30 s")
# Everything this file logs goes to stderr; flink_up's stdout is only the two URL lines.

FLINK_VERSION=2.2.1
FLINK_KAFKA_CONNECTOR_VERSION=5.0.0-2.2
# flink-sql-avro-confluent-registry 2.2.1 is not on Maven Central (404); 2.2.0 is the same minor line.
FLINK_AVRO_CONFLUENT_VERSION=2.2.0
FLINK_MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.11.0

# The apache-flink wheel is per Python ABI, but we only take its bin/ and conf/ (shell scripts and
# config): pin one exact wheel so the checksum does not depend on the local Python.
FLINK_WHEEL_FILE=apache_flink-2.2.1-cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl
FLINK_WHEEL_SHA256=a7e0e06e6e2a788b1e0c4f6225efe6a9bdcb6463db77080b99620c36c076cbab
FLINK_LIBS_WHEEL_FILE=apache_flink_libraries-2.2.1-py2.py3-none-any.whl
FLINK_LIBS_WHEEL_SHA256=74dc5546fbd9add8fbcdf1222a237e09491f9b80296241aef8676ec56f8e686e
FLINK_GATEWAY_JAR=flink-sql-gateway-${FLINK_VERSION}.jar
FLINK_GATEWAY_JAR_SHA256=fde5f0f6e868c84de01312a4922404f9571c68a6d879e91fc602bbafa5d735aa
FLINK_KAFKA_JAR=flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar
FLINK_KAFKA_JAR_SHA256=5605c691d11a501382c383fecba37a7a552467da5ab7ba904ef5d6f3d62c5616
FLINK_AVRO_JAR=flink-sql-avro-confluent-registry-${FLINK_AVRO_CONFLUENT_VERSION}.jar
FLINK_AVRO_JAR_SHA256=dc331e14107ded6e07f5f77321aa06d8019aa9f33654d0658e49648409b5b80d

flink_log() { printf '[flink] %s\n' "$*" >&2; }
flink_die() { printf '[flink] ERROR: %s\n' "$*" >&2; }  # prints only; callers return 1

flink_cache_dir() { printf '%s/stack/flink' "${SQLGATE_CACHE:-$HOME/.cache/sqlgate}"; }
flink_home() { printf '%s/flink-%s' "$(flink_cache_dir)" "$FLINK_VERSION"; }
flink_state_dir() { printf '%s/flink' "${SQLGATE_STACK_DIR:-$HOME/.cache/sqlgate/stack/run}"; }

flink_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || { flink_die "'$t' is required but not on PATH"; return 1; }
  done
}

flink_java_major() { # java-binary -> major version (8, 11, 17, 21, 25, ...)
  local v
  v=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)
  v=${v#1.}
  printf '%s\n' "${v%%.*}"
}

flink_java_home() { # print a JDK home Flink 2.2 supports (11/17/21), or fail naming what is missing
  local c m cands=()
  if [ -n "${FLINK_JAVA_HOME:-}" ]; then
    [ -x "$FLINK_JAVA_HOME/bin/java" ] || { flink_die "FLINK_JAVA_HOME=$FLINK_JAVA_HOME has no bin/java"; return 1; }
    printf '%s\n' "$FLINK_JAVA_HOME"
    return 0
  fi
  [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && cands+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && cands+=("$(readlink -f "$(command -v java)")")
  for c in /usr/lib/jvm/*/bin/java; do [ -x "$c" ] && cands+=("$c"); done
  for c in "${cands[@]}"; do
    m=$(flink_java_major "$c" 2>/dev/null)
    case $m in
      11 | 17 | 21) dirname "$(dirname "$c")"; return 0 ;;
    esac
  done
  flink_die "'java' 11, 17 or 21 is required for Flink $FLINK_VERSION (looked at \$FLINK_JAVA_HOME, \$JAVA_HOME, PATH, /usr/lib/jvm)"
  return 1
}

flink_sha256_ok() { # file expected-sha
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

flink_check_sha() { # file expected-sha
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    flink_die "checksum mismatch for $1: got $got, pinned $2"
    return 1
  fi
}

flink_fetch_wheel() { # spec file sha
  local spec=$1 file=$2 sha=$3 dl
  dl="$(flink_cache_dir)/downloads"
  flink_sha256_ok "$dl/$file" "$sha" && return 0
  rm -f "$dl/$file"
  flink_log "pip download $spec"
  timeout 900 python3 -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: \
      --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
      -d "$dl" "$spec" >&2 || { flink_die "pip download $spec failed"; return 1; }
  [ -f "$dl/$file" ] || { flink_die "pip download $spec did not produce $file"; return 1; }
  flink_check_sha "$dl/$file" "$sha"
}

flink_fetch_jar() { # group:artifact:version file sha
  local gav=$1 file=$2 sha=$3 dl
  dl="$(flink_cache_dir)/downloads"
  flink_sha256_ok "$dl/$file" "$sha" && return 0
  rm -f "$dl/$file"
  flink_log "mvn copy $gav"
  if ! timeout 900 mvn -B -Dstyle.color=never -Dmaven.repo.local="$(flink_cache_dir)/m2" \
      "$FLINK_MAVEN_DEPENDENCY_PLUGIN:copy" -Dartifact="$gav" -DoutputDirectory="$dl" \
      >"$dl/mvn.log" 2>&1; then
    grep -E 'ERROR|BUILD' "$dl/mvn.log" | head -n 5 >&2
    flink_die "mvn could not fetch $gav (full output in $dl/mvn.log)"
    return 1
  fi
  [ -f "$dl/$file" ] || { flink_die "mvn copy $gav did not produce $file"; return 1; }
  flink_check_sha "$dl/$file" "$sha"
}

flink_manifest() {
  printf '%s\n' "$FLINK_WHEEL_SHA256 $FLINK_LIBS_WHEEL_SHA256 $FLINK_GATEWAY_JAR_SHA256 $FLINK_KAFKA_JAR_SHA256 $FLINK_AVRO_JAR_SHA256"
}

flink_installed() { # the assembled distribution exists and was built from exactly the pinned files
  local marker
  marker="$(flink_home)/.sqlgate-installed"
  [ -f "$marker" ] && [ "$(cat "$marker")" = "$(flink_manifest)" ]
}

flink_install() {
  if flink_installed; then
    flink_log "Flink $FLINK_VERSION already installed in $(flink_home)"
    return 0
  fi
  flink_need java python3 mvn sha256sum timeout flock || return 1
  local lockdir
  lockdir="$(dirname "$(flink_cache_dir)")"
  mkdir -p "$lockdir" || return 1
  # one installer at a time per cache (parallel `up`s of two state dirs)
  (
    flock -w 1800 7 || { flink_die "timed out waiting for $lockdir/.flink-install.lock"; exit 1; }
    flink_install_locked
  ) 7>"$lockdir/.flink-install.lock"
}

flink_install_locked() {
  local cache home dl stage
  cache=$(flink_cache_dir)
  home=$(flink_home)
  dl="$cache/downloads"
  if flink_installed; then # another process finished it while we waited for the lock
    flink_log "Flink $FLINK_VERSION already installed in $home"
    return 0
  fi
  mkdir -p "$dl" || return 1
  flink_fetch_wheel "apache-flink==$FLINK_VERSION" "$FLINK_WHEEL_FILE" "$FLINK_WHEEL_SHA256" || return 1
  flink_fetch_wheel "apache-flink-libraries==$FLINK_VERSION" "$FLINK_LIBS_WHEEL_FILE" "$FLINK_LIBS_WHEEL_SHA256" || return 1
  flink_fetch_jar "org.apache.flink:flink-sql-gateway:$FLINK_VERSION" "$FLINK_GATEWAY_JAR" "$FLINK_GATEWAY_JAR_SHA256" || return 1
  flink_fetch_jar "org.apache.flink:flink-sql-connector-kafka:$FLINK_KAFKA_CONNECTOR_VERSION" "$FLINK_KAFKA_JAR" "$FLINK_KAFKA_JAR_SHA256" || return 1
  flink_fetch_jar "org.apache.flink:flink-sql-avro-confluent-registry:$FLINK_AVRO_CONFLUENT_VERSION" "$FLINK_AVRO_JAR" "$FLINK_AVRO_JAR_SHA256" || return 1

  flink_log "assembling $home"
  stage="$home.stage.$$"
  rm -rf "$stage"
  mkdir -p "$stage" || return 1
  # Both wheels carry pyflink/{bin,conf,lib,opt,plugins,...}: lib/opt/plugins from apache-flink-libraries,
  # bin/conf from apache-flink. Only the distribution directories are extracted (no Python code).
  python3 - "$stage" "$dl/$FLINK_WHEEL_FILE" "$dl/$FLINK_LIBS_WHEEL_FILE" <<'PY' || { rm -rf "$stage"; flink_die "unpacking the wheels failed"; return 1; }
import os, stat, sys, zipfile
dest = sys.argv[1]
keep = {"bin", "conf", "lib", "opt", "plugins", "licenses", "README.txt"}
for wheel in sys.argv[2:]:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) < 2 or parts[0] != "pyflink" or parts[1] not in keep or info.is_dir():
                continue
            rel = "/".join(parts[1:])
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                dst.write(src.read())
            mode = (info.external_attr >> 16) & 0o777
            if parts[1] == "bin" or mode & 0o111:
                os.chmod(out, 0o755)
PY
  # The python jar is not needed (sql-gateway's classpath tolerates its absence).
  if ! cp "$dl/$FLINK_GATEWAY_JAR" "$stage/opt/" || ! cp "$dl/$FLINK_KAFKA_JAR" "$dl/$FLINK_AVRO_JAR" "$stage/lib/"; then
    rm -rf "$stage"
    return 1
  fi
  for f in bin/jobmanager.sh bin/taskmanager.sh bin/sql-gateway.sh bin/config.sh "lib/flink-dist-$FLINK_VERSION.jar" "opt/$FLINK_GATEWAY_JAR"; do
    [ -e "$stage/$f" ] || { rm -rf "$stage"; flink_die "assembled distribution lacks $f"; return 1; }
  done
  rm -rf "$home" && mv "$stage" "$home" || return 1
  flink_manifest >"$home/.sqlgate-installed"
  flink_log "Flink $FLINK_VERSION installed in $home"
}

flink_free_port() { # a port in 20000-32767 (below Linux's ephemeral range) that binds on 127.0.0.1 now
  python3 - <<'PY'
import random, socket, sys
for _ in range(500):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("no free port")
PY
}

flink_pid_alive() { # pidfile -> 0 if the recorded process runs and belongs to this state dir
  local pf=$1 pid
  [ -f "$pf" ] || return 1
  pid=$(cat "$pf" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # guard against pid reuse: the process (the launcher scripts, then the JVM they exec) carries
  # FLINK_CONF_DIR=<this state dir>/conf in its environment
  flink_pid_is_ours "$pid"
}

flink_pid_is_ours() { # pid -> 0 if its environment has FLINK_CONF_DIR=<this state dir>/conf
  local env
  env=$({ tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null) || return 1
  [[ $'\n'"$env"$'\n' == *$'\n'"FLINK_CONF_DIR=$(flink_state_dir)/conf"$'\n'* ]]
}

flink_http_ok() { curl -fsS --max-time 3 -o /dev/null "$1" 2>/dev/null; }

flink_write_conf() { # state rest_port gw_port rpc_port
  local st=$1 rest=$2 gw=$3 rpc=$4 home opts
  home=$(flink_home)
  rm -rf "$st/tmp" # only called after flink_down: left-overs of killed JVMs (extracted planner jar, blobs)
  mkdir -p "$st/conf" "$st/log" "$st/pid" "$st/tmp" || return 1
  cp "$home"/conf/log4j*.properties "$home"/conf/logback*.xml "$st/conf/" || return 1
  # keep the distribution's --add-opens list (needed on Java 17)
  opts=$(grep -E '^ +all: ' "$home/conf/config.yaml" | head -n1 | sed 's/^ *all: *//')
  cat >"$st/conf/config.yaml" <<EOF
# generated by scripts/stack/flink.sh for state dir $st
env.java.opts.all: $opts -Djava.io.tmpdir=$st/tmp
env.java.opts.sql-gateway: -Xmx${FLINK_SQL_GATEWAY_HEAP:-384m} -Xms64m -XX:+UseSerialGC
env.pid.dir: $st/pid
env.log.dir: $st/log
env.stdout-err.redirect-to-file: true
env.log.max: 3
io.tmp.dirs: $st/tmp
web.tmpdir: $st/tmp/web
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $rpc
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: ${FLINK_JM_PROCESS_SIZE:-1024m}
jobmanager.execution.failover-strategy: region
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: ${FLINK_TASK_SLOTS:-4}
taskmanager.memory.process.size: ${FLINK_TM_PROCESS_SIZE:-1536m}
parallelism.default: 1
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $rest
blob.server.port: 0
sql-gateway.endpoint.type: rest
sql-gateway.endpoint.rest.address: 127.0.0.1
sql-gateway.endpoint.rest.bind-address: 127.0.0.1
sql-gateway.endpoint.rest.port: $gw
EOF
  if [ -n "${FLINK_EXTRA_CONF:-}" ]; then
    printf '%s\n' "$FLINK_EXTRA_CONF" >>"$st/conf/config.yaml"
  fi
}

flink_spawn() { # name script java-home (runs "$home/bin/<script> start-foreground" detached; records its pid)
  local name=$1 script=$2 jhome=$3 st home
  st=$(flink_state_dir)
  home=$(flink_home)
  # jobmanager.sh/taskmanager.sh/sql-gateway.sh start-foreground exec into flink-console.sh, which execs
  # java. The child writes its own pid (setsid may fork). Lock fds 7-9 (ours, dev-stack.sh's) are
  # closed so the daemons never hold a lock.
  # shellcheck disable=SC2016 # $$/$1/$2 expand in the child
  env -u FLINK_LIB_DIR -u FLINK_OPT_DIR -u FLINK_PLUGINS_DIR -u FLINK_ENV_JAVA_OPTS -u JVM_ARGS \
      JAVA_HOME="$jhome" FLINK_CONF_DIR="$st/conf" FLINK_LOG_DIR="$st/log" FLINK_PID_DIR="$st/pid" FLINK_IDENT_STRING=sqlgate \
      setsid bash -c 'echo $$ >"$1"; exec "$2" start-foreground' flink-spawn "$st/pid/$name.pid" "$home/bin/$script" \
      </dev/null >>"$st/log/$name.console" 2>&1 7>&- 8>&- 9>&- &
  local _
  for _ in $(seq 1 50); do # setsid may fork: wait (≤5 s) for the child to write its own pid
    [ -s "$st/pid/$name.pid" ] && return 0
    sleep 0.1
  done
  flink_die "$name did not start (no pid file)"
  return 1
}

flink_log_tail() { # component-name : last lines of its log files to stderr
  local svc f
  case $1 in
    jobmanager) svc=standalonesession ;;
    taskmanager) svc=taskexecutor ;;
    *) svc=$1 ;;
  esac
  for f in "$(flink_state_dir)/log/$1.console" "$(flink_state_dir)"/log/flink-sqlgate-"$svc"-*.out \
      "$(flink_state_dir)"/log/flink-sqlgate-"$svc"-*.log; do
    [ -s "$f" ] || continue
    printf '[flink] --- last lines of %s\n' "$f" >&2
    tail -n 25 "$f" >&2
  done
  return 0
}

flink_wait() { # what timeout-seconds pidfile command...
  local what=$1 limit=$2 pf=$3 t0
  shift 3
  t0=$(date +%s)
  while :; do
    if "$@"; then return 0; fi
    if ! flink_pid_alive "$pf"; then
      flink_die "$what: process exited during start-up (logs in $(flink_state_dir)/log/)"
      flink_log_tail "$(basename "$pf" .pid)"
      return 1
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$limit" ]; then
      flink_die "$what not ready after ${limit}s (logs in $(flink_state_dir)/log/)"
      flink_log_tail "$(basename "$pf" .pid)"
      return 1
    fi
    sleep 0.5
  done
}

flink_tm_registered() { # rest_port -> 0 when a TaskManager with slots is registered
  curl -fsS --max-time 3 "http://127.0.0.1:$1/overview" 2>/dev/null | grep -qE '"taskmanagers":[1-9]'
}

flink_print_urls() {
  # shellcheck disable=SC1091
  . "$(flink_state_dir)/ports.env"
  printf 'FLINK_SQL_GATEWAY_URL=http://127.0.0.1:%s\n' "$FLINK_SQL_GATEWAY_PORT_USED"
  printf 'FLINK_REST_URL=http://127.0.0.1:%s\n' "$FLINK_REST_PORT_USED"
}

flink_all_up() {
  local st=$1
  [ -f "$st/ports.env" ] || return 1
  flink_pid_alive "$st/pid/jobmanager.pid" && flink_pid_alive "$st/pid/taskmanager.pid" &&
    flink_pid_alive "$st/pid/sql-gateway.pid" || return 1
  (
    # shellcheck disable=SC1091
    . "$st/ports.env"
    flink_http_ok "http://127.0.0.1:$FLINK_REST_PORT_USED/overview" &&
      flink_http_ok "http://127.0.0.1:$FLINK_SQL_GATEWAY_PORT_USED/v2/info"
  )
}

flink_up() { # one retry with fresh ports when a start fails fast (a port taken between
  # the check and the bind, a JVM that died on a loaded machine; not a start that timed out,
  # which would only double the wait); the first attempt's logs are kept in log.failed/
  local st t0
  t0=$(date +%s)
  if flink_up_once; then return 0; fi
  [ -n "${FLINK_REST_PORT:-}${FLINK_SQL_GATEWAY_PORT:-}${FLINK_RPC_PORT:-}" ] && return 1
  [ $(( $(date +%s) - t0 )) -lt 90 ] || return 1
  st=$(flink_state_dir)
  [ -d "$st/log" ] || return 1
  rm -rf "$st/log.failed" && mv "$st/log" "$st/log.failed" && mkdir -p "$st/log"
  flink_log "start failed; trying once more with fresh ports (first attempt's logs: $st/log.failed/)"
  flink_up_once
}

flink_up_once() {
  flink_need java python3 curl setsid timeout || return 1
  local st home rest gw rpc limit t0 p jhome
  st=$(flink_state_dir)
  home=$(flink_home)
  limit=${FLINK_START_TIMEOUT:-180}
  if flink_all_up "$st"; then
    flink_log "already running (state dir $st)"
    flink_print_urls
    return 0
  fi
  flink_install || return 1
  jhome=$(flink_java_home) || return 1
  # something half-started: stop it first
  flink_down >/dev/null 2>&1
  rest=${FLINK_REST_PORT:-$(flink_free_port)}
  gw=${FLINK_SQL_GATEWAY_PORT:-$(flink_free_port)}
  rpc=${FLINK_RPC_PORT:-$(flink_free_port)}
  while [ "$gw" = "$rest" ]; do gw=$(flink_free_port); done
  while [ "$rpc" = "$rest" ] || [ "$rpc" = "$gw" ]; do rpc=$(flink_free_port); done
  for p in "$rest" "$gw" "$rpc"; do
    if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      flink_die "port $p is already in use"
      return 1
    fi
  done
  flink_write_conf "$st" "$rest" "$gw" "$rpc" || return 1
  printf 'FLINK_REST_PORT_USED=%s\nFLINK_SQL_GATEWAY_PORT_USED=%s\nFLINK_RPC_PORT_USED=%s\n' "$rest" "$gw" "$rpc" >"$st/ports.env"
  t0=$(date +%s)
  flink_log "starting JobManager (rest $rest, rpc $rpc, java $jhome), state dir $st"
  rm -f "$st"/pid/*.pid
  flink_spawn jobmanager jobmanager.sh "$jhome" || return 1
  flink_log "starting TaskManager (${FLINK_TASK_SLOTS:-4} slots)"
  flink_spawn taskmanager taskmanager.sh "$jhome" || { flink_down >/dev/null 2>&1; return 1; }
  flink_log "starting SQL Gateway (rest $gw)"
  flink_spawn sql-gateway sql-gateway.sh "$jhome" || { flink_down >/dev/null 2>&1; return 1; }
  if ! flink_wait "JobManager REST" "$limit" "$st/pid/jobmanager.pid" flink_http_ok "http://127.0.0.1:$rest/overview" ||
    ! flink_wait "TaskManager registration" "$limit" "$st/pid/taskmanager.pid" flink_tm_registered "$rest" ||
    ! flink_wait "SQL Gateway REST" "$limit" "$st/pid/sql-gateway.pid" flink_http_ok "http://127.0.0.1:$gw/v2/info"; then
    flink_down >/dev/null 2>&1
    return 1
  fi
  flink_log "up in $(( $(date +%s) - t0 ))s"
  flink_print_urls
}

flink_stop_pid() { # state-dir name
  local st=$1 name=$2 pf pid _
  pf="$st/pid/$name.pid"
  if flink_pid_alive "$pf"; then
    pid=$(cat "$pf")
    flink_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      flink_log "$name did not stop in 30s; killing"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$pf"
}

flink_stray_pids() { # processes (other than this shell) whose environment names this state dir's conf
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    [ "$pid" = "${BASHPID:-$$}" ] && continue
    if flink_pid_is_ours "$pid"; then printf '%s\n' "$pid"; fi
  done
  return 0
}

flink_down() {
  local st pids pid _
  st=$(flink_state_dir)
  [ -d "$st" ] || { flink_log "nothing to stop in $st"; return 0; }
  # gateway first (its sessions cancel their SELECT jobs), then TM, then JM
  flink_stop_pid "$st" sql-gateway
  flink_stop_pid "$st" taskmanager
  flink_stop_pid "$st" jobmanager
  # anything else this state dir launched whose pid file was lost (e.g. an interrupted start)
  pids=$(flink_stray_pids)
  if [ -n "$pids" ]; then
    flink_log "stopping stray processes of $st: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 60); do
      pids=$(for pid in $pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done)
      [ -z "$pids" ] && break
      sleep 0.5
    done
    # shellcheck disable=SC2086
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  fi
  # flink-console.sh's own bookkeeping
  rm -f "$st"/pid/flink-*.pid
  return 0
}

flink_status() {
  local st name rc=0
  st=$(flink_state_dir)
  for name in jobmanager taskmanager sql-gateway; do
    if flink_pid_alive "$st/pid/$name.pid"; then
      flink_log "$(printf '%-12s running (pid %s, RSS %s KiB)' "$name" "$(cat "$st/pid/$name.pid")" \
        "$(awk '/^VmRSS:/{print $2}' "/proc/$(cat "$st/pid/$name.pid")/status" 2>/dev/null)")"
    else
      flink_log "$(printf '%-12s stopped' "$name")"
      rc=1
    fi
  done
  if [ "$rc" = 0 ] && flink_all_up "$st"; then
    flink_print_urls
  else
    rc=1
  fi
  return "$rc"
}
