#!/usr/bin/env bash
# scripts/suite-runs.sh — the whole suite as CI runs it (.ci/run, CI=true),
# several times in a row, each time in a fresh clone of this checkout's HEAD
# with Go's test cache cleared; prints each run's wall time, result and
# failing tests, and keeps every run's output.
#
#   scripts/suite-runs.sh                 # 3 runs
#   scripts/suite-runs.sh 5               # 5 runs
#   scripts/suite-runs.sh --first-run     # 1 run as on a new machine (below)
#   scripts/suite-runs.sh --first-run 3   # that, then 2 more with what it built
#
# Run it as root (CI does), on a quiet machine: it measures.
#
# --first-run starts the first run from nothing deploykit's tests made:
# a new test cache directory (the wheelhouse and the nspawn root file systems
# are built again; the shared /var/tmp/deploykit-test is left alone), a new
# Go build cache and a new module cache. What it cannot undo is apt: packages
# already installed stay installed (scripts/first-run-parts.sh times apt in a
# throwaway container instead). The later runs reuse what the first built,
# as a second CI run on the same machine does.
#
# Output goes to $SUITE_RUNS_DIR (default a new directory under /var/tmp):
# runN.log per run, and summary.txt.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
first=false
if [[ ${1:-} == --first-run ]]; then
	first=true
	shift
fi
n=${1:-3}
$first && [[ $# -eq 0 ]] && n=1
out=${SUITE_RUNS_DIR:-$(mktemp -d /var/tmp/deploykit-suite-runs.XXXXXX)}
mkdir -p "$out"
chmod 755 "$out"
# The clones are under /var/tmp, not /tmp: the systemd container tests bind
# the built binary into containers whose units have a private /tmp.
export DEPLOYKIT_SHARED=${DEPLOYKIT_SHARED:-$src/../shared}
if $first; then
	export DEPLOYKIT_TEST_CACHE=$out/test-cache
	export GOCACHE=$out/go-build GOMODCACHE=$out/go-mod
	mkdir -p "$DEPLOYKIT_TEST_CACHE"
fi
commit=$(git -C "$src" rev-parse --short HEAD)
{
	echo "deploykit suite runs: $n, commit $commit, $(nproc) CPUs, $(date -u +%FT%TZ)"
	echo "test cache: ${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}; first run from nothing: $first"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/summary.txt"
failed=0
for i in $(seq "$n"); do
	clone=$out/clone$i
	rm -rf "$clone"
	git clone -q --no-hardlinks "$src" "$clone"
	git -C "$clone" checkout -q "$commit"
	go clean -testcache
	start=$(date +%s.%N)
	if (cd "$clone" && CI=true ./.ci/run) >"$out/run$i.log" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a + 0.5 }')
	fails=$(grep -E '^(--- FAIL|FAIL|panic:)' "$out/run$i.log" | grep -v '^FAIL$' | sort -u | tr '\n' ' ' || true)
	printf 'run %d: %s %dm%02ds (%d s), load average after %s %s\n' "$i" "$result" \
		$((secs / 60)) $((secs % 60)) "$secs" "$(cut -d' ' -f1 /proc/loadavg)" "$fails" | tee -a "$out/summary.txt"
	rm -rf "$clone"
done
echo "$((n - failed)) of $n runs passed; logs in $out" | tee -a "$out/summary.txt"
[[ $failed == 0 ]]
