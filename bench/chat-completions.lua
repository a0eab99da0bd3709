-- wrk script: POSTs the scenario's body (run.sh exports BENCH_BODY) and, when done, prints one line of JSON
-- prefixed with "BENCH_JSON " so run.sh can pick the figures out of wrk's human-readable report.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
