#!/usr/bin/env bash
# What traffic control costs on the hot path: the same gateway under the same load with a key that has no limits and
# a key with every limit on (requests, tokens and concurrency per minute, and a budget), limits set high enough that
# nothing is refused, so both keys do the same work but for the checks. Windows alternate between the keys within
# seconds, so both see the same machine speed; throughput and the gateway's CPU time per request are compared as a
# ratio. A second gateway with REDIS_URL (state in Redis, one round trip to admit and one to settle) is measured the
# same way, in the same run.
#
#   bash bench/traffic.sh
#
# Tunables (environment): BENCH_ROUNDS=6 BENCH_WINDOW_SECONDS=4 BENCH_CONNECTIONS=64
#   BENCH_REDIS_URL=redis://127.0.0.1:6379 (empty: skip the Redis gateway)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
rounds="${BENCH_ROUNDS:-6}"
window="${BENCH_WINDOW_SECONDS:-4}"
connections="${BENCH_CONNECTIONS:-64}"
redis_url="${BENCH_REDIS_URL-redis://127.0.0.1:6379}"
node_bin="$repo_root/node_modules/.bin/node"
work_dir="$(mktemp -d -t aihub-traffic.XXXXXX)"
pids=()

log() { printf '[traffic %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT

command -v wrk > /dev/null || { log 'wrk not found: apt-get install wrk'; exit 1; }

wait_for_url() {
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2> /dev/null; then
      grep "$2" "$1" | head -n 1 | grep -o 'http://[^/ ]*' | head -n 1
      return 0
    fi
    sleep 0.1
  done
  cat "$1" >&2
  exit 1
}

taskset -c 1 "$node_bin" mock-upstream/src/main.ts --port 0 > "$work_dir/mock.log" 2>&1 &
pids+=($!)
mock_url="$(wait_for_url "$work_dir/mock.log" 'mock upstream listening on')"
cat > "$work_dir/aihub.yaml" << YAML
providers: [{ id: mock, type: openai, base_url: $mock_url/v1 }]
models: [{ name: mock-gpt, pricing: { input: "2.50", output: "10.00" }, deployments: [{ provider: mock, model: mock-gpt }] }]
YAML
api_key="sk-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

gateways=(embedded)
[[ -n "$redis_url" ]] && gateways+=(redis)
declare -A url pid limited_key
for gateway in "${gateways[@]}"; do
  data_dir="$work_dir/data-$gateway"
  environment=(AIHUB_CONFIG="$work_dir/aihub.yaml" AIHUB_DATA_DIR="$data_dir" AIHUB_BOOTSTRAP_KEY="$api_key" AIHUB_PORT=0)
  [[ "$gateway" == redis ]] && environment+=(REDIS_URL="$redis_url")
  env "${environment[@]}" taskset -c 0 "$node_bin" --max-semi-space-size=8 server/bin/aihub.ts serve \
    > "$work_dir/gateway-$gateway.log" 2>&1 &
  pid[$gateway]=$!
  pids+=("${pid[$gateway]}")
  url[$gateway]="$(wait_for_url "$work_dir/gateway-$gateway.log" 'AI Hub listening on')"
  # Every limit on, far above what the load reaches: the checks run, nothing is refused.
  limited_key[$gateway]="$(env "${environment[@]}" "$node_bin" server/bin/aihub.ts keys create --name limited \
    --rpm 2000000000 --tpm 2000000000 --concurrency 100000 --budget-micros 9000000000000000 --budget-period month |
    sed -n 's/^secret (shown once, store it now): //p')"
  log "$gateway gateway at ${url[$gateway]}"
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
body='{"model":"mock-gpt","max_tokens":64,"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
declare -A total_requests total_ticks total_errors

run_window() {
  local gateway="$1" key="$2" before after requests errors
  before="$(cpu_ticks "${pid[$gateway]}")"
  BENCH_BODY="$body" taskset -c 1 wrk -t 1 -c "$connections" -d "${window}s" --timeout 10s \
    -s bench/chat-completions.lua -H "Authorization: Bearer $key" \
    "${url[$gateway]}/v1/chat/completions" > "$work_dir/wrk.txt"
  after="$(cpu_ticks "${pid[$gateway]}")"
  requests="$(sed -n 's/^BENCH_JSON //p' "$work_dir/wrk.txt" | grep -o '"requests":[0-9]*' | cut -d: -f2)"
  errors="$(sed -n 's/^BENCH_JSON //p' "$work_dir/wrk.txt" | grep -o '"status":[0-9]*' | cut -d: -f2)"
  echo "$requests $((after - before)) $errors"
}

variants=()
for gateway in "${gateways[@]}"; do variants+=("$gateway:off" "$gateway:on"); done
key_for() { if [[ "${1#*:}" == on ]]; then echo "${limited_key[${1%%:*}]}"; else echo "$api_key"; fi; }
for variant in "${variants[@]}"; do
  total_requests[$variant]=0
  total_ticks[$variant]=0
  total_errors[$variant]=0
  run_window "${variant%%:*}" "$(key_for "$variant")" > /dev/null # warm-up
done
for round in $(seq 1 "$rounds"); do
  order=("${variants[@]}")
  # Alternate the order, so neither key always runs first after the other.
  if ((round % 2 == 0)); then
    order=()
    for ((index = ${#variants[@]} - 1; index >= 0; index--)); do order+=("${variants[$index]}"); done
  fi
  for variant in "${order[@]}"; do
    read -r requests ticks errors <<< "$(run_window "${variant%%:*}" "$(key_for "$variant")")"
    total_requests[$variant]=$((total_requests[$variant] + requests))
    total_ticks[$variant]=$((total_ticks[$variant] + ticks))
    total_errors[$variant]=$((total_errors[$variant] + errors))
    log "round $round $variant: $((requests / window)) req/s, $ticks CPU ticks, $errors non-2xx"
  done
done

ticks_per_second="$(getconf CLK_TCK)"
echo "| State | Limits | req/s | CPU per request (µs) | non-2xx | throughput vs limits off |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for gateway in "${gateways[@]}"; do
  for limits in off on; do
    variant="$gateway:$limits"
    awk -v g="$gateway" -v l="$limits" -v r="${total_requests[$variant]}" -v t="${total_ticks[$variant]}" \
      -v base="${total_requests[$gateway:off]}" -v e="${total_errors[$variant]}" -v hz="$ticks_per_second" \
      -v s="$((rounds * window))" \
      'BEGIN { printf "| %s | %s | %.0f | %.1f | %d | %.3f |\n", g, l, r / s, t / hz / r * 1e6, e, r / base }'
  done
done
