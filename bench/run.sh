#!/usr/bin/env bash
# Benchmarks AI Hub against its own upstream: the same requests sent straight to the mock upstream ("direct") and
# through the gateway, with auth and metering on. See bench/README.md for what each figure means.
#
#   bash bench/run.sh [--scenario openai|anthropic] [--profile]
#
# --profile runs only the throughput load against a gateway started with --cpu-prof and prints the functions with
# the most self time; its figures are not comparable with a normal run (the profiler costs CPU).
# Tunables (environment): BENCH_CONNECTIONS=64 BENCH_WARMUP_SECONDS=3 BENCH_THROUGHPUT_SECONDS=4 (per round)
#   BENCH_THROUGHPUT_ROUNDS=3 BENCH_PROFILE_SECONDS=10
#   BENCH_LATENCY_RATE=500 BENCH_LATENCY_SECONDS=10 BENCH_STREAM_RATE=100 BENCH_STREAM_SECONDS=10
#   BENCH_STREAM_CHUNKS=20 BENCH_STREAM_CHUNK_DELAY_MS=1 BENCH_GATEWAY_CPU=0 BENCH_LOAD_CPU=1
#   BENCH_BARE_PROXY=1 (0 skips the bare node:http + undici reference proxy) BENCH_KEEP_WORK_DIR=1 (keep logs)
#   BENCH_GATEWAY_NODE_FLAGS="" (extra node flags for the gateway, for diagnostics)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
node_bin="$repo_root/node_modules/.bin/node"

scenario="${BENCH_SCENARIO:-openai}"
profile=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario) scenario="${2:?--scenario needs a value}"; shift 2 ;;
    --scenario=*) scenario="${1#*=}"; shift ;;
    --profile) profile=true; shift ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

connections="${BENCH_CONNECTIONS:-64}"
warmup_seconds="${BENCH_WARMUP_SECONDS:-3}"
throughput_seconds="${BENCH_THROUGHPUT_SECONDS:-4}"
throughput_rounds="${BENCH_THROUGHPUT_ROUNDS:-3}"
latency_rate="${BENCH_LATENCY_RATE:-500}"
latency_seconds="${BENCH_LATENCY_SECONDS:-10}"
stream_rate="${BENCH_STREAM_RATE:-100}"
stream_seconds="${BENCH_STREAM_SECONDS:-10}"
stream_chunks="${BENCH_STREAM_CHUNKS:-20}"
stream_chunk_delay_ms="${BENCH_STREAM_CHUNK_DELAY_MS:-1}"
bare_proxy="${BENCH_BARE_PROXY:-1}"
gateway_cpu="${BENCH_GATEWAY_CPU:-0}"
load_cpu="${BENCH_LOAD_CPU:-1}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "error: $*"; exit 1; }

[[ -x "$node_bin" ]] || fail "$node_bin is missing; run npm install first"
command -v taskset > /dev/null || fail "taskset (util-linux) is required"
if ! command -v wrk > /dev/null; then
  log 'wrk not found; installing the Debian package'
  if [[ "$(id -u)" == 0 ]]; then apt-get install -y wrk > /dev/null; else sudo apt-get install -y wrk > /dev/null; fi
fi

describe() { "$node_bin" bench/describe-scenario.ts "$scenario" "$@"; }
model="$(describe model)" || fail "unknown scenario $scenario"
provider_type="$(describe provider-type)"
provider_base_path="$(describe provider-base-path)"
# Per target (direct, gateway): path, non-streaming body, and extra headers ("name: value" lines).
declare -A request_path request_body request_headers
for target in direct gateway; do
  request_path[$target]="$(describe path "$target")"
  request_body[$target]="$(describe body "$target")"
  request_headers[$target]="$(describe headers "$target")"
done
# Fills the caller's array extra_headers with -H arguments for target $1 (dynamic scope: callers declare it local).
header_args_of() {
  local header
  extra_headers=()
  while IFS= read -r header; do
    if [[ -n "$header" ]]; then extra_headers+=(-H "$header"); fi
  done <<< "${request_headers[$1]}"
}

work_dir="$(mktemp -d -t aihub-bench.XXXXXX)"
results_dir="$repo_root/bench/results"
mkdir -p "$results_dir"
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
stamp="$(date -u -d "$started_at" +%Y%m%dT%H%M%SZ)"
mock_pid=''
gateway_pid=''
bare_proxy_pid=''
bare_proxy_url=''

stop_process() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
}

cleanup() {
  stop_process "$bare_proxy_pid"
  stop_process "$gateway_pid"
  stop_process "$mock_pid"
  if [[ -n "${BENCH_KEEP_WORK_DIR:-}" ]]; then log "work files kept in $work_dir"; else rm -rf "$work_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for a line matching $2 in log file $1 and prints the first http://host:port it contains.
wait_for_url() {
  local file="$1" pattern="$2" pid="$3" name="$4"
  for _ in $(seq 1 300); do
    if grep -q "$pattern" "$file" 2> /dev/null; then
      grep "$pattern" "$file" | head -n 1 | grep -o 'http://[^/ ]*' | head -n 1
      return 0
    fi
    kill -0 "$pid" 2> /dev/null || { cat "$file" >&2; fail "$name exited during start-up"; }
    sleep 0.1
  done
  cat "$file" >&2
  fail "$name did not start within 30 s"
}

# --- start the mock upstream and the gateway on their own cores, on free ports ---
taskset -c "$load_cpu" "$node_bin" mock-upstream/src/main.ts --port 0 \
  --chunks "$stream_chunks" --chunk-delay-ms "$stream_chunk_delay_ms" > "$work_dir/mock.log" 2>&1 &
mock_pid=$!
mock_url="$(wait_for_url "$work_dir/mock.log" 'mock upstream listening on' "$mock_pid" 'mock upstream')"
log "mock upstream at $mock_url (pid $mock_pid, cpu $load_cpu)"

cat > "$work_dir/aihub.yaml" << YAML
providers:
  - id: mock
    type: $provider_type
    base_url: $mock_url$provider_base_path
models:
  - name: $model
    pricing: { input: "2.50", output: "10.00" }
    deployments:
      - provider: mock
        model: $model
YAML

api_key="sk-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# Extra node flags for the gateway, for diagnostics (e.g. "--max-semi-space-size=8"); recorded in the result.
# The flags AI Hub's own launchers use (server/bin/aihub.ts shebang, npm start), then any extra ones.
read -r -a gateway_node_flags <<< "--max-semi-space-size=8 ${BENCH_GATEWAY_NODE_FLAGS:-}"
if [[ "$profile" == true ]]; then
  profile_dir="$results_dir/profile-$stamp"
  gateway_node_flags+=(--cpu-prof "--cpu-prof-dir=$profile_dir")
fi
AIHUB_CONFIG="$work_dir/aihub.yaml" AIHUB_DATA_DIR="$work_dir/data" AIHUB_BOOTSTRAP_KEY="$api_key" AIHUB_PORT=0 \
  taskset -c "$gateway_cpu" "$node_bin" "${gateway_node_flags[@]}" server/bin/aihub.ts serve \
  > "$work_dir/gateway.log" 2>&1 &
gateway_pid=$!
gateway_url="$(wait_for_url "$work_dir/gateway.log" 'AI Hub listening on' "$gateway_pid" 'gateway')"
log "gateway at $gateway_url (pid $gateway_pid, cpu $gateway_cpu)"

smoke_test() {
  local url="$1" target="$2" status extra_headers
  header_args_of "$target"
  status="$(curl -sS -o "$work_dir/smoke.json" -w '%{http_code}' -X POST "$url" \
    -H 'content-type: application/json' -H "authorization: Bearer $api_key" "${extra_headers[@]}" \
    --data "${request_body[$target]}")"
  [[ "$status" == 200 ]] || { cat "$work_dir/smoke.json" >&2; fail "smoke request to $url answered $status"; }
}
smoke_test "$mock_url${request_path[direct]}" direct
smoke_test "$gateway_url${request_path[gateway]}" gateway

# One line per phase: "<phase> <VmRSS kB> <VmHWM kB>", so the report shows where the gateway's memory grew.
snapshot_memory() {
  local rss hwm
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$gateway_pid/status")"
  hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/$gateway_pid/status")"
  echo "$1 $rss $hwm" >> "$work_dir/gateway-memory.txt"
}
snapshot_memory idle

# --- (1) throughput: wrk, closed loop, $connections connections ---
run_wrk() {
  local label="$1" url="$2" target="$3" seconds="$4" extra_headers
  header_args_of "$target"
  BENCH_BODY="${request_body[$target]}" taskset -c "$load_cpu" wrk -t 1 -c "$connections" -d "${seconds}s" \
    --timeout 10s -s bench/chat-completions.lua -H "Authorization: Bearer $api_key" "${extra_headers[@]}" "$url" \
    > "$work_dir/wrk-$label.txt"
  grep '^BENCH_JSON ' "$work_dir/wrk-$label.txt" | sed 's/^BENCH_JSON //' > "$work_dir/throughput-$label.json"
}

# --- CPU accounting: what our processes used, and what everything else took from the same two cores ---
# Busy ticks of one CPU from /proc/stat: user, nice, system, irq, softirq and steal (all but idle and iowait).
core_busy_ticks() { awk -v cpu="cpu$1" '$1 == cpu { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# utime + stime of a process and all its threads; 0 when there is none. Fields counted after the "(comm)" field.
process_ticks() {
  if [[ -n "$1" && -r "/proc/$1/stat" ]]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi
}
# CPU time of this script's finished children: wrk and the fixed-rate generator (cutime + cstime).
children_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }
# One line: gateway-core busy, load-core busy, load generators, gateway, mock, bare proxy (all in clock ticks),
# then the time in nanoseconds. report.ts reads it.
cpu_snapshot() {
  echo "$(core_busy_ticks "$gateway_cpu") $(core_busy_ticks "$load_cpu") $(children_ticks)" \
    "$(process_ticks "$gateway_pid") $(process_ticks "$mock_pid") $(process_ticks "$bare_proxy_pid") $(date +%s%N)"
}

warm_up() {
  local label="$1" url="$2" target="$3"
  log "throughput $label: ${warmup_seconds}s warm-up"
  run_wrk "$label-warmup" "$url" "$target" "$warmup_seconds"
}

# One measured wrk window. The CPU snapshots around it give CPU per request and what other load took.
measure_window() {
  local label="$1" url="$2" target="$3"
  cpu_snapshot > "$work_dir/cpu-$label.txt"
  run_wrk "$label" "$url" "$target" "$throughput_seconds"
  cpu_snapshot >> "$work_dir/cpu-$label.txt"
}

load_average() { cut -d ' ' -f 1-3 /proc/loadavg; }
load_before="$(load_average)"

if [[ "$profile" == true ]]; then
  warm_up gateway "$gateway_url${request_path[gateway]}" gateway
  throughput_seconds="${BENCH_PROFILE_SECONDS:-10}"
  log "throughput gateway: ${throughput_seconds}s measured under the profiler"
  measure_window gateway-1 "$gateway_url${request_path[gateway]}" gateway
  stop_process "$gateway_pid"
  gateway_pid=''
  profile_file="$(ls -t "$profile_dir"/*.cpuprofile | head -n 1)"
  log "profile written to $profile_file"
  "$node_bin" bench/summarize-cpu-profile.ts "$profile_file"
  exit 0
fi

# Reference only: a bare node:http + undici relay on the gateway's core, the floor for any Node gateway. It idles
# while the others are measured. It relays the direct request unchanged, so it is sent what the baseline is sent.
throughput_targets=("direct|$mock_url${request_path[direct]}|direct" "gateway|$gateway_url${request_path[gateway]}|gateway")
if [[ "$bare_proxy" != 0 ]]; then
  taskset -c "$gateway_cpu" "$node_bin" bench/bare-proxy.ts --upstream "$mock_url" > "$work_dir/bare-proxy.log" 2>&1 &
  bare_proxy_pid=$!
  bare_proxy_url="$(wait_for_url "$work_dir/bare-proxy.log" 'bare proxy listening on' "$bare_proxy_pid" 'bare proxy')"
  throughput_targets+=("bare-proxy|$bare_proxy_url${request_path[direct]}|direct")
fi

# Short rounds that alternate the targets, so a machine whose speed drifts (a shared host) drifts for all of them.
for entry in "${throughput_targets[@]}"; do
  IFS='|' read -r label url target <<< "$entry"
  warm_up "$label" "$url" "$target"
done
for round in $(seq 1 "$throughput_rounds"); do
  log "throughput round $round of $throughput_rounds: ${throughput_seconds}s per target, $connections connections"
  for entry in "${throughput_targets[@]}"; do
    IFS='|' read -r label url target <<< "$entry"
    measure_window "$label-$round" "$url" "$target"
  done
done
snapshot_memory after-throughput

# --- (2) added latency at a fixed rate, (3) streaming time to first chunk ---
run_fixed_rate() {
  local label="$1" rate="$2" seconds="$3"
  shift 3
  log "fixed rate $label: $rate req/s, ${seconds}s per target after warm-up, targets alternating"
  cpu_snapshot > "$work_dir/cpu-$label.txt"
  taskset -c "$load_cpu" "$node_bin" bench/fixed-rate-load.ts --scenario "$scenario" --key "$api_key" \
    --direct-url "$mock_url" --gateway-url "$gateway_url" ${bare_proxy_url:+--reference-url "$bare_proxy_url"} \
    --rate "$rate" --seconds "$seconds" "$@" > "$work_dir/$label.json"
  cpu_snapshot >> "$work_dir/cpu-$label.txt"
}
run_fixed_rate latency "$latency_rate" "$latency_seconds"
snapshot_memory after-latency
run_fixed_rate stream "$stream_rate" "$stream_seconds" --stream
# --- (4) peak memory of the gateway: VmHWM after every run ---
snapshot_memory after-stream
stop_process "$bare_proxy_pid"
bare_proxy_pid=
load_after="$(load_average)"

result_file="$results_dir/$stamp.json"
"$node_bin" bench/report.ts --work-dir "$work_dir" --out "$result_file" --scenario "$scenario" \
  --load-before "$load_before" --load-after "$load_after" --gateway-cpu "$gateway_cpu" --load-cpu "$load_cpu" \
  --clock-ticks "$(getconf CLK_TCK)" "--gateway-node-flags=${gateway_node_flags[*]}" --started-at "$started_at" \
  --connections "$connections" --stream-chunks "$stream_chunks" --stream-chunk-delay-ms "$stream_chunk_delay_ms"
log "results written to $result_file"
