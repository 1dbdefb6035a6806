#!/usr/bin/env bash
# scripts/bench/fleet.sh — fleet figures (issue 14), one run:
#
#  1. wall time of playbooks/site.yml on 3 hosts for a first deploy (the
#     install role, the application copied, deploykit apply creating the
#     instance with its embedded PostgreSQL cluster) and for a no-change
#     re-run (3 rounds), and of playbooks/rolling-upgrade.yml (serial: 1,
#     HAProxy draining), each beside the same deploykit operations run on one
#     host without Ansible (`deploykit apply`: create, no change, upgrade);
#  2. deploykit's share of a no-change re-run: the hosts' `deploykit apply`
#     time (returned by the deploykit.fleet.instance module) over the play's
#     wall time (the goal: under 10 %, the rest being Ansible's SSH round
#     trips and module transfers);
#  3. failed requests through HAProxy on 127.0.0.1 during the rolling
#     upgrade (the goal: 0).
#
# The hosts are systemd-nspawn containers on this machine, each on its own
# loopback address with its own sshd (internal/nspawn Hosts), booted once
# for the run. Needs root, ansible-core, haproxy, openssh-client, the
# nspawn root file system and the test wheelhouse (scripts/test.sh makes
# both). Usage: scripts/bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "fleet.sh: needs root (containers, instance users)" >&2; exit 1; }
export DEPLOYKIT_TEST_WHEELHOUSE=${DEPLOYKIT_TEST_WHEELHOUSE:-/var/tmp/deploykit-test/wheelhouse}
[[ -d $DEPLOYKIT_TEST_WHEELHOUSE/wheels ]] || { echo "fleet.sh: no wheelhouse at $DEPLOYKIT_TEST_WHEELHOUSE (run scripts/test.sh once)" >&2; exit 1; }
for c in ansible-playbook haproxy ssh systemd-nspawn; do
	command -v "$c" >/dev/null || { echo "fleet.sh: needs $c" >&2; exit 1; }
done
go test -run '^$' -bench '^BenchmarkFleet$' -benchtime 1x -timeout 60m ./examples/ansible/ | grep -v -e '^goos' -e '^goarch' -e '^pkg' -e '^cpu' -e '^BenchmarkFleet' -e '^PASS' -e '^ok '
