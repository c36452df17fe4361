#!/usr/bin/env bash
# The load bench (issue 16): in one run, one after the other on this machine,
#   nginx serving a static JSON body over TLS with the gateway's certificate,
#   sqlgate GET /healthz,
#   sqlgate dry-run decisions (statement create with `sql.dry-run`): `dry` a SELECT (the decision,
#     then the embedded engine plans it to report its schema), `decide` an INSERT (the decision
#     alone: a dry run of a statement that changes something never reaches the engine; after the
#     first request each is answered from the decision memo), `fresh` the same INSERT with a
#     literal that differs in every request (every decision made afresh: a statement's first
#     sight),
#   sqlgate `SELECT 1` statements on the embedded engine,
# each sqlgate case with the audit log on and off, at 64 and 256 connections (LOAD_CONNS).
# Prints requests/s, p50, p99, the ratio to nginx at the same connection count, the CPU the
# server and the load generator used, for audit-on runs audit records per fdatasync, and for the
# statement cases the decision memo's hits and misses.
#
# Usage: scripts/load-bench.sh [SQLGATE_BIN [BASELINE_BIN]]
#   SQLGATE_BIN   default: $CARGO_TARGET_DIR/release/sqlgate, else target/release/sqlgate
#   BASELINE_BIN  optional second binary measured in the same run (before/after ratios)
# Environment: LOAD_SECONDS (10), LOAD_CONNS ("64 256"), LOAD_PIN (1: server on CPU 0, wrk on
#   CPU 1 with one thread; 0: no pinning, wrk with LOAD_WRK_THREADS threads), LOAD_CASES
#   ("nginx healthz decide fresh dry select1"), LOAD_AUDIT ("on off"), LOAD_KEEP (1: keep the work dir),
#   LOAD_PERF (a case name, e.g. dry: `perf record -g` the gateway during that case at 64
#   connections with the audit on; report in the work dir), LOAD_CACHE (~/.cache/sqlgate/load),
#   LOAD_SOAK (seconds, e.g. 300: after the cases, a soak of SQLGATE_BIN with the audit on at the
#   last connection count, LOAD_SOAK_CASE (dry; or decide, fresh, select1) requests, its RSS read
#   from /proc every 10 s),
#   LOAD_BASE_CONFIG (the src/config/default.toml of the baseline's tree, for a baseline that
#   predates a section of this tree's: each binary's config is its tree's defaults with the
#   bench's overrides).
# nginx and wrk come from the Debian packages `nginx` (what `nginx-light` depends on in
# bookworm) and `wrk` (+ libluajit-5.1-2), fetched with `apt-get download` into LOAD_CACHE and
# unpacked with `dpkg-deb -x`: nothing is installed system-wide. Whatever cannot be had is
# skipped with a message saying why. Ports are picked by binding port 0 (loopback only).
# `LOAD_SMOKE=1` checks the setup only (tools, certificates, one request of each kind).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${LOAD_SECONDS:-10}
conns=${LOAD_CONNS:-64 256}
pin=${LOAD_PIN:-1}
cases=${LOAD_CASES:-nginx healthz decide fresh dry select1}
audits=${LOAD_AUDIT:-on off}
cache=${LOAD_CACHE:-$HOME/.cache/sqlgate/load}
target=${CARGO_TARGET_DIR:-$here/target}
bin=${1:-$target/release/sqlgate}
baseline=${2:-}
base_config=${LOAD_BASE_CONFIG:-$here/src/config/default.toml}
smoke=${LOAD_SMOKE:-0}
if [ "$smoke" = 1 ]; then seconds=1; conns=4; fi

say() { printf '%s\n' "$*" >&2; }
die() { say "load-bench: $*"; exit 1; }
[ -x "$bin" ] || die "no sqlgate binary at $bin (build one: cargo build --release, or pass its path)"
[ -z "$baseline" ] || [ -x "$baseline" ] || die "no baseline binary at $baseline"
[ -f "$base_config" ] || die "no baseline config template at $base_config"
command -v python3 >/dev/null || die "python3 is needed (port picking, JSON)"
command -v curl >/dev/null || die "curl is needed"

work=$(mktemp -d /tmp/sqlgate-load.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${LOAD_KEEP:-0}" = 1 ] || [ -n "${LOAD_PERF:-}" ]; then say "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- tools: nginx and wrk from Debian packages, unpacked into the cache
root=$cache/root
export LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fetch() { # package...
    mkdir -p "$cache" && (cd "$cache" && apt-get download "$@" >/dev/null 2>&1) || return 1
    for p in "$@"; do dpkg-deb -x "$(ls "$cache"/"${p}"_*.deb | head -1)" "$root" || return 1; done
}
wrk=$(command -v wrk || true)
if [ -z "$wrk" ]; then
    [ -x "$root/usr/bin/wrk" ] || fetch wrk libluajit-5.1-2 || true
    [ -x "$root/usr/bin/wrk" ] && wrk=$root/usr/bin/wrk
fi
[ -n "$wrk" ] && { "$wrk" -v 2>&1 || true; } | grep -q wrk || die "wrk is not available (apt-get download wrk libluajit-5.1-2 failed); nothing can be measured"
nginx=$(command -v nginx || true)
if [ -z "$nginx" ]; then
    [ -x "$root/usr/sbin/nginx" ] || fetch nginx || true
    [ -x "$root/usr/sbin/nginx" ] && nginx=$root/usr/sbin/nginx
fi
if [ -z "$nginx" ] || ! "$nginx" -v >/dev/null 2>&1; then
    say "load-bench: nginx is not available (apt-get download nginx failed): the nginx case and the ratios are skipped"
    nginx=
fi

ncpu=$(nproc)
if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
    server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); wrk_threads=1
    pinning="server on CPU 0, wrk (1 thread) on CPU 1"
else
    server_cpu=(); client_cpu=(); wrk_threads=${LOAD_WRK_THREADS:-2}
    pinning="no pinning, wrk with $wrk_threads threads"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

cat >"$work/post.lua" <<'LUA'
-- POST a statement create with a unique name per request; body and token from the environment.
local token = os.getenv("LOAD_TOKEN")
local sql = os.getenv("LOAD_SQL")
local dry = os.getenv("LOAD_DRY") == "1"
-- LOAD_VARY=1: a literal unique to the request is appended, so no two texts are alike
local vary = os.getenv("LOAD_VARY") == "1"
-- unique to the run, so that no text repeats one of an earlier run against the same gateway
local salt = os.getenv("LOAD_SALT") or ""
local prefix = os.getenv("LOAD_PREFIX")
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local props = '"sql.current-catalog":"env-dev","sql.current-database":"lkc-dev"'
if dry then props = props .. ',"sql.dry-run":"true"' end
local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Confluent-Identity-Pool-Id"] = "pool-dev",
  ["Content-Type"] = "application/json",
}
function request()
  n = n + 1
  local text = sql
  if vary then text = string.format("%s + %s%d", sql, salt, (tid or 0) * 1000000000 + n) end
  local body = string.format('{"name":"%s-%d-%d","spec":{"statement":"%s","properties":{%s}}}',
    prefix, tid or 0, n, text, props)
  return wrk.format("POST", nil, headers, body)
end
LUA

results=$work/results.tsv
: >"$results"
# run_wrk LABEL CONNS URL PID [LUA]: one measurement; appends a row to $results
run_wrk() {
    local label=$1 c=$2 url=$3 pid=$4 lua=${5:-}
    local out=$work/wrk-${label//\//_}-$c.txt s0 s1 t0 t1 w0
    local args=(-t"$wrk_threads" -c"$c" -d"${seconds}s" --latency --timeout 10s)
    [ -n "$lua" ] && args+=(-s "$lua")
    s0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    "${client_cpu[@]}" "$wrk" "${args[@]}" "$url" >"$out" 2>&1 &
    w0=$!
    local perf_pid=
    if [ -n "${LOAD_PERF:-}" ] && [ "$label" = "${LOAD_PERF_LABEL:-}" ] && [ "$c" = "$(echo $conns | cut -d' ' -f1)" ]; then
        sleep 1
        perf record -F 299 --call-graph dwarf,32768 -o "$work/perf-${label//\//_}.data" -p "$pid" -- sleep $((seconds > 4 ? seconds - 3 : 1)) >/dev/null 2>&1 &
        perf_pid=$!
    fi
    local wt0 wt1
    wt0=$(cpu_ticks "$w0")
    while kill -0 "$w0" 2>/dev/null; do wt1=$(cpu_ticks "$w0"); [ "$wt1" = 0 ] || wt0=$wt1; sleep 0.2; done
    wait "$w0" || true
    [ -z "$perf_pid" ] || wait "$perf_pid" || true
    s1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    python3 - "$out" "$label" "$c" "$s0" "$s1" "$t0" "$t1" "$hz" "$wt0" >>"$results" <<'PY'
import re, sys
out, label, c, s0, s1, t0, t1, hz, wt = sys.argv[1:]
text = open(out).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)", v)
    n, u = float(m.group(1)), m.group(2)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
total = re.search(r"(\d+) requests in", text)
wall = float(t1) - float(t0)
srv = (int(s1) - int(s0)) / int(hz) / wall * 100
cli = int(wt) / int(hz) / wall * 100
errs = int(bad.group(1)) if bad else 0
if sock: errs += sum(int(x) for x in sock.groups())
if not rps:
    print(f"{label}\t{c}\tnan\tnan\tnan\t{srv:.0f}\t{cli:.0f}\t-1\t0")
else:
    print(f"{label}\t{c}\t{float(rps.group(1)):.0f}\t{ms(p50.group(1)):.2f}\t{ms(p99.group(1)):.2f}\t{srv:.0f}\t{cli:.0f}\t{errs}\t{total.group(1)}")
PY
    tail -1 "$results" | awk -F'\t' '{printf "  %-28s c=%-4s %8s req/s  p50 %7s ms  p99 %7s ms  server %4s%% CPU  wrk %4s%% CPU  errors %s\n", $1, $2, $3, $4, $5, $6, $7, $8}' >&2
}

# --- certificates: the gateway's (generated by its first start in the work dir)
gwdir() { echo "$work/gw-$1"; }
# Every statement case's create is admitted: a pool's queue (max_pending) holds every connection,
# so a statement waits for a task slot rather than getting 429 compute_pool.queue_full.
prepare_gw() { # NAME AUDIT(on|off) [CONFIG_TEMPLATE]
    local d template=${3:-$here/src/config/default.toml}; d=$(gwdir "$1")
    mkdir -p "$d/policies"
    find "$here/policies" -maxdepth 1 -type f ! -name api-keys.toml -exec cp {} "$d/policies/" \;
    sed -e "/^\[audit\]/,/^\[/ s/^enabled = true/enabled = $([ "$2" = on ] && echo true || echo false)/" \
        -e 's/^max_statements_per_principal = .*/max_statements_per_principal = 100000000/' \
        -e 's/^statement_retention = .*/statement_retention = "0s"/' \
        -e 's/^max_pending = [0-9]*/max_pending = 100000/' \
        "$template" >"$d/sqlgate.toml"
    grep -q '^max_pending = 100000' "$d/sqlgate.toml" || die "$template has no max_pending line to raise"
    # the same certificate for every run, nginx included
    if [ -d "$work/certs" ]; then cp -r "$work/certs" "$d/"; fi
}
start_gw() { # BIN NAME -> sets gw_pid gw_port
    local b=$1 d; d=$(gwdir "$2")
    gw_port=$(free_port)
    (cd "$d" && exec "${server_cpu[@]}" "$b" serve --config sqlgate.toml --listen "127.0.0.1:$gw_port" >"$d/log" 2>&1) &
    gw_pid=$!
    pids+=("$gw_pid")
    for _ in $(seq 1 600); do
        curl -sf --cacert "$d/certs/dev-ca.pem" "https://127.0.0.1:$gw_port/healthz" >/dev/null 2>&1 && break
        kill -0 "$gw_pid" 2>/dev/null || { tail -20 "$d/log" >&2; die "sqlgate ($b) exited at startup"; }
        sleep 0.1
    done
    [ -d "$work/certs" ] || cp -r "$d/certs" "$work/certs"
    token=$(cd "$d" && "$b" token --config sqlgate.toml --subject load --groups developers --ttl 2h)
}
stop_gw() { kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; }
audit_seq() { curl -s --cacert "$work/certs/dev-ca.pem" "https://127.0.0.1:$gw_port/metrics" | awk '/^sqlgate_audit_last_seq/ {print $2}' | head -1; }
# the decision memo's "hits misses" (0 0 from a binary without the memo's metrics)
memo_lookups() {
    curl -s --cacert "$work/certs/dev-ca.pem" "https://127.0.0.1:$gw_port/metrics" |
        awk '/^sqlgate_decision_memo_lookups_total\{result="hit"\}/ {h=$2} /^sqlgate_decision_memo_lookups_total\{result="miss"\}/ {m=$2} END {print h+0, m+0}'
}

# one create of each kind, checked, so a broken setup is not measured as "fast errors"
check_create() { # DIR LABEL SQL DRY
    local body
    body=$(printf '{"name":"check-%s","spec":{"statement":"%s","properties":{"sql.current-catalog":"env-dev","sql.current-database":"lkc-dev"%s}}}' \
        "$2" "$3" "$([ "$4" = 1 ] && echo ',"sql.dry-run":"true"')")
    local code
    code=$(curl -s -o "$work/check-$2.json" -w '%{http_code}' --cacert "$work/certs/dev-ca.pem" \
        -H "Authorization: Bearer $token" -H "Confluent-Identity-Pool-Id: pool-dev" -H "Content-Type: application/json" \
        "https://127.0.0.1:$gw_port/sql/v1/organizations/org-dev/environments/env-dev/statements" -d "$body")
    [ "$code" = 200 ] && grep -q '"COMPLETED"\|"RUNNING"' "$work/check-$2.json" ||
        die "the $2 create answered $code: $(head -c 400 "$work/check-$2.json")"
}

decide_sql="INSERT INTO load_sink SELECT CAST(order_id AS INT), customer_id FROM examples.marketplace.orders WHERE price > 10"
dry_sql="SELECT order_id, customer_id, price FROM examples.marketplace.orders WHERE price > 10"
fsync_report=$work/fsync.tsv
: >"$fsync_report"
memo_report=$work/memo.tsv
: >"$memo_report"
soak_report=$work/soak.tsv
: >"$soak_report"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# soak TAG: LOAD_SOAK seconds of one case at the last connection count, RSS every 10 s
soak() {
    local tag=$1 c sql=$dry_sql dry=1 vary=0 case=${LOAD_SOAK_CASE:-dry} t=0 w rss
    c=$(echo $conns | awk '{print $NF}')
    [ "$case" = select1 ] && { sql="SELECT 1"; dry=0; }
    [ "$case" = decide ] && sql=$decide_sql
    [ "$case" = fresh ] && { sql=$decide_sql; vary=1; }
    say "soak [$tag]: $case at $c connections for ${LOAD_SOAK}s, RSS every 10 s"
    LOAD_TOKEN=$token LOAD_SQL=$sql LOAD_DRY=$dry LOAD_VARY=$vary LOAD_SALT="$(date +%s%N | cut -c11-16)" LOAD_PREFIX="soak-$c" \
        "${client_cpu[@]}" "$wrk" -t"$wrk_threads" -c"$c" -d"${LOAD_SOAK}s" --latency --timeout 10s \
        -s "$work/post.lua" "https://127.0.0.1:$gw_port/sql/v1/organizations/org-dev/environments/env-dev/statements" \
        >"$work/wrk-soak.txt" 2>&1 &
    w=$!
    while kill -0 "$w" 2>/dev/null; do
        rss=$(rss_kb "$gw_pid")
        printf '%s\t%s\t%s\n' "$tag/$case" "$t" "$rss" >>"$soak_report"
        say "  t=${t}s RSS $((rss / 1024)) MiB"
        sleep 10; t=$((t + 10))
    done
    wait "$w" || true
    printf '%s\t%s\t%s\n' "$tag/$case" "end" "$(rss_kb "$gw_pid")" >>"$soak_report"
    grep -E 'Requests/sec|requests in|Non-2xx|Socket errors' "$work/wrk-soak.txt" >&2 || true
}

# --- sqlgate cases for one binary
measure_gw() { # TAG BIN CONFIG_TEMPLATE
    local tag=$1 b=$2 template=$3 audit
    for audit in $audits; do
        local name=$tag-audit-$audit
        prepare_gw "$name" "$audit" "$template"
        start_gw "$b" "$name"
        local stmts=https://127.0.0.1:$gw_port/sql/v1/organizations/org-dev/environments/env-dev/statements
        check_create "$name" table "CREATE TABLE load_sink (id INT, note STRING)" 0
        check_create "$name" decide "$decide_sql" 1
        check_create "$name" dry "$dry_sql" 1
        check_create "$name" select1 "SELECT 1" 0
        say "sqlgate [$tag] audit $audit (pid $gw_pid, port $gw_port)"
        for case in $cases; do
            for c in $conns; do
                case $case in
                    healthz) run_wrk "$tag/healthz/audit-$audit" "$c" "https://127.0.0.1:$gw_port/healthz" "$gw_pid" ;;
                    decide|fresh|dry|select1)
                        local sql=$dry_sql dry=1 vary=0 seq0 f0 memo0 memo1 perfstat=$work/fsync-$case-$c.txt
                        [ "$case" = select1 ] && { sql="SELECT 1"; dry=0; }
                        [ "$case" = decide ] && sql=$decide_sql
                        [ "$case" = fresh ] && { sql=$decide_sql; vary=1; }
                        seq0=$(audit_seq)
                        memo0=$(memo_lookups)
                        perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$gw_pid" -o "$perfstat" -- sleep "$seconds" >/dev/null 2>&1 &
                        f0=$!
                        LOAD_PERF_LABEL=$([ "$case" = "${LOAD_PERF:-}" ] && [ "$audit" = on ] && echo "$tag/$case/audit-$audit") \
                        LOAD_TOKEN=$token LOAD_SQL=$sql LOAD_DRY=$dry LOAD_VARY=$vary LOAD_SALT="$(date +%s%N | cut -c11-16)" LOAD_PREFIX="$case-$c" \
                            run_wrk "$tag/$case/audit-$audit" "$c" "$stmts" "$gw_pid" "$work/post.lua"
                        wait "$f0" 2>/dev/null || true
                        memo1=$(memo_lookups)
                        printf '%s\t%s\t%s\t%s\n' "$tag/$case/audit-$audit" "$c" "$memo0" "$memo1" >>"$memo_report"
                        if [ "$audit" = on ]; then
                            local seq1 fds fss
                            seq1=$(audit_seq)
                            fds=$(awk '/sys_enter_fdatasync/ {gsub(",","",$1); print $1}' "$perfstat" 2>/dev/null)
                            fss=$(awk '/sys_enter_fsync/ {gsub(",","",$1); print $1}' "$perfstat" 2>/dev/null)
                            printf '%s\t%s\t%s\t%s\t%s\n' "$tag/$case" "$c" "$((seq1 - seq0))" "${fds:-?}" "${fss:-?}" >>"$fsync_report"
                        fi
                        ;;
                    nginx) ;;
                    *) die "unknown case $case" ;;
                esac
            done
        done
        if [ -n "${LOAD_SOAK:-}" ] && [ "$tag" = new ] && [ "$audit" = on ]; then soak "$tag"; fi
        stop_gw
    done
}

say "load-bench: $seconds s per case, connections: $conns; $pinning; $ncpu CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "  sqlgate: $bin${baseline:+ (baseline: $baseline)}"

# certificates first (the gateway generates its dev CA and server certificate on first start)
prepare_gw certs on
start_gw "$bin" certs
stop_gw

if [[ " $cases " == *" nginx "* ]] && [ -n "$nginx" ]; then
    port=$(free_port)
    mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
    cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $work/certs/server.pem;
        ssl_certificate_key $work/certs/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            default_type application/json;
            return 200 '{"status":"ok","service":"static body served by nginx for the sqlgate load bench"}';
        }
    }
}
EOF
    "${server_cpu[@]}" "$nginx" -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" &
    ng_pid=$!
    pids+=("$ng_pid")
    for _ in $(seq 1 100); do curl -sf --cacert "$work/certs/dev-ca.pem" "https://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf --cacert "$work/certs/dev-ca.pem" "https://127.0.0.1:$port/" >/dev/null || die "nginx did not answer: $(tail -5 "$work/nginx/logs/error.log")"
    # the master process forks the worker that does the work: measure the whole group
    sleep 0.2
    worker=$(pgrep -P "$ng_pid" | head -1 || echo "$ng_pid")
    say "nginx $("$nginx" -v 2>&1 | sed 's/.*: //') (worker pid $worker, port $port)"
    for c in $conns; do run_wrk nginx "$c" "https://127.0.0.1:$port/" "$worker"; done
    kill "$ng_pid" 2>/dev/null || true; wait "$ng_pid" 2>/dev/null || true
fi

measure_gw new "$bin" "$here/src/config/default.toml"
[ -z "$baseline" ] || measure_gw base "$baseline" "$base_config"

# --- the table
python3 - "$results" "$fsync_report" "$seconds" "$soak_report" "$memo_report" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
fs = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
nginx = {r[1]: float(r[2]) for r in rows if r[0] == "nginx" and r[2] != "nan"}
base = {(r[0].split("/", 1)[1], r[1]): float(r[2]) for r in rows if r[0].startswith("base/") and r[2] != "nan"}
print()
print(f"| case | conns | requests/s | p50 ms | p99 ms | × nginx | × base | server CPU % | wrk CPU % | errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    label, c, rps, p50, p99, srv, cli, errs = r[:8]
    ratio = f"{float(rps) / nginx[c]:.3f}" if c in nginx and rps != "nan" and label != "nginx" else ""
    key = label.split("/", 1)[1] if "/" in label else None
    vs = f"{float(rps) / base[(key, c)]:.2f}" if label.startswith("new/") and (key, c) in base and rps != "nan" else ""
    print(f"| {label} | {c} | {rps} | {p50} | {p99} | {ratio} | {vs} | {srv} | {cli} | {errs} |")
if fs:
    print()
    print("| audit on | conns | audit records | fdatasyncs (audit batches) | fsyncs (statement files) | records per fdatasync |")
    print("|---|---|---|---|---|---|")
    for label, c, rec, fd, fsn in fs:
        per = f"{int(rec) / int(fd):.1f}" if fd.isdigit() and int(fd) > 0 else "?"
        print(f"| {label} | {c} | {rec} | {fd} | {fsn} | {per} |")
memo = [l.rstrip("\n").split("\t") for l in open(sys.argv[5]) if l.strip()]
if memo:
    print()
    print("| decision memo | conns | hits | misses | hit % |")
    print("|---|---|---|---|---|")
    for label, c, before, after in memo:
        (h0, m0), (h1, m1) = (map(float, before.split()), map(float, after.split()))
        hits, misses = int(h1 - h0), int(m1 - m0)
        pct = f"{100 * hits / (hits + misses):.1f}" if hits + misses else "(no memo metrics)"
        print(f"| {label} | {c} | {hits} | {misses} | {pct} |")
soak = [l.rstrip("\n").split("\t") for l in open(sys.argv[4]) if l.strip()]
if soak:
    kb = [int(r[2]) for r in soak if r[2].isdigit() and int(r[2]) > 0]
    print()
    print(f"soak {soak[0][0]}: RSS MiB every 10 s: " + " ".join(f"{int(r[2]) // 1024}" for r in soak if r[2].isdigit()))
    if len(kb) > 2:
        # after the first minute the gateway's caches and buffers are warm; growth beyond is a leak
        w = min(6, len(kb) - 2)
        warm = kb[w]
        print(f"  first {kb[0] // 1024} MiB, at {w * 10} s {warm // 1024} MiB, max {max(kb) // 1024} MiB, end {kb[-1] // 1024} MiB; growth after {w * 10} s {(kb[-1] - warm) / 1024:.1f} MiB")
PY
if [ -n "${LOAD_PERF:-}" ]; then ls "$work"/perf-*.data 2>/dev/null >&2 || true; fi
