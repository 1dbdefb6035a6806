#!/usr/bin/env bash
# scripts/fuzz.sh [DURATION] [PACKAGE-PATTERN]
# Runs every Go fuzz target (func FuzzXxx) in the module for DURATION each
# (default 30s), one after the other. Seed corpora live in each package's
# testdata/fuzz/; new crashers are written there by go test and make the
# script fail. Example: scripts/fuzz.sh 2m ./requirements/...
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-30s}
pat=${2:-./...}
fail=0
for pkg in $(go list "$pat"); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in $targets; do
		printf '== %s %s (%s)\n' "$pkg" "$t" "$dur"
		if ! go test -run '^$' -fuzz "^$t\$" -fuzztime "$dur" "$pkg"; then
			fail=1
		fi
	done
done
exit $fail
