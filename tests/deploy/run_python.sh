#!/usr/bin/env bash
# Runs a Python test script with Debian's python3 from the runfiles root.
exec python3 "$@"
