#!/usr/bin/env bash
# The database-outage drill at full length: PostgreSQL cut for 30 s (by reset, then by black hole) under warm-key
# gateway load, through the fault-injecting TCP proxy of the reliability suite. CI runs the same test with a 5 s cut;
# this prints the figures quoted in docs/reliability.md ("[database reset 30s] …" and "[database blackhole 30s] …").
#
#   bash bench/database-cut.sh [seconds]     (default 30; needs PostgreSQL as for the test suite)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
AIHUB_DB_CUT_SECONDS="${1:-30}" npx vitest run server/test/reliability/database-cut.test.ts
