#!/usr/bin/env bash
# scripts/bench/pep440.sh [PYTHON]
# Sorts the same 100,000 real-world version strings with deploykit's
# requirements/pep440 (parse + sort) and with Python's
# sorted(strings, key=Version) (parse + sort), best of 5 runs each, checks
# that both orders agree, and prints the speed ratio. Both sides run on
# one thread (sortbench sets GOMAXPROCS=1), so the comparison is fair and
# a busy machine disturbs it less.
# The strings: every version in ../shared/conformance, every wheel version
# in the test wheelhouse, and generated patterns seen on PyPI (semver,
# calendar versions, rc/dev/post releases, torch-style +cu121 locals,
# epochs, 20+ digit segments) — sampled up to 100,000.
# PYTHON defaults to the newest pyenv interpreter; it uses the standalone
# `packaging` when importable, else pip's vendored copy
# (pip._vendor.packaging), and prints which version ran.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
shared=${DEPLOYKIT_SHARED:-$root/../shared}
py=${1:-}
if [ -z "$py" ]; then
	py=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
	[ -n "$py" ] || py=python3
fi
wheelhouse=${DEPLOYKIT_TEST_WHEELHOUSE:-${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}/wheelhouse}/wheels
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$py" - "$shared/conformance" "$wheelhouse" "$tmp/versions.txt" <<'PYEOF'
import json, os, random, sys
conf, wheelhouse, out = sys.argv[1:4]
random.seed(440)
real = []
def add_json(path, pick):
    try:
        with open(path) as f:
            real.extend(pick(json.load(f)))
    except OSError:
        pass
add_json(os.path.join(conf, "versions.json"), lambda d: [c["input"] for c in d["valid"]])
add_json(os.path.join(conf, "version_order.json"), lambda d: d["ascending"] + d["ascending_generated"])
add_json(os.path.join(wheelhouse, "manifest.json"), lambda d: [w["version"] for w in d["wheels"]])
def gen():
    r = random.random
    ri = random.randint
    kind = r()
    if kind < 0.45:
        v = "%d.%d.%d" % (ri(0, 30), ri(0, 40), ri(0, 60))
    elif kind < 0.6:
        v = "%d.%d" % (ri(0, 12), ri(0, 99))
    elif kind < 0.7:
        v = "%d.%d.%d" % (ri(2015, 2026), ri(1, 12), ri(0, 31))
    elif kind < 0.75:
        v = "%d" % ri(0, 300)
    elif kind < 0.8:
        v = ".".join(str(ri(0, 9)) for _ in range(ri(4, 6)))
    else:
        v = "%d.%d.%d" % (ri(0, 5), ri(0, 30), ri(0, 20))
    s = r()
    if s < 0.08:
        v += random.choice(["a", "b", "rc"]) + str(ri(0, 5))
    elif s < 0.11:
        v += ".dev%d" % ri(0, 20)
    elif s < 0.14:
        v += ".post%d" % ri(1, 4)
    elif s < 0.16:
        v += "rc%d.dev%d" % (ri(1, 3), ri(0, 3))
    elif s < 0.18:
        v += "+" + random.choice(["cu118", "cu121", "cpu", "rocm5.6", "ubuntu1", "deb12u1", "g%07x" % ri(0, 16**7)])
    elif s < 0.185:
        v = "1!" + v
    elif s < 0.19:
        v += "." + str(ri(10**20, 10**30))
    return v
# Real-world strings have no whitespace (the vectors test some).
vs = [v for v in real if v and not any(c.isspace() for c in v)]
while len(vs) < 100000:
    vs.append(gen())
random.shuffle(vs)
vs = vs[:100000]
with open(out, "w") as f:
    f.write("\n".join(vs) + "\n")
PYEOF

go build -o "$tmp/sortbench" ./requirements/pep440/internal/sortbench
read -r go_s go_cpu < <("$tmp/sortbench" -runs 5 -check "$tmp/go-sorted.txt" "$tmp/versions.txt")

py_out=$("$py" - "$tmp/versions.txt" "$tmp/py-sorted.txt" <<'PYEOF'
import sys, time
try:
    import packaging
    from packaging.version import Version
    label = "packaging %s" % packaging.__version__
except ImportError:
    from pip._vendor import packaging
    from pip._vendor.packaging.version import Version
    label = "pip._vendor.packaging %s" % packaging.__version__
with open(sys.argv[1]) as f:
    vs = f.read().split("\n")[:-1]
best = best_cpu = None
for _ in range(5):
    t, c = time.perf_counter(), time.process_time()
    out = sorted(vs, key=Version)
    d, dc = time.perf_counter() - t, time.process_time() - c
    best = d if best is None else min(best, d)
    best_cpu = dc if best_cpu is None else min(best_cpu, dc)
with open(sys.argv[2], "w") as f:
    f.write("\n".join(str(Version(v)) for v in out) + "\n")
print("%.6f %.6f %s (Python %d.%d.%d)" % ((best, best_cpu, label) + tuple(sys.version_info[:3])))
PYEOF
)
read -r py_s py_cpu py_label <<<"$py_out"
if ! cmp -s "$tmp/go-sorted.txt" "$tmp/py-sorted.txt"; then
	echo "orders differ between deploykit and Python:" >&2
	diff "$tmp/go-sorted.txt" "$tmp/py-sorted.txt" | head -20 >&2
	exit 1
fi
n=$(wc -l <"$tmp/versions.txt")
echo "versions:   $n (same order from both)"
echo "deploykit:  ${go_s}s wall, ${go_cpu}s CPU  (requirements/pep440 Parse + pep440.Sort, one thread, best of 5)"
echo "python:     ${py_s}s wall, ${py_cpu}s CPU  (sorted(..., key=Version), $py_label, best of 5)"
awk -v g="$go_s" -v p="$py_s" -v gc="$go_cpu" -v pc="$py_cpu" 'BEGIN { printf "ratio:      %.1fx faster (wall time; %.1fx by CPU time)\n", p / g, pc / gc }'
