#!/usr/bin/env -S node --max-semi-space-size=8
// Launch flags (here, in package.json's start/aihub scripts and in bench/run.sh): a young generation capped at 8 MiB
// per semi-space. A proxy's garbage is short-lived request data; V8's default on a large machine lets the young
// generation grow by ~100 MiB under load for no throughput gain (docs/benchmarks.md).
import { runCli } from '../src/cli/index.ts';

process.exitCode = await runCli(process.argv);
