#!/usr/bin/env bash
# scripts/bench/resolve.sh [RUNS]
#
# Times deploykit's resolver (requirements/resolve over requirements/index,
# driven by requirements/resolve/internal/benchcmd) against pip's resolver
# (pip install --dry-run --ignore-installed --report) on the same input:
# every top-level application of the test wheelhouse (roots.txt, ~36 roots,
# 100 packages resolved), served as a PEP 503 index on 127.0.0.1.
#
#   cold: empty caches on both sides (deploykit: fresh cache dir per run;
#         pip: --no-cache-dir), so every page and metadata file is fetched.
#   warm: deploykit with its cache filled by a previous run (pages
#         revalidated with If-Modified-Since, metadata files from disk),
#         against pip's cold time (pip has no metadata cache of its own for
#         a resolve: it re-reads pages and downloads metadata every time).
#
# Prints the median of RUNS (default 5) for each and the ratios.
# Needs Go, the wheelhouse (scripts/test.sh builds it) and a CPython 3.11
# with pip (pyenv's 3.11.x, or PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
wh=${DEPLOYKIT_TEST_WHEELHOUSE:-${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}/wheelhouse}
[[ -f $wh/done ]] || { echo "wheelhouse not built at $wh (run scripts/test.sh)" >&2; exit 1; }
py=${PYTHON:-$(ls -d "$HOME"/.pyenv/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)}
[[ -x $py ]] && "$py" -m pip --version >/dev/null 2>&1 || { echo "need a Python 3.11 with pip (set PYTHON)" >&2; exit 1; }

work=$(mktemp -d /tmp/dk-bench-resolve.XXXXXX)
server=
cleanup() {
	[[ -n $server ]] && kill "$server" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/benchcmd" ./requirements/resolve/internal/benchcmd
"$work/benchcmd" serve -delay "${DELAY:-0}" "$wh/index" >"$work/url" &
server=$!
for _ in $(seq 50); do [[ -s $work/url ]] && break; sleep 0.1; done
url=$(cat "$work/url")/simple/
mapfile -t roots < <(grep -v '^\s*$' "$wh/wheels/roots.txt")
echo "== resolving ${#roots[@]} roots from $url for $py"

pip_times=()
for i in $(seq "$runs"); do
	s=$(date +%s.%N)
	PIP_CONFIG_FILE=/dev/null "$py" -m pip install --dry-run --ignore-installed --quiet \
		--disable-pip-version-check --no-cache-dir --report "$work/report.json" -i "$url" "${roots[@]}" >/dev/null 2>"$work/pip.err" || { cat "$work/pip.err" >&2; exit 1; }
	e=$(date +%s.%N)
	pip_times+=("$(awk -v a="$s" -v b="$e" 'BEGIN {print b - a}')")
done
pip_n=$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["install"]))' "$work/report.json")
pip_med=$(printf '%s\n' "${pip_times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

read -r cold cold_n < <("$work/benchcmd" resolve -index "$url" -python "$py" -n "$runs" "${roots[@]}")
read -r warm warm_n < <("$work/benchcmd" resolve -index "$url" -python "$py" -n "$runs" -warm "${roots[@]}")

printf 'pip --dry-run (cold)  %8.3f s  %d packages\n' "$pip_med" "$pip_n"
printf 'deploykit cold        %8.3f s  %d packages\n' "$cold" "$cold_n"
printf 'deploykit warm        %8.3f s  %d packages\n' "$warm" "$warm_n"
printf 'ratio cold: %.1fx faster than pip\n' "$(awk -v a="$pip_med" -v b="$cold" 'BEGIN {print a / b}')"
printf 'ratio warm: %.1fx faster than pip\n' "$(awk -v a="$pip_med" -v b="$warm" 'BEGIN {print a / b}')"
[[ $pip_n == "$cold_n" ]] || echo "WARNING: package counts differ" >&2
