#!/usr/bin/env bash
# Runs a benchmark binary for a moment: every benchmark must run and report.
# A benchmark may skip itself only because the kernel lacks a feature (its
# message starts with "unavailable:"); that is reported, not failed.
set -euo pipefail
out=$("$1" --benchmark_min_time=0.01 --benchmark_format=json)
runs=$(grep -c '"run_name"' <<<"$out" || true)
unavailable=$(grep -c '"error_message": "unavailable:' <<<"$out" || true)
errors=$(grep -c '"error_occurred": true' <<<"$out" || true)
echo "$runs benchmark runs, $errors with errors ($unavailable for a kernel feature this machine lacks)"
[ "$runs" -gt 0 ] && [ "$errors" -eq "$unavailable" ]
