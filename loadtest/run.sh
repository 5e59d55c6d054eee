#!/usr/bin/env bash
# Compare Portcullis with nginx and HAProxy as reverse proxies, side by side, on one core each.
#
# Usage: loadtest/run.sh [small|16k|close]      (default: small)
#   small  GET / -> "ok\n" (3 bytes), HTTP/1.1 keep-alive
#   16k    GET /16k -> a 16 KiB body, HTTP/1.1 keep-alive
#   close  GET / with `Connection: close`: one new connection per request
#
# Environment:
#   TARGETS="direct nginx haproxy portcullis"  what to measure (direct = wrk straight to the origin)
#   REPS=3  DURATION=8  WARMUP=2  CONNS=64     repetitions per target, seconds per run and warm-up, connections
#   PROXY_CPU=0  LOAD_CPU=1                    the proxy under test gets PROXY_CPU; wrk and the origin get LOAD_CPU
#   PORTCULLIS_BINARY=path                     use this binary instead of building one (swift build -c release)
#   SWIFT=swift  SWIFTPM_FLAGS="--scratch-path X"  the Swift driver and extra flags for that build
#   OUT=loadtest/out                           each run leaves its configs, logs and wrk outputs in OUT/<stamp>-<scenario>
#
# Method (see the perf notes in the README): each proxy runs one worker pinned to PROXY_CPU; the load generator
# and the origin nginx are pinned to LOAD_CPU. Targets are interleaved (A B C A B C ...), each measured run follows
# a warm-up, and the table shows medians with min-max. Throughput ratios are medians of the per-repetition ratios.
# Everything listens on 127.0.0.1 and every process started here is stopped on exit.
set -euo pipefail

SCENARIO=${1:-small}
TARGETS=${TARGETS:-direct nginx haproxy portcullis}
REPS=${REPS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SWIFTPM_FLAGS=${SWIFTPM_FLAGS:-}
SWIFT=${SWIFT:-swift}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${OUT:-$HERE/out}

case "$SCENARIO" in
    small) URL_PATH=/;    WRK_EXTRA=();                         WHAT="keep-alive" ;;
    16k)   URL_PATH=/16k; WRK_EXTRA=();                         WHAT="keep-alive, 16 KiB body" ;;
    close) URL_PATH=/;    WRK_EXTRA=(-H 'Connection: close');   WHAT="Connection: close" ;;
    *) echo "usage: $0 [small|16k|close]" >&2; exit 2 ;;
esac
for n in "$REPS" "$DURATION" "$WARMUP" "$CONNS"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "REPS, DURATION, WARMUP and CONNS must be positive integers" >&2; exit 2; }
done
for t in $TARGETS; do
    case "$t" in direct|nginx|haproxy|portcullis) ;; *) echo "unknown target: $t" >&2; exit 2 ;; esac
done
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }
log() { echo "== $*" >&2; }

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
ensure_packages nginx wrk curl || exit 1
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

render() {  # render TEMPLATE OUTPUT: fill in @DIR@, @PORT@, @ORIGIN_PORT@
    sed -e "s|@DIR@|$RUN_DIR|g" -e "s|@PORT@|$2|g" -e "s|@ORIGIN_PORT@|$ORIGIN_PORT|g" "$HERE/$1" >"$3"
}

wait_ready() {  # wait_ready NAME URL: until URL answers 2xx, at most 30 s
    for _ in $(seq 150); do
        if curl -fsS -o /dev/null --max-time 1 "$2" 2>/dev/null; then return 0; fi
        kill -0 "${PID[$1]}" 2>/dev/null || { echo "$1 exited; see $RUN_DIR/$1.log" >&2; return 1; }
        sleep 0.2
    done
    echo "$1 did not become ready at $2; see $RUN_DIR/$1.log" >&2; return 1
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
wait_ready origin "http://127.0.0.1:$ORIGIN_PORT$URL_PATH"

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
    [ "$t" = direct ] || wait_ready "$t" "http://127.0.0.1:${PORT[$t]}$URL_PATH"
done

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

run_wrk() {  # run_wrk SECONDS URL OUTPUT
    # In the background and waited for, so that Ctrl-C or SIGTERM stop the script at once (`wait` returns on a
    # trapped signal; a foreground command would be waited for to the end).
    timeout $(($1 + 20)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$1s" --latency "${WRK_EXTRA[@]}" "$2" \
        >"$3" 2>&1 </dev/null &
    PID[wrk]=$!
    local rc=0
    wait "${PID[wrk]}" || rc=$?
    unset 'PID[wrk]'
    return "$rc"
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

RESULTS="$RUN_DIR/results.tsv"
printf 'rep\ttarget\trps\tp50_ms\tp99_ms\terrors\tbusy_before\n' >"$RESULTS"
log "scenario $SCENARIO: GET $URL_PATH ($WHAT), wrk -t1 -c$CONNS -d${DURATION}s --latency; $REPS reps of: $TARGETS"
log "proxy on CPU $PROXY_CPU; wrk and origin on CPU $LOAD_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg); files in $RUN_DIR"
for rep in $(seq "$REPS"); do
    for t in $TARGETS; do
        url="http://127.0.0.1:${PORT[$t]}$URL_PATH"
        run_wrk "$WARMUP" "$url" "$RUN_DIR/warmup-$t-$rep.txt" || true
        busy=$(cpu_busy)
        run_wrk "$DURATION" "$url" "$RUN_DIR/wrk-$t-$rep.txt" || { echo "wrk failed against $t" >&2; exit 1; }
        read -r rps p50 p99 err < <(parse_wrk "$RUN_DIR/wrk-$t-$rep.txt" || true)
        [ -n "${rps:-}" ] || { echo "could not parse $RUN_DIR/wrk-$t-$rep.txt" >&2; exit 1; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$t" "$rps" "$p50" "$p99" "$err" "${busy% }" >>"$RESULTS"
        log "rep $rep $t: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $err (CPU busy before: ${busy% } %)"
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

summary() {
    echo
    echo "Scenario $SCENARIO: GET $URL_PATH ($WHAT), wrk -t1 -c$CONNS -d${DURATION}s, $REPS repetitions," \
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
        awk -F'\t' -v t="$t" -v goal="$([ "$t" = portcullis ] && echo 1)" '
            function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            $2 == t { rt[$1] = $3; pt[++nt] = $5 }
            $2 == "nginx" { rn[$1] = $3; pn[++nn] = $5 }
            END {
                for (rep in rt) if ((rep in rn) && rn[rep] > 0) q[++n] = rt[rep] / rn[rep]
                if (n == 0) exit
                rq = median(q, n); lq = median(pt, nt) / median(pn, nn)
                printf "%s/nginx: req/s x%.2f, p99 x%.2f", t, rq, lq
                if (goal) printf "   goal: req/s >= x0.80 %s, p99 <= x1.50 %s", (rq >= 0.8 ? "MET" : "MISSED"), (lq <= 1.5 ? "MET" : "MISSED")
                printf "\n" }' "$RESULTS"
    done
    awk -F'\t' 'NR > 1 { split($7, b, " "); if (b[1] > 25 || b[2] > 25) busy++ }
        END { if (busy) printf "warning: %d run(s) started with a CPU more than 25%% busy; another process may have skewed them\n", busy }' "$RESULTS"
    echo "raw results: $RESULTS"
}
summary | tee "$RUN_DIR/summary.txt"
