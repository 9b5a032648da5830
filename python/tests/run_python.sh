#!/usr/bin/env bash
# Runs Debian's Python 3.11 (the interpreter the extension is built for) on
# the package in the runfiles: run_python.sh ARGS... as `python3 ARGS...`.
set -euo pipefail
package="${TEST_SRCDIR}/${TEST_WORKSPACE}/python"
export PYTHONPATH="${package}:${package}/tests"
# A sanitizer build of the extension needs its runtime loaded first, into an
# interpreter that was not built with it; the interpreter's own allocations
# are not ours to report, so leak checking is off for this process.
# ASan's runtime must come first when the extension has ASan and UBSan both.
# libstdc++ comes with it: ASan finds the real __cxa_throw when it starts,
# and the interpreter does not load libstdc++ itself, so without it the
# first C++ exception (pybind11's, for a Python exception) aborts.
runtime=$(ldd "${package}/tftpd/_core.so" |
  awk '/lib(a|t|ub)san\.so/ {print $3}' | sort | head -1)
if [ -n "${runtime}" ]; then
  cxx=$(ldd "${package}/tftpd/_core.so" | awk '/libstdc\+\+\.so/ {print $3}')
  export LD_PRELOAD="${runtime}${cxx:+ ${cxx}}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
fi
exec /usr/bin/python3 "$@"
