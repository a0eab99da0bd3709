#!/usr/bin/env bash
# Compares the gateways of two source trees under the same load at the same time: one mock upstream, both gateways
# pinned to the same core, wrk taking turns on them in short windows, and each gateway's CPU time read from /proc
# around every window. Turns that alternate within seconds see the same machine speed, so the CPU-per-request figures
# of the two trees can be compared much more tightly than two separate `run.sh` runs.
#
#   bash bench/side-by-side.sh <tree A> <tree B>      (each a checkout with node_modules, e.g. a git worktree)
#
# Tunables (environment): BENCH_ROUNDS=6 BENCH_WINDOW_SECONDS=4 BENCH_CONNECTIONS=64
#   BENCH_PROFILE_DIR=<dir> (CPU profiles of both gateways, written there as <dir>/a and <dir>/b)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tree_a="$(cd "${1:?usage: side-by-side.sh <tree A> <tree B>}" && pwd)"
tree_b="$(cd "${2:?usage: side-by-side.sh <tree A> <tree B>}" && pwd)"
rounds="${BENCH_ROUNDS:-6}"
window="${BENCH_WINDOW_SECONDS:-4}"
connections="${BENCH_CONNECTIONS:-64}"
node_bin="$repo_root/node_modules/.bin/node"
work_dir="$(mktemp -d -t aihub-side.XXXXXX)"
pids=()

log() { printf '[side-by-side %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  done
  rm -rf "$work_dir"
}
trap cleanup EXIT

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

taskset -c 1 "$node_bin" "$repo_root/mock-upstream/src/main.ts" --port 0 > "$work_dir/mock.log" 2>&1 &
pids+=($!)
mock_url="$(wait_for_url "$work_dir/mock.log" 'mock upstream listening on')"
cat > "$work_dir/aihub.yaml" << YAML
providers: [{ id: mock, type: openai, base_url: $mock_url/v1 }]
models: [{ name: mock-gpt, pricing: { input: "2.50", output: "10.00" }, deployments: [{ provider: mock, model: mock-gpt }] }]
YAML
api_key="sk-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

declare -A url pid
for name in a b; do
  tree="$tree_a"
  [[ "$name" == b ]] && tree="$tree_b"
  (cd "$tree" && AIHUB_CONFIG="$work_dir/aihub.yaml" AIHUB_DATA_DIR="$work_dir/data-$name" \
    AIHUB_BOOTSTRAP_KEY="$api_key" AIHUB_PORT=0 \
    exec taskset -c 0 "$node_bin" --max-semi-space-size=8 \
    ${BENCH_PROFILE_DIR:+--cpu-prof "--cpu-prof-dir=$BENCH_PROFILE_DIR/$name"} server/bin/aihub.ts serve) > "$work_dir/gateway-$name.log" 2>&1 &
  pid[$name]=$!
  pids+=("${pid[$name]}")
  url[$name]="$(wait_for_url "$work_dir/gateway-$name.log" 'AI Hub listening on')"
  log "tree $name ($tree) at ${url[$name]}"
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
body='{"model":"mock-gpt","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
declare -A total_requests total_ticks
for name in a b; do total_requests[$name]=0; total_ticks[$name]=0; done

run_window() {
  local name="$1" before after requests
  before="$(cpu_ticks "${pid[$name]}")"
  BENCH_BODY="$body" taskset -c 1 wrk -t 1 -c "$connections" -d "${window}s" --timeout 10s \
    -s "$repo_root/bench/chat-completions.lua" -H "Authorization: Bearer $api_key" \
    "${url[$name]}/v1/chat/completions" > "$work_dir/wrk.txt"
  after="$(cpu_ticks "${pid[$name]}")"
  requests="$(awk '/requests in/ { print $1 }' "$work_dir/wrk.txt")"
  echo "$requests $((after - before))"
}

# Warm-up: one window each, not counted.
run_window a > /dev/null
run_window b > /dev/null
ticks_per_second="$(getconf CLK_TCK)"
for round in $(seq 1 "$rounds"); do
  order=(a b)
  ((round % 2 == 0)) && order=(b a)
  for name in "${order[@]}"; do
    read -r requests ticks <<< "$(run_window "$name")"
    total_requests[$name]=$((total_requests[$name] + requests))
    total_ticks[$name]=$((total_ticks[$name] + ticks))
    log "round $round tree $name: $requests requests, $((requests / window)) req/s, $ticks CPU ticks"
  done
done

echo "| Tree | Requests | req/s | CPU per request (µs) |"
echo "| --- | ---: | ---: | ---: |"
for name in a b; do
  awk -v n="$name" -v r="${total_requests[$name]}" -v t="${total_ticks[$name]}" -v hz="$ticks_per_second" \
    -v s="$((rounds * window))" 'BEGIN { printf "| %s | %d | %.0f | %.1f |\n", n, r, r / s, t / hz / r * 1e6 }'
done
