#!/usr/bin/env bash
# scripts/test.sh — the whole test run: install what the tests need (as root,
# only what is missing), then go vet and go test -race over every package.
#
# Tests start what they need themselves (a throwaway PostgreSQL cluster, a
# local index, a systemd container); this script only makes sure the binaries
# and the shared fixtures (a wheelhouse built from Debian's Python packages, a
# minimal Debian rootfs for systemd-nspawn) exist. Fixtures are cached under
# /var/tmp/deploykit-test so a second run starts in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export DEPLOYKIT_TEST_CACHE=${DEPLOYKIT_TEST_CACHE:-/var/tmp/deploykit-test}
shared=${DEPLOYKIT_SHARED:-$root/../shared}
export DEPLOYKIT_SHARED=$shared

log() { printf '== %s\n' "$*" >&2; }

missing=()
need() { # need COMMAND-OR-PATH-GLOB DEBIAN-PACKAGE
	local what=$1 pkg=$2
	if [[ $what == /* ]]; then
		compgen -G "$what" >/dev/null && return 0
	else
		command -v "$what" >/dev/null 2>&1 && return 0
	fi
	missing+=("$pkg")
}

need git git
need brz brz
need hg mercurial
need '/usr/lib/postgresql/*/bin/initdb' postgresql
need '/usr/lib/postgresql/*/bin/pgbench' postgresql-contrib
need python3 python3
need zstd zstd
need debootstrap debootstrap
need systemd-nspawn systemd-container
need systemd-analyze systemd
need useradd passwd
need curl curl
need /usr/bin/time time          # scripts/bench/* measure peak memory with it
need strace strace               # venv's test counts an install's system calls
# examples/ansible: the real ansible-playbook against nspawn hosts (their
# sshd is openssh-server in the hosts' root file system, internal/nspawn),
# HAProxy in front of them, and the collection's offline sanity checks.
need ansible-playbook ansible-core
need ssh openssh-client
need haproxy haproxy
need pycodestyle pycodestyle
need pylint pylint
need /usr/lib/rabbitmq/bin/rabbitmq-server rabbitmq-server   # internal/rabbittest's throwaway node

if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		# Tests run private RabbitMQ nodes with epmds of their own; the
		# package's service (started on install where PID 1 is systemd)
		# and the host-wide epmd must not run.
		if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
			systemctl disable --now rabbitmq-server.service epmd.socket epmd.service >/dev/null 2>&1 || true
		fi
	else
		log "missing (not root, not installing): ${missing[*]}; tests that need them skip outside CI"
	fi
fi

# The wheelhouse: real wheels repackaged from Debian's python3-* packages,
# plus a PEP 503 index of them. Built once per machine.
wh=$DEPLOYKIT_TEST_CACHE/wheelhouse
if [[ ! -f $wh/done ]] && [[ -x $shared/tools/make-wheelhouse ]]; then
	if [[ $(id -u) == 0 ]]; then
		log "building the test wheelhouse in $wh"
		rm -rf "$wh" && mkdir -p "$wh"
		"$shared/tools/make-wheelhouse" -q --install --index "$wh/index" "$wh/wheels" >"$wh.log" 2>&1 ||
			{ cat "$wh.log" >&2; exit 1; }
		touch "$wh/done"
	fi
fi
[[ -f $wh/done ]] && export DEPLOYKIT_TEST_WHEELHOUSE=$wh

log "go vet ./..."
go vet ./...

log "go test -race ./..."
go test -race -timeout 25m "$@" ./...
