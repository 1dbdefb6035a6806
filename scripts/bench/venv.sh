#!/usr/bin/env bash
# scripts/bench/venv.sh [PYTHON]
#
# Times deploykit's virtualenvs and installs against the tools they
# replace, in one run, on the same input: the test wheelhouse (real wheels
# from Debian's python3-* packages: Django, celery, gunicorn, psycopg2,
# lxml, …) and its roots.txt. Two parts:
#
# As a user runs it: the deploykit CLI, built once with go build, as whole
# processes, in a work directory on the machine's disk ($BENCH_DIR, default
# /var/tmp, which is on the disk here: not tmpfs), each round printed:
#   1. `deploykit venv DIR --python PY` against
#      `python -m venv --without-pip DIR` (the interpreter's facts cached
#      by a first run, as for any user after the first command), beside the
#      process-start floors: /bin/true (any process on this machine), a Go
#      program that does nothing (the Go runtime's start) and
#      `deploykit --help` (deploykit's start without work), wall and CPU,
#      and deploykit venv's ratio to each;
#   2. `deploykit venv` + `deploykit install --no-compile --no-index
#      -f WHEELHOUSE ROOTS…` with a warm cache against `cp -al` of the same
#      installed tree (the floor of putting those files there), and pip;
#      the system calls of each (strace -c, when strace is installed);
#   3. cold caches, byte-compiling and not, deploykit and pip, and the
#      ceiling byte-compilation sets on the CPUs at hand: pip's compile
#      CPU-seconds spread over every CPU plus deploykit's cold install
#      without compiling (the goal is deploykit within 1.1x of it).
# In-process (package venv driven by venv/internal/benchcmd, no process
# start): the library's own figures, as the README's earlier rows were
# measured; then peak memory by /usr/bin/time -v.
#
# PYTHON defaults to pyenv's 3.11 (it has pip; the wheelhouse's compiled
# wheels are cp311). The wheelhouse is built by scripts/test.sh (as root).
# ROUNDS_VENV, ROUNDS_WARM and ROUNDS_COLD set the rounds (21, 5, 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)}
wheels=${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}/wheelhouse/wheels
[[ -x $python ]] || { echo "no Python 3.11 with pip found (pass PYTHON)" >&2; exit 1; }
[[ -d $wheels ]] || { echo "wheelhouse $wheels not built (run scripts/test.sh as root once)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/dk-bench-venv.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/deploykit" ./examples/deploykit
go build -o "$work/benchcmd" ./venv/internal/benchcmd
mkdir -p "$work/floor"
printf 'package main\n\nfunc main() {}\n' >"$work/floor/main.go"
(cd "$work/floor" && printf 'module floor\n\ngo 1.22\n' >go.mod && go build -o "$work/nothing" .)

echo "=== as a user runs it: whole deploykit processes on $(df --output=fstype "$work" | tail -1) ==="
"$work/benchcmd" cli -deploykit "$work/deploykit" -python "$python" -wheels "$wheels" -work "$work/cli" -floor "$work/nothing" \
	-venv-rounds "${ROUNDS_VENV:-21}" -warm-rounds "${ROUNDS_WARM:-5}" -cold-rounds "${ROUNDS_COLD:-1}"
rm -rf "$work/cli"

echo
echo "=== in-process (package venv, no process start; the library's figures) ==="
"$work/benchcmd" all -python "$python" -wheels "$wheels" -work "$work/all"

peak() { # peak LABEL COMMAND...
	local log=$work/time.log
	/usr/bin/time -v -o "$log" "${@:2}" >/dev/null
	printf '  %-34s %6d MiB\n' "$1" $(( $(awk -F': ' '/Maximum resident set size/ {print $2}' "$log") / 1024 ))
}
echo
echo "peak memory (max RSS, /usr/bin/time -v):"
all=("$wheels"/*.whl)
peak "deploykit install, cold cache" "$work/benchcmd" install -python "$python" -cache "$work/mem-cache" -venv "$work/mem-v1" "${all[@]}"
peak "deploykit install, warm cache" "$work/benchcmd" install -python "$python" -cache "$work/mem-cache" -venv "$work/mem-v2" "${all[@]}"
"$python" -m venv --without-pip "$work/mem-pip"
reqs=()
for w in "${all[@]}"; do b=$(basename "$w"); reqs+=("$(cut -d- -f1 <<<"$b")==$(cut -d- -f2 <<<"$b")"); done
PIP_FIND_LINKS= peak "pip install" "$python" -m pip --python "$work/mem-pip/bin/python" install -q --disable-pip-version-check \
	--no-index --no-deps --find-links "$wheels" --cache-dir "$work/mem-pipcache" "${reqs[@]}"
echo "  (wheelhouse: $(du -sh "$wheels" | cut -f1) of wheels; deploykit streams members, it never holds a wheel in memory)"
