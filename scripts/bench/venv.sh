#!/usr/bin/env bash
# scripts/bench/venv.sh [PYTHON]
#
# Times deploykit's venv package against the tools it replaces, in one run
# on the same input (package venv, driven by venv/internal/benchcmd):
#   - venv creation: venv.Create vs `python -m venv --without-pip`;
#   - the whole test wheelhouse (real wheels from Debian's python3-*
#     packages: Django, celery, gunicorn, psycopg2, lxml, …) installed into
#     a fresh venv: deploykit with an empty cache (cold) and a filled one
#     (warm) vs `pip install --no-index --no-deps --find-links` with an
#     empty and a filled pip cache; both byte-compile;
#   - a further venv of the same set from the warm cache (wall time);
#   - peak memory of a cold and a warm deploykit install process, and of
#     pip, by /usr/bin/time -v.
# PYTHON defaults to pyenv's 3.11 (it has pip; the wheelhouse's compiled
# wheels are cp311). The wheelhouse is built by scripts/test.sh (as root).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -1)}
wheels=${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}/wheelhouse/wheels
[[ -x $python ]] || { echo "no Python 3.11 with pip found (pass PYTHON)" >&2; exit 1; }
[[ -d $wheels ]] || { echo "wheelhouse $wheels not built (run scripts/test.sh as root once)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/dk-bench-venv.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/benchcmd" ./venv/internal/benchcmd

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
