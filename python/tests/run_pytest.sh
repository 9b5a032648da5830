#!/usr/bin/env bash
# The package's tests, with pytest, from the test's own temporary directory.
set -euo pipefail
here="${TEST_SRCDIR}/${TEST_WORKSPACE}/python/tests"
cd "${TEST_TMPDIR}"
exec "${here}/run_python.sh" -m pytest -q -p no:cacheprovider "${here}" "$@"
