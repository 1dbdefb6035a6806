// Package ansible holds the deploykit.fleet Ansible collection
// (ansible_collections/deploykit/fleet: the deploykit.fleet.install role,
// the instance, instance_info and backup modules) and its playbooks
// (playbooks/site.yml, playbooks/rolling-upgrade.yml), and the Go tests
// that run them: the real ansible-playbook against hosts that are
// systemd-nspawn containers on this machine (internal/nspawn Hosts), each
// on its own loopback address with its own sshd, the deploykit binary
// built here installed on them by the role.
//
// The collection is Ansible's side of deploykit's many-hosts story: each
// host runs deploykit locally (`deploykit apply`, which converges one
// instance to a spec); Ansible carries the spec and the application's
// files to the hosts, and orders the hosts (serial: 1 for a rolling
// upgrade behind a load balancer). deploykit never opens SSH connections
// itself. There is no Go API here: see README.md.
package ansible
