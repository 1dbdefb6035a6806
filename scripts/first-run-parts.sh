#!/usr/bin/env bash
# scripts/first-run-parts.sh — times, one by one, what the first
# `./scripts/test.sh` on a new machine does before and around the tests:
#
#   apt         apt-get update and the packages test.sh's `need` list names,
#               then make-wheelhouse's Debian python3-* set, installed in a
#               throwaway systemd-nspawn container of the test root file
#               system (volatile: nothing stays), so that what this host has
#               installed already does not hide the time;
#   wheelhouse  make-wheelhouse building the wheels and the index into a new
#               directory (its packages installed: the apt part is above);
#   rootfs      the nspawn root file system the tests boot, debootstrapped
#               into a new test cache directory by the harness itself
#               (EnsureRootfs, through internal/nspawn's boot test: the time
#               includes compiling that test and one boot, a few seconds).
#
# Run as root on a quiet machine; it needs the network (the Debian mirror)
# and, for apt, a finished root file system (the tests' own, or one this
# script builds first). It prints one line per part and their sum.
#
#   scripts/first-run-parts.sh [apt] [wheelhouse] [rootfs]   # default: all three
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
shared=${DEPLOYKIT_SHARED:-$src/../shared}
parts=("$@")
((${#parts[@]})) || parts=(rootfs wheelhouse apt)
work=$(mktemp -d /var/tmp/deploykit-first-run.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
declare -A took

clock() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(clock)" 'BEGIN { printf "%.1f", b - a }'; }

# Each container gets control groups of its own (as internal/nspawn's do):
# nspawn started from a shared group would share its "payload" group with
# every other container started from there.
in_own_cgroup() {
	local name=deploykit-first-run-$$ dirs=() id ctrl path m
	while IFS=: read -r id ctrl path; do
		case $ctrl in
		"") m=$(findmnt -n -t cgroup2 -o TARGET | head -1) ;;
		name=systemd) m=$(findmnt -n -t cgroup -O name=systemd -o TARGET | head -1) ;;
		*) continue ;;
		esac
		[[ -n $m ]] && dirs+=("$m${path%/}/$name")
	done </proc/self/cgroup
	local rc=0
	(
		for d in "${dirs[@]}"; do
			mkdir -p "$d" && echo $BASHPID >"$d/cgroup.procs"
		done
		exec "$@"
	) || rc=$?
	for d in "${dirs[@]}"; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	return $rc
}

rootfs_dir() { # the harness's DefaultRootfs under DEPLOYKIT_TEST_CACHE=$1
	(cd "$src" && DEPLOYKIT_TEST_CACHE=$1 go run ./scripts/internal/rootfsdir)
}

for p in "${parts[@]}"; do
	case $p in
	rootfs)
		cache=$work/test-cache
		mkdir -p "$cache"
		start=$(clock)
		(cd "$src" && CI=true DEPLOYKIT_TEST_CACHE=$cache go test -count=1 -timeout 40m -run 'TestBootExecPoweroff$' ./internal/nspawn/ >"$work/rootfs.log" 2>&1) ||
			{ cat "$work/rootfs.log" >&2; exit 1; }
		took[rootfs]=$(since "$start")
		;;
	wheelhouse)
		start=$(clock)
		"$shared/tools/make-wheelhouse" -q --index "$work/wheelhouse/index" "$work/wheelhouse/wheels" >"$work/wheelhouse.log" 2>&1 ||
			{ cat "$work/wheelhouse.log" >&2; exit 1; }
		took[wheelhouse]=$(since "$start")
		;;
	apt)
		rootfs=$(rootfs_dir "${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}")
		[[ -f $rootfs/.deploykit-rootfs ]] || rootfs=$(rootfs_dir "$work/test-cache")
		[[ -f $rootfs/.deploykit-rootfs ]] || { echo "first-run-parts: no root file system for apt (run the rootfs part first)" >&2; exit 1; }
		pkgs=$(sed -n 's/^need [^ ]* \([a-z0-9.+-]*\).*/\1/p' "$src/scripts/test.sh" | tr '\n' ' ')
		start=$(clock)
		in_own_cgroup systemd-nspawn --quiet --volatile=overlay --register=no --keep-unit --as-pid2 \
			--machine="dk-apt-$$" -D "$rootfs" --bind-ro="$shared/tools:/opt/tools" \
			--setenv=DEBIAN_FRONTEND=noninteractive -- /bin/sh -c '
				set -e
				t0=$(date +%s.%N)
				apt-get update -qq
				apt-get install -y -qq --no-install-recommends '"$pkgs"' >/dev/null
				t1=$(date +%s.%N)
				/opt/tools/make-wheelhouse -q --install /tmp/wh >/dev/null
				t2=$(date +%s.%N)
				echo "need list: $(echo "$t1 - $t0" | awk "{print \$1 - \$3}") s; make-wheelhouse --install (apt + build): $(echo "$t2 - $t1" | awk "{print \$1 - \$3}") s"
			' >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
		took[apt]=$(since "$start")
		echo "apt detail: $(grep "need list:" "$work/apt.log")"
		;;
	*)
		echo "first-run-parts: unknown part $p (apt, wheelhouse, rootfs)" >&2
		exit 2
		;;
	esac
	printf '%-10s %6s s\n' "$p" "${took[$p]}"
done
total=0
for p in "${!took[@]}"; do total=$(awk -v a="$total" -v b="${took[$p]}" 'BEGIN { print a + b }'); done
printf '%-10s %6s s\n' total "$total"
