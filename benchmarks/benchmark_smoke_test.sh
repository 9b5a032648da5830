#!/usr/bin/env bash
# Runs a benchmark binary for a moment: every benchmark must run and report.
set -euo pipefail
out=$("$1" --benchmark_min_time=0.01 --benchmark_format=json)
runs=$(grep -c '"run_name"' <<<"$out" || true)
errors=$(grep -c '"error_occurred": true' <<<"$out" || true)
echo "$runs benchmark runs, $errors with errors"
[ "$runs" -gt 0 ] && [ "$errors" -eq 0 ]
