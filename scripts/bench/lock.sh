#!/usr/bin/env bash
# scripts/bench/lock.sh [ROUNDS]
#
# Times `deploykit lock ROOTS…` as a user runs it — the deploykit binary,
# built once, one whole process per round — against pip's resolver
# (`pip install --dry-run --ignore-installed --report`) on the same input:
# every top-level application of the test wheelhouse (roots.txt), from
# the wheelhouse's PEP 503 index (with PEP 658 metadata and sha256s)
# served on 127.0.0.1 the way a remote index behaves: keep-alive, and
# DELAY (default 20ms) before every response (internal/indextest).
#
# Caches are cold on both sides every round: deploykit gets a fresh
# --cache-dir (and XDG_CACHE_HOME), pip --no-cache-dir. deploykit runs
# twice per round: all cold, so it also runs the interpreter to learn its
# facts ("cold"), and with only those facts cached, as in every run after
# a user's first ("cold index"). The caches are removed at the end, not
# between rounds (on ext4, creating files just after deleting many scans
# for recently freed inodes). The tools take turns for ROUNDS rounds
# (default 3). Printed: every round's times, requests by kind, the most
# and the mean requests in flight; the medians and their ratio; and the
# latency floor of the dependency graph: depth × 2 round trips (a page,
# then a metadata file, per level) × DELAY, where depth is the number of
# levels of the lock's dependency graph below the roots (shortest paths).
# The in-process resolve (benchcmd, no process start, no interpreter
# probe, no lock written) is printed too, labelled as such.
#
# Needs Go, curl, the wheelhouse (scripts/test.sh builds it) and a CPython
# 3.11 with pip (pyenv's 3.11.x, or PYTHON=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
delay=${DELAY:-20ms}
wh=${DEPLOYKIT_TEST_WHEELHOUSE:-${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}/wheelhouse}
[[ -f $wh/done ]] || { echo "wheelhouse not built at $wh (run scripts/test.sh)" >&2; exit 1; }
py=${PYTHON:-$(ls -d "$HOME"/.pyenv/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)}
[[ -x $py ]] && "$py" -m pip --version >/dev/null 2>&1 || { echo "need a Python 3.11 with pip (set PYTHON)" >&2; exit 1; }

work=$(mktemp -d /tmp/dk-bench-lock.XXXXXX)
server=
cleanup() {
	[[ -n $server ]] && kill "$server" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/deploykit" ./examples/deploykit
go build -o "$work/benchcmd" ./requirements/resolve/internal/benchcmd
"$work/benchcmd" serve -delay "$delay" "$wh/index" >"$work/url" &
server=$!
for _ in $(seq 50); do [[ -s $work/url ]] && break; sleep 0.1; done
base=$(cat "$work/url")
url=$base/simple/
mapfile -t roots < <(grep -v '^\s*$' "$wh/wheels/roots.txt")
echo "== locking ${#roots[@]} roots from $url (delay $delay per response) for $py, $rounds rounds"

# counts prints the server's counts since the last call as
# "requests pages metadata wheels max_in_flight busy_seconds", then resets.
counts() {
	curl -fsS "$base/-/counts" | "$py" -c 'import json,sys; c=json.load(sys.stdin); print(c["pages"]+c["metadata"]+c["wheels"]+c["sdists"]+c["other"], c["pages"], c["metadata"], c["wheels"], c["max_in_flight"], c["busy_ns"]/1e9)'
	curl -fsS -X POST "$base/-/reset"
}
# timed FILE CMD… runs CMD and writes "wall user sys" to FILE.
timed() {
	local out=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$out" "$@"
}
report() { # NAME WALL USER SYS COUNTS…
	local name=$1 wall=$2 user=$3 sys=$4 n=$5 pages=$6 meta=$7 wheels=$8 maxin=$9 busy=${10}
	printf '  %-11s %7.3f s (%.2f CPU-s)  %3d requests: %3d pages %3d metadata %3d wheels; in flight: max %2d, mean %4.1f\n' \
		"$name" "$wall" "$(awk -v a="$user" -v b="$sys" 'BEGIN {print a + b}')" "$n" "$pages" "$meta" "$wheels" "$maxin" \
		"$(awk -v a="$busy" -v b="$wall" 'BEGIN {print a / b}')"
}

# lock NAME CACHE: one deploykit lock with that --cache-dir.
lock() {
	local name=$1 cache=$2 wall user sys
	mkdir -p "$cache" "$cache.xdg"
	XDG_CACHE_HOME="$cache.xdg" timed "$work/dk.time" "$work/deploykit" --root "$work/root" lock --python "$py" \
		-i "$url" --cache-dir "$cache" -o "$cache.toml" "${roots[@]}" >/dev/null 2>"$work/dk.err" ||
		{ cat "$work/dk.err" >&2; exit 1; }
	read -r wall user sys <"$work/dk.time"
	report "$name" "$wall" "$user" "$sys" $(counts)
	echo "$wall" >>"$work/$name.times"
}

counts >/dev/null
pip_times=()
for i in $(seq "$rounds"); do
	echo "round $i"
	lock cold "$work/cold-$i"
	mkdir -p "$work/index-$i"
	cp -r "$work/cold-1/interpreters" "$work/index-$i/"
	lock "cold index" "$work/index-$i"

	PIP_CONFIG_FILE=/dev/null timed "$work/pip.time" "$py" -m pip install --dry-run --ignore-installed --quiet \
		--disable-pip-version-check --no-cache-dir --report "$work/report.json" -i "$url" "${roots[@]}" >/dev/null 2>"$work/pip.err" ||
		{ cat "$work/pip.err" >&2; exit 1; }
	read -r wall user sys <"$work/pip.time"
	report pip "$wall" "$user" "$sys" $(counts)
	pip_times+=("$wall")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cold_med=$(median $(cat "$work/cold.times"))
index_med=$(median $(cat "$work/cold index.times"))
pip_med=$(median "${pip_times[@]}")
pip_n=$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["install"]))' "$work/report.json")
# The lock's dependency graph: levels below the roots, by shortest path.
read -r dk_n depth < <("$py" - "$work/cold-1.toml" "${roots[@]}" <<'EOF'
import re, sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
deps = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in lock["packages"]}
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
level = {norm(r): 1 for r in sys.argv[2:] if norm(r) in deps}
todo = list(level)
while todo:
    more = []
    for n in todo:
        for d in deps[n]:
            if d not in level:
                level[d] = level[n] + 1
                more.append(d)
    todo = more
print(len(deps), max(level.values()))
EOF
)
delay_s=$("$py" -c 'import sys; s=sys.argv[1]; print(float(s[:-2]) / 1000 if s.endswith("ms") else float(s.rstrip("s")))' "$delay")
floor=$(awk -v d="$depth" -v s="$delay_s" 'BEGIN {print d * 2 * s}')
read -r inproc inproc_n < <("$work/benchcmd" resolve -index "$url" -python "$py" -n "$rounds" "${roots[@]}")

echo "== medians of $rounds rounds"
printf 'deploykit lock, whole process, cold                   %7.3f s  %d packages\n' "$cold_med" "$dk_n"
printf 'deploykit lock, whole process, cold index (facts kept) %6.3f s\n' "$index_med"
printf 'pip install --dry-run --report, cold                  %7.3f s  %d packages\n' "$pip_med" "$pip_n"
printf 'ratio: %.1fx faster than pip cold, %.1fx with the interpreter facts kept\n' \
	"$(awk -v a="$pip_med" -v b="$cold_med" 'BEGIN {print a / b}')" "$(awk -v a="$pip_med" -v b="$index_med" 'BEGIN {print a / b}')"
printf 'latency floor: depth %d x 2 round trips x %s = %.3f s; deploykit lock is %.2fx the floor cold, %.2fx with the facts kept\n' \
	"$depth" "$delay" "$floor" "$(awk -v a="$cold_med" -v b="$floor" 'BEGIN {print a / b}')" "$(awk -v a="$index_med" -v b="$floor" 'BEGIN {print a / b}')"
printf 'in-process resolve (benchcmd: no process start, no interpreter probe, no lock written): %.3f s, %.2fx the floor\n' \
	"$inproc" "$(awk -v a="$inproc" -v b="$floor" 'BEGIN {print a / b}')"
[[ $pip_n == "$dk_n" && $inproc_n == "$dk_n" ]] || echo "WARNING: package counts differ (deploykit $dk_n, in-process $inproc_n, pip $pip_n)" >&2
