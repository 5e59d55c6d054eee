#!/usr/bin/env bash
# Compare Portcullis with nginx and HAProxy as reverse proxies, side by side, on one core each.
#
# Usage: loadtest/run.sh [small|16k|close|tls|tls-handshake|connect|h2c|h2c-streams|h2]      (default: small)
#   small          GET / -> "ok\n" (3 bytes), HTTP/1.1 keep-alive
#   16k            GET /16k -> a 16 KiB body, HTTP/1.1 keep-alive
#   close          GET / with `Connection: close`: one new connection per request
#   tls            GET / over TLS (HTTP/1.1 keep-alive); the proxies talk plain HTTP to the origin
#   tls-handshake  GET / over TLS with `Connection: close`: a new TLS connection, and a full handshake, per request;
#                  requests/s is new handshakes/s
#   connect        bulk bytes: one download of a BULK_MIB file from the origin with curl, straight to the origin
#                  (direct) and through a Portcullis ForwardProxy CONNECT tunnel (curl --proxytunnel); MB/s, and the
#                  ratio of the two. Only the targets direct and portcullis (nginx and HAProxy are no CONNECT proxies)
#   h2c            GET / over HTTP/2 with prior knowledge (h2c), h2load -c CONNS -m H2_STREAMS (default 16 x 10)
#   h2c-streams    the same with many concurrent streams on few connections: h2load -c 4 -m 100
#   h2             GET / over HTTP/2 by ALPN on TLS, h2load -c CONNS -m H2_STREAMS (default 16 x 10)
#                  In the h2 scenarios every proxy speaks HTTP/1.1 keep-alive to the origin (nginx proxies to HTTP/1.x
#                  only); `direct` is skipped. Latency percentiles come from h2load's per-request log (--log-file).
#
# Environment:
#   TARGETS="direct nginx haproxy portcullis"  what to measure (direct = wrk straight to the origin)
#   REPS=3  DURATION=8  WARMUP=2  CONNS=64     repetitions per target, seconds per run and warm-up, connections
#   PROXY_CPU=0  LOAD_CPU=1                    the proxy under test gets PROXY_CPU; wrk and the origin get LOAD_CPU
#   PORTCULLIS_BINARY=path                     use this binary instead of building one (swift build -c release)
#   SWIFT=swift  SWIFTPM_FLAGS="--scratch-path X"  the Swift driver and extra flags for that build
#   OUT=loadtest/out                           each run leaves its configs, logs and wrk outputs in OUT/<stamp>-<scenario>
#   BULK_MIB=1024                              connect: size of the downloaded file (sparse, removed on exit)
#   H2_STREAMS=10                              h2 scenarios: concurrent streams per connection (h2c-streams: 100)
#
# Method (see the perf notes in the README): each proxy runs one worker pinned to PROXY_CPU; the load generator
# and the origin nginx are pinned to LOAD_CPU. Targets are interleaved (A B C A B C ...), each measured run follows
# a warm-up, and the table shows medians with min-max. Throughput ratios are medians of the per-repetition ratios.
# Everything listens on 127.0.0.1 and every process started here is stopped on exit.
#
# TLS scenarios: the run generates one ECDSA P-256 certificate and key (openssl CLI) into its directory, and nginx,
# HAProxy and Portcullis all serve that one. nginx and HAProxy allow TLS 1.2 and 1.3 and have session caches and
# tickets off; Portcullis has no such setting, so the client is made never to resume instead: wrk runs with an
# LD_PRELOAD shim (wrk-noresume.c, built with cc) that drops the saved session before every handshake, against every
# target alike. Before measuring, an `openssl s_client` probe records each target's protocol, cipher, key exchange and
# whether it would resume a session; the summary prints them. `direct` is skipped (the origin speaks plain HTTP).
#
# connect: instead of wrk, each repetition runs `curl -o /dev/null` pinned to LOAD_CPU once per target (after one
# discarded warm-up download), direct and through `-p -x http://127.0.0.1:PORT` (a CONNECT tunnel to the origin's
# IP and port, allowed by a ServiceEntry listing that address and port), interleaved, and records curl's
# speed_download. The ratio portcullis/direct is the median of the per-repetition ratios.
set -euo pipefail

SCENARIO=${1:-small}
TARGETS=${TARGETS:-direct nginx haproxy portcullis}
REPS=${REPS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SWIFTPM_FLAGS=${SWIFTPM_FLAGS:-}
SWIFT=${SWIFT:-swift}
BULK_MIB=${BULK_MIB:-1024}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${OUT:-$HERE/out}

TLS=0
BULK=0               # connect: curl downloads instead of wrk
H2=0                 # h2 scenarios: h2load instead of wrk
RATE=req/s
SUFFIX=              # config templates NAME.EXT.tmpl are used as NAME$SUFFIX.EXT.tmpl (the origin's never)
case "$SCENARIO" in
    small) URL_PATH=/;    WRK_EXTRA=();                         WHAT="keep-alive" ;;
    16k)   URL_PATH=/16k; WRK_EXTRA=();                         WHAT="keep-alive, 16 KiB body" ;;
    close) URL_PATH=/;    WRK_EXTRA=(-H 'Connection: close');   WHAT="Connection: close" ;;
    tls)   URL_PATH=/;    WRK_EXTRA=();                         WHAT="HTTPS, keep-alive"; TLS=1 ;;
    tls-handshake)
           URL_PATH=/;    WRK_EXTRA=(-H 'Connection: close');   TLS=1; RATE=handshakes/s
           WHAT="HTTPS, Connection: close: a full TLS handshake per request, req/s = new handshakes/s" ;;
    connect)
           URL_PATH=/big; WRK_EXTRA=(); BULK=1; RATE=MB/s; SUFFIX=-connect
           WHAT="$BULK_MIB MiB in one response, direct or through a CONNECT tunnel" ;;
    h2c)   URL_PATH=/;    WRK_EXTRA=(); H2=1; SUFFIX=-h2c; H2_STREAMS=${H2_STREAMS:-10}; CONNS=${CONNS:-16}
           WHAT="HTTP/2 prior knowledge (h2c), $CONNS connections x $H2_STREAMS streams" ;;
    h2c-streams)
           URL_PATH=/;    WRK_EXTRA=(); H2=1; SUFFIX=-h2c; H2_STREAMS=${H2_STREAMS:-100}; CONNS=${CONNS:-4}
           WHAT="HTTP/2 prior knowledge (h2c), many streams: $CONNS connections x $H2_STREAMS streams" ;;
    h2)    URL_PATH=/;    WRK_EXTRA=(); H2=1; TLS=1; H2_STREAMS=${H2_STREAMS:-10}; CONNS=${CONNS:-16}
           WHAT="HTTP/2 by ALPN over TLS, $CONNS connections x $H2_STREAMS streams" ;;
    *) echo "usage: $0 [small|16k|close|tls|tls-handshake|connect|h2c|h2c-streams|h2]" >&2; exit 2 ;;
esac
CONNS=${CONNS:-64}
[ "$TLS" = 1 ] && SUFFIX=-tls
[ "$TLS" = 1 ] && [ "$H2" = 1 ] && SUFFIX=-h2tls
READY_PATH=$URL_PATH; [ "$BULK" = 1 ] && READY_PATH=/  # never download the bulk file to check readiness
SCHEME=http; [ "$TLS" = 1 ] && SCHEME=https
for n in "$REPS" "$DURATION" "$WARMUP" "$CONNS" "$BULK_MIB"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] ||
        { echo "REPS, DURATION, WARMUP, CONNS and BULK_MIB must be positive integers" >&2; exit 2; }
done
for t in $TARGETS; do
    case "$t" in direct|nginx|haproxy|portcullis) ;; *) echo "unknown target: $t" >&2; exit 2 ;; esac
done
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }
log() { echo "== $*" >&2; }
if { [ "$TLS" = 1 ] || [ "$H2" = 1 ]; } && has_target direct; then
    log "scenario $SCENARIO: skipping target direct (the origin speaks plain HTTP/1.1)"
    TARGETS=$(echo " $TARGETS " | sed 's/ direct / /g; s/^ *//; s/ *$//')
    [ -n "$TARGETS" ] || { echo "no target left to measure" >&2; exit 2; }
fi
if [ "$BULK" = 1 ]; then
    for t in nginx haproxy; do
        has_target "$t" || continue
        log "scenario $SCENARIO: skipping target $t (not a CONNECT proxy)"
        TARGETS=$(echo " $TARGETS " | sed "s/ $t / /g; s/^ *//; s/ *\$//")
    done
    [ -n "$TARGETS" ] || { echo "no target left to measure" >&2; exit 2; }
fi

# ---------------------------------------------------------------------------------------------------------------
# Tools: install what is missing with apt when we can.

ensure_packages() {  # ensure_packages PKG... ; returns 1 when something is still missing
    local missing=() p
    for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
            echo "missing: ${missing[*]}; install them with: apt-get install -y ${missing[*]}" >&2; return 1
        fi
    fi
    command -v apt-get >/dev/null 2>&1 || { echo "missing: ${missing[*]} (and no apt-get)" >&2; return 1; }
    log "installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

PATH="$PATH:/usr/sbin:/sbin"  # nginx and haproxy live in sbin
ensure_packages nginx curl || exit 1
if [ "$BULK" = 0 ] && [ "$H2" = 0 ]; then ensure_packages wrk || exit 1; fi
if [ "$H2" = 1 ] && ! command -v h2load >/dev/null 2>&1; then
    # h2load comes in Debian's nghttp2-client package.
    ensure_packages nghttp2-client >/dev/null 2>&1 || true
    command -v h2load >/dev/null 2>&1 || { echo "h2load is missing: apt-get install -y nghttp2-client" >&2; exit 1; }
fi
if [ "$TLS" = 1 ]; then ensure_packages openssl || exit 1; fi
if has_target haproxy && ! ensure_packages haproxy; then
    echo "warning: haproxy is not available; skipping it" >&2
    TARGETS=$(echo " $TARGETS " | sed 's/ haproxy / /; s/^ *//; s/ *$//')
fi

CPUS=$(nproc)
if [ "$CPUS" -lt 2 ]; then
    echo "warning: only $CPUS CPU; the proxy and the load generator will share it, figures mean little" >&2
    PROXY_CPU=0; LOAD_CPU=0
fi

if has_target portcullis; then
    if [ -z "${PORTCULLIS_BINARY:-}" ]; then
        log "building portcullis (release)"
        # shellcheck disable=SC2086  # SWIFTPM_FLAGS is a list of flags
        (cd "$ROOT" && "$SWIFT" build $SWIFTPM_FLAGS -c release --product portcullis >&2)
        # shellcheck disable=SC2086
        PORTCULLIS_BINARY="$(cd "$ROOT" && "$SWIFT" build $SWIFTPM_FLAGS -c release --show-bin-path)/portcullis"
    fi
    [ -x "$PORTCULLIS_BINARY" ] || { echo "not executable: $PORTCULLIS_BINARY" >&2; exit 1; }
fi

# ---------------------------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped on exit.

RUN_DIR="$OUT/$(date +%Y%m%d-%H%M%S)-$SCENARIO"
mkdir -p "$RUN_DIR/www"
chmod 755 "$RUN_DIR" "$RUN_DIR/www"  # nginx workers may run as nobody
head -c 16384 /dev/zero | tr '\0' 'x' >"$RUN_DIR/www/16k"
# connect: a sparse file (no disk space; reads as zeros, as fast as page-cached data), deleted on exit.
[ "$BULK" = 1 ] && truncate -s "${BULK_MIB}M" "$RUN_DIR/www/big"

WRK_ENV=()           # environment for wrk (the no-resumption shim in the TLS scenarios)
TLS_CLIENT="wrk with the system OpenSSL"
if [ "$TLS" = 1 ]; then
    # One test certificate for every proxy: ECDSA P-256, self-signed (wrk does not verify it).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$RUN_DIR/key.pem" -out "$RUN_DIR/cert.pem" >"$RUN_DIR/openssl-req.log" 2>&1 ||
        { echo "openssl could not generate the test certificate; see $RUN_DIR/openssl-req.log" >&2; exit 1; }
    cat "$RUN_DIR/cert.pem" "$RUN_DIR/key.pem" >"$RUN_DIR/cert+key.pem"  # HAProxy's `crt` takes both in one file
    chmod 600 "$RUN_DIR/key.pem" "$RUN_DIR/cert+key.pem"
    # Make wrk never resume a TLS session (see wrk-noresume.c), so every target does the same full handshakes.
    shim_rc=1
    if command -v cc >/dev/null 2>&1 &&
        cc -shared -fPIC -O2 -o "$RUN_DIR/wrk-noresume.so" "$HERE/wrk-noresume.c" -ldl >"$RUN_DIR/cc.log" 2>&1; then
        shim_rc=0  # check that wrk still starts with it (`wrk --version` exits 1)
        env LD_PRELOAD="$RUN_DIR/wrk-noresume.so" wrk --version >>"$RUN_DIR/cc.log" 2>&1 </dev/null || shim_rc=$?
    fi
    if [ "$shim_rc" -le 1 ] && [ -s "$RUN_DIR/wrk-noresume.so" ] && ! grep -q 'cannot be preloaded' "$RUN_DIR/cc.log"; then
        WRK_ENV=(LD_PRELOAD="$RUN_DIR/wrk-noresume.so")
        TLS_CLIENT="wrk, never resuming a session (LD_PRELOAD wrk-noresume.so)"
    else
        echo "warning: could not build $HERE/wrk-noresume.c (needs cc); wrk will resume TLS sessions with any" \
            "target that allows it, and the handshake figures are not comparable" >&2
        TLS_CLIENT="wrk, RESUMING sessions where the target allows it (wrk-noresume.c could not be built)"
    fi
fi

declare -A PID=()    # target -> pid of the process we started
cleanup() {
    local name pid
    for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${PID[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    for pid in "${PID[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$RUN_DIR/www/big"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

USED_PORTS=" "
free_port() {  # free_port VAR: set VAR to a port in 20000-32767 (below Linux's ephemeral range) nobody listens on
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12768))
        if [[ "$USED_PORTS" != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS+="$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    echo "no free port found" >&2; return 1
}

render() {  # render TEMPLATE PORT OUTPUT: fill in @DIR@, @PORT@, @ORIGIN_PORT@; uses NAME$SUFFIX.EXT.tmpl (not the origin's)
    local template=$1
    [ -n "$SUFFIX" ] && [[ "$template" != nginx-origin* ]] && template=${template%%.*}$SUFFIX.${template#*.}
    sed -e "s|@DIR@|$RUN_DIR|g" -e "s|@PORT@|$2|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" "$HERE/$template" >"$3"
}

wait_ready() {  # wait_ready NAME URL [CURL_ARG...]: until URL answers 2xx, at most 30 s
    local name=$1 url=$2; shift 2
    for _ in $(seq 150); do
        if curl -kfsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null; then return 0; fi
        kill -0 "${PID[$name]}" 2>/dev/null || { echo "$name exited; see $RUN_DIR/$name.log" >&2; return 1; }
        sleep 0.2
    done
    echo "$name did not become ready at $url; see $RUN_DIR/$name.log" >&2; return 1
}

start() {  # start NAME CPU COMMAND...: run COMMAND pinned to CPU in the background, logging to RUN_DIR/NAME.log
    local name=$1 cpu=$2; shift 2
    taskset -c "$cpu" "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
    PID[$name]=$!
}

free_port ORIGIN_PORT
declare -A PORT=([direct]=$ORIGIN_PORT)
render nginx-origin.conf.tmpl "$ORIGIN_PORT" "$RUN_DIR/origin.conf"
start origin "$LOAD_CPU" nginx -e "$RUN_DIR/origin-error.log" -c "$RUN_DIR/origin.conf"
wait_ready origin "http://127.0.0.1:$ORIGIN_PORT$READY_PATH"

via() {  # via TARGET: set VIA to the curl arguments that reach the origin through TARGET (connect scenario)
    VIA=()
    [ "$1" = direct ] || VIA=(-p -x "http://127.0.0.1:${PORT[$1]}")
}

for t in $TARGETS; do
    case "$t" in
        nginx)
            free_port 'PORT[nginx]'
            render nginx-proxy.conf.tmpl "${PORT[nginx]}" "$RUN_DIR/nginx-proxy.conf"
            start nginx "$PROXY_CPU" nginx -e "$RUN_DIR/nginx-proxy-error.log" -c "$RUN_DIR/nginx-proxy.conf" ;;
        haproxy)
            free_port 'PORT[haproxy]'
            render haproxy.cfg.tmpl "${PORT[haproxy]}" "$RUN_DIR/haproxy.cfg"
            start haproxy "$PROXY_CPU" haproxy -db -f "$RUN_DIR/haproxy.cfg" ;;
        portcullis)
            free_port 'PORT[portcullis]'
            free_port ADMIN_PORT
            render portcullis.yaml.tmpl "${PORT[portcullis]}" "$RUN_DIR/portcullis.yaml"
            start portcullis "$PROXY_CPU" "$PORTCULLIS_BINARY" run --config "$RUN_DIR/portcullis.yaml" \
                --concurrency 1 --access-log off --admin "127.0.0.1:$ADMIN_PORT" ;;
    esac
    if [ "$BULK" = 1 ]; then
        via "$t"
        [ "$t" = direct ] || wait_ready "$t" "http://127.0.0.1:$ORIGIN_PORT$READY_PATH" "${VIA[@]}"
    else
        READY_ARGS=()
        if [ "$H2" = 1 ]; then
            if [ "$TLS" = 1 ]; then READY_ARGS=(--http2); else READY_ARGS=(--http2-prior-knowledge); fi
        fi
        [ "$t" = direct ] || wait_ready "$t" "$SCHEME://127.0.0.1:${PORT[$t]}$READY_PATH" "${READY_ARGS[@]}"
    fi
done

# TLS: what each target negotiates with an OpenSSL client, and whether it would resume a session (a second
# connection offering the first one's session). wrk itself never resumes (see above), whatever this says.
declare -A TLS_INFO=()
tls_probe() {  # tls_probe TARGET
    local t=$1 req=$'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' resumes=no
    local first="$RUN_DIR/tls-probe-$t-1.txt" second="$RUN_DIR/tls-probe-$t-2.txt" session="$RUN_DIR/tls-session-$t.pem"
    printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$t]}" -ign_eof -sess_out "$session" \
        >"$first" 2>&1 || true
    if [ -s "$session" ]; then
        printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:${PORT[$t]}" -ign_eof -sess_in "$session" \
            >"$second" 2>&1 || true
        grep -q '^Reused,' "$second" && resumes=yes
    fi
    TLS_INFO[$t]=$(awk -v r="$resumes" '
        /^(New|Reused), / { sub(/,$/, "", $2); proto = $2; cipher = $NF }
        /^Server Temp Key:/ { kx = $4; sub(/,$/, "", kx) }
        END { printf "%s %s %s, would resume a session: %s", proto ? proto : "?", cipher ? cipher : "?", kx ? kx : "?", r }' "$first")
    log "TLS $t: ${TLS_INFO[$t]}"
}
if [ "$TLS" = 1 ]; then
    for t in $TARGETS; do tls_probe "$t"; done
fi

# ---------------------------------------------------------------------------------------------------------------
# Measure.

cpu_busy() {  # percent busy of CPUs $PROXY_CPU and $LOAD_CPU over 0.5 s, as "busy0 busy1"
    local a b
    a=$(grep -E "^cpu($PROXY_CPU|$LOAD_CPU) " /proc/stat)
    sleep 0.5
    b=$(grep -E "^cpu($PROXY_CPU|$LOAD_CPU) " /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '
        { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i
          if ($1 in t) { printf "%d ", 100 * (1 - (idle - i0[$1]) / (total - t[$1])) } else { t[$1] = total; i0[$1] = idle } }'
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
proxy_pid() {  # proxy_pid TARGET: the process doing the work (nginx: its one worker), or nothing for direct
    local pid=${PID[$1]:-}
    [ "$1" = nginx ] && pid=$(pgrep -P "$pid" | head -n 1 || true)
    echo "$pid"
}
proc_cpu() {  # proc_cpu PID: "user+system ticks  wall-clock microseconds" of PID now
    local ticks
    ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0)
    echo "$ticks ${EPOCHREALTIME/./}"
}

run_wrk() {  # run_wrk SECONDS URL OUTPUT
    # In the background and waited for, so that Ctrl-C or SIGTERM stop the script at once (`wait` returns on a
    # trapped signal; a foreground command would be waited for to the end).
    timeout $(($1 + 20)) taskset -c "$LOAD_CPU" env "${WRK_ENV[@]}" wrk -t1 -c"$CONNS" -d"$1s" --latency "${WRK_EXTRA[@]}" "$2" \
        >"$3" 2>&1 </dev/null &
    PID[wrk]=$!
    local rc=0
    wait "${PID[wrk]}" || rc=$?
    unset 'PID[wrk]'
    return "$rc"
}

run_h2load() {  # run_h2load SECONDS URL OUTPUT: like run_wrk, with h2load; per-request times go to OUTPUT.log
    local warm=1
    [ "$1" -ge 4 ] && warm=2
    timeout $(($1 + 20)) taskset -c "$LOAD_CPU" h2load -t1 -c"$CONNS" -m"$H2_STREAMS" -D"$1" --warm-up-time="$warm" \
        --log-file="$3.log" "$2" >"$3" 2>&1 </dev/null &
    PID[h2load]=$!
    local rc=0
    wait "${PID[h2load]}" || rc=$?
    unset 'PID[h2load]'
    return "$rc"
}

# h2load output (and its per-request log: start_us, status, duration_us) -> "rps p50_ms p99_ms errors"
parse_h2load() {
    local rps errors
    rps=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { v = $i; sub(/,$/, "", v); print v } }' "$1")
    errors=$(awk '/^requests:/ { gsub(/,/, ""); print $10 + $12 }' "$1")
    [ -n "$rps" ] || return 1
    # Non-2xx statuses in the per-request log count as errors too (h2load reports them as "succeeded").
    errors=$(( ${errors:-0} + $(awk -F'\t' '$2 !~ /^2/ { n++ } END { print n + 0 }' "$1.log") ))
    awk -F'\t' '{ print $3 }' "$1.log" | sort -n | awk -v rps="$rps" -v err="$errors" '
        { v[NR] = $1 }
        END { if (NR == 0) exit 1
              p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
              printf "%.0f %.3f %.3f %d\n", rps, p50 / 1000, p99 / 1000, err }'
}

# wrk output -> "rps p50_ms p99_ms errors"
parse_wrk() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000
                         if (v ~ /s$/) return v * 1000; return v + 0 }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END { if (rps == "") exit 1; printf "%.0f %.3f %.3f %d\n", rps, p50, p99, err }' "$1"
}

run_curl() {  # run_curl TARGET OUTPUT: one download of the bulk file through TARGET, "code bytes seconds bytes/s"
    via "$1"
    timeout 600 taskset -c "$LOAD_CPU" curl -sS -o /dev/null --max-time 580 \
        -w '%{http_code} %{size_download} %{time_total} %{speed_download}\n' "${VIA[@]}" \
        "http://127.0.0.1:$ORIGIN_PORT$URL_PATH" >"$2" 2>&1 </dev/null &
    PID[curl]=$!
    local rc=0
    wait "${PID[curl]}" || rc=$?
    unset 'PID[curl]'
    return "$rc"
}

BULK_BYTES=$((BULK_MIB * 1048576))
measure_bulk() {  # measure_bulk REP TARGET: one warm-up and one measured download, appended to RESULTS
    local rep=$1 t=$2 busy pid ticks0 us0 ticks1 us1 proxy_cpu=- code bytes secs speed err=0 mbps
    run_curl "$t" "$RUN_DIR/warmup-$t-$rep.txt" || true
    busy=$(cpu_busy)
    pid=$(proxy_pid "$t")
    [ -n "$pid" ] && read -r ticks0 us0 < <(proc_cpu "$pid")
    run_curl "$t" "$RUN_DIR/curl-$t-$rep.txt" || { echo "curl failed against $t: $(cat "$RUN_DIR/curl-$t-$rep.txt")" >&2; exit 1; }
    if [ -n "$pid" ]; then
        read -r ticks1 us1 < <(proc_cpu "$pid")
        proxy_cpu=$(( (ticks1 - ticks0) * 100000000 / CLK_TCK / (us1 - us0 > 0 ? us1 - us0 : 1) ))
    fi
    read -r code bytes secs speed <"$RUN_DIR/curl-$t-$rep.txt"
    if [ "$code" != 200 ] || [ "$bytes" != "$BULK_BYTES" ]; then err=1; fi
    mbps=$(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1e6 }')
    # Same columns as the wrk scenarios: the rate in MB/s, seconds and bytes where p50 and p99 would be.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$t" "$mbps" "$secs" "$bytes" "$err" "${busy% }" "$proxy_cpu" \
        >>"$RESULTS"
    log "rep $rep $t: $mbps MB/s ($bytes bytes in $secs s, HTTP $code)" \
        "(CPU busy before: ${busy% } %; proxy used $proxy_cpu % of a core)"
}

RESULTS="$RUN_DIR/results.tsv"
if [ "$BULK" = 1 ]; then
    printf 'rep\ttarget\tMB_per_s\tseconds\tbytes\terrors\tbusy_before\tproxy_cpu\n' >"$RESULTS"
    log "scenario $SCENARIO: GET $URL_PATH ($WHAT), curl -o /dev/null, one download per run; $REPS reps of: $TARGETS"
    log "proxy on CPU $PROXY_CPU; curl and origin on CPU $LOAD_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg); files in $RUN_DIR"
else
    printf 'rep\ttarget\trps\tp50_ms\tp99_ms\terrors\tbusy_before\tproxy_cpu\n' >"$RESULTS"
    if [ "$H2" = 1 ]; then
        log "scenario $SCENARIO: GET $URL_PATH ($WHAT), h2load -t1 -c$CONNS -m$H2_STREAMS -D$DURATION; $REPS reps of: $TARGETS"
    else
        log "scenario $SCENARIO: GET $URL_PATH ($WHAT), wrk -t1 -c$CONNS -d${DURATION}s --latency; $REPS reps of: $TARGETS"
    fi
    log "proxy on CPU $PROXY_CPU; wrk and origin on CPU $LOAD_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg); files in $RUN_DIR"
fi
for rep in $(seq "$REPS"); do
    if [ "$BULK" = 1 ]; then
        for t in $TARGETS; do measure_bulk "$rep" "$t"; done
        continue
    fi
    for t in $TARGETS; do
        url="$SCHEME://127.0.0.1:${PORT[$t]}$URL_PATH"
        LOAD=run_wrk; PARSE=parse_wrk
        [ "$H2" = 1 ] && { LOAD=run_h2load; PARSE=parse_h2load; }
        "$LOAD" "$WARMUP" "$url" "$RUN_DIR/warmup-$t-$rep.txt" || true
        busy=$(cpu_busy)
        pid=$(proxy_pid "$t")
        [ -n "$pid" ] && read -r ticks0 us0 < <(proc_cpu "$pid")
        "$LOAD" "$DURATION" "$url" "$RUN_DIR/wrk-$t-$rep.txt" || { echo "$LOAD failed against $t" >&2; exit 1; }
        proxy_cpu=-  # percent of one core the proxy used while measured
        if [ -n "$pid" ]; then
            read -r ticks1 us1 < <(proc_cpu "$pid")
            proxy_cpu=$(( (ticks1 - ticks0) * 100000000 / CLK_TCK / (us1 - us0 > 0 ? us1 - us0 : 1) ))
        fi
        read -r rps p50 p99 err < <("$PARSE" "$RUN_DIR/wrk-$t-$rep.txt" || true)
        [ -n "${rps:-}" ] || { echo "could not parse $RUN_DIR/wrk-$t-$rep.txt" >&2; exit 1; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$t" "$rps" "$p50" "$p99" "$err" "${busy% }" "$proxy_cpu" \
            >>"$RESULTS"
        log "rep $rep $t: $rps $RATE, p50 $p50 ms, p99 $p99 ms, errors $err" \
            "(CPU busy before: ${busy% } %; proxy used $proxy_cpu % of a core)"
    done
done

# Peak RSS of each proxy (for nginx, its one worker process; the master only waits).
declare -A RSS=()
for t in $TARGETS; do
    [ "$t" = direct ] && continue
    pid=${PID[$t]}
    if [ "$t" = nginx ]; then pid=$(pgrep -P "$pid" | head -n 1 || true); fi
    RSS[$t]=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/${pid:-0}/status" 2>/dev/null || true)
done

# ---------------------------------------------------------------------------------------------------------------
# Report.

summary_bulk() {
    echo
    echo "Scenario $SCENARIO: GET $URL_PATH ($WHAT), curl -o /dev/null, $REPS repetitions," \
        "proxy pinned to CPU $PROXY_CPU, curl and origin to CPU $LOAD_CPU"
    printf '%-11s %-26s %9s %7s %12s %13s\n' target "MB/s median (min-max)" "seconds" errors "proxy CPU %" "peak RSS MiB"
    for t in $TARGETS; do
        awk -F'\t' -v t="$t" -v rss="${RSS[$t]:--}" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            $2 == t { n++; r[n] = $3; s[n] = $4; err += $6; if ($8 ~ /^[0-9]+$/) c[++nc] = $8
                      if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
            END { printf "%-11s %-26s %9.3f %7d %12s %13s\n", t, sprintf("%.0f (%.0f-%.0f)", median(r, n), min, max),
                         median(s, n), err, nc ? sprintf("%.0f", median(c, nc)) : "-", rss }' "$RESULTS"
    done
    echo
    if has_target portcullis && has_target direct; then
        awk -F'\t' '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            NR > 1 && $2 == "portcullis" { rt[$1] = $3 }
            NR > 1 && $2 == "direct" { rd[$1] = $3 }
            END {
                for (rep in rt) if ((rep in rd) && rd[rep] > 0) q[++n] = rt[rep] / rd[rep]
                if (n == 0) exit
                rq = median(q, n)
                printf "portcullis/direct: MB/s x%.2f   goal: MB/s >= x0.90 %s\n", rq, (rq >= 0.9 ? "MET" : "MISSED") }' "$RESULTS"
    fi
    awk -F'\t' 'NR > 1 { split($7, b, " "); if (b[1] > 25 || b[2] > 25) busy++ }
        END { if (busy) printf "warning: %d run(s) started with a CPU more than 25%% busy; another process may have skewed them\n", busy }' "$RESULTS"
    echo "raw results: $RESULTS"
}

summary() {
    [ "$BULK" = 1 ] && { summary_bulk; return; }
    echo
    local tool="wrk -t1 -c$CONNS -d${DURATION}s"
    [ "$H2" = 1 ] && tool="h2load -t1 -c$CONNS -m$H2_STREAMS -D$DURATION"
    echo "Scenario $SCENARIO: GET $URL_PATH ($WHAT), $tool, $REPS repetitions," \
        "proxy pinned to CPU $PROXY_CPU, wrk and origin to CPU $LOAD_CPU"
    printf '%-11s %-26s %8s %8s %7s %13s\n' target "req/s median (min-max)" "p50 ms" "p99 ms" errors "peak RSS MiB"
    for t in $TARGETS; do
        awk -F'\t' -v t="$t" -v rss="${RSS[$t]:--}" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            $2 == t { n++; r[n] = $3; p5[n] = $4; p9[n] = $5; err += $6; if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
            END { printf "%-11s %-26s %8.2f %8.2f %7d %13s\n", t, sprintf("%.0f (%.0f-%.0f)", median(r, n), min, max),
                         median(p5, n), median(p9, n), err, rss }' "$RESULTS"
    done
    echo
    for t in portcullis haproxy; do
        if ! has_target "$t" || ! has_target nginx; then continue; fi
        # Throughput: median of the per-repetition ratios. Latency: ratio of the median p99s.
        awk -F'\t' -v t="$t" -v goal="$([ "$t" = portcullis ] && echo 1)" -v tls="$TLS" -v h2="$H2" -v rate="$RATE" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            $2 == t { rt[$1] = $3; pt[++nt] = $5 }
            $2 == "nginx" { rn[$1] = $3; pn[++nn] = $5 }
            END {
                for (rep in rt) if ((rep in rn) && rn[rep] > 0) q[++n] = rt[rep] / rn[rep]
                if (n == 0) exit
                rq = median(q, n); lq = median(pt, nt) / median(pn, nn)
                printf "%s/nginx: %s x%.2f, p99 x%.2f", t, rate, rq, lq
                if (goal && h2) printf "   goal (issue 4): %s >= x1.00 %s", rate, (rq >= 1.0 ? "MET" : "MISSED")
                else if (goal && tls) printf "   goal: %s >= x0.80 %s", rate, (rq >= 0.8 ? "MET" : "MISSED")
                else if (goal) printf "   goal: req/s >= x0.80 %s, p99 <= x1.50 %s", (rq >= 0.8 ? "MET" : "MISSED"), (lq <= 1.5 ? "MET" : "MISSED")
                printf "\n" }' "$RESULTS"
    done
    awk -F'\t' 'NR > 1 { split($7, b, " "); if (b[1] > 25 || b[2] > 25) busy++ }
        END { if (busy) printf "warning: %d run(s) started with a CPU more than 25%% busy; another process may have skewed them\n", busy }' "$RESULTS"
    # A proxy that did not get its whole core was held back by something else: the load generator could not keep it
    # busy, or other processes shared its core.
    awk -F'\t' 'NR > 1 && $8 ~ /^[0-9]+$/ { s[$2] += $8; n[$2]++ }
        END { for (t in s) if (s[t] / n[t] < 90) printf "note: %s ran %d%% of the time on average while measured (not saturating its core: the load generator was the bottleneck, or other processes shared the core)\n", t, s[t] / n[t] }' "$RESULTS"
    if [ "$TLS" = 1 ]; then
        echo "TLS: one ECDSA P-256 test certificate for all; client: $TLS_CLIENT"
        for t in $TARGETS; do echo "TLS $t: ${TLS_INFO[$t]:-?}"; done
    fi
    echo "raw results: $RESULTS"
}
summary | tee "$RUN_DIR/summary.txt"
