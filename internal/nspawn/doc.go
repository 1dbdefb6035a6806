// Package nspawn is a small test harness that boots a real systemd as PID 1
// in a systemd-nspawn container, so service units are tested under the init
// system they are written for even though the host's PID 1 is not systemd.
//
// The root file system is a minimal Debian (debootstrap --variant=minbase
// with the Packages: systemd, python3 and python3-apt, postgresql(-15)
// without the package's default cluster, rabbitmq-server with its own
// service masked, openssh-server with its sshd disabled) made once per
// machine under the test cache (EnsureRootfs; a flock serializes parallel
// test binaries, and the tree is built beside its final path and renamed
// into place, so a killed build leaves nothing half-made); the .deb files
// it was made of stay in its /var/cache/apt/archives. Every container
// boots it with --volatile=overlay, so the tree stays pristine and
// containers can run side by side; --keep-unit and --register=no because
// the host has no systemd to register with. Each container gets its own
// machine name and, unless Options.HostNetwork, a private network
// namespace holding only lo, so 127.0.0.1 ports never clash with the host
// or other containers.
//
// Each container also gets control groups of its own: nspawn is started in
// a new child of the caller's group in the unified and name=systemd
// hierarchies (cgroup.go), removed when it exits. Without them every
// container's "payload" group was the same one, so two containers' units of
// the same name shared a cgroup, and `systemctl kill` in one failed with EIO
// on the other's processes (pid 0 from its pid namespace).
//
// The harness finds the container's init (the nspawn child running systemd),
// waits for `systemctl is-system-running --wait` to say running or degraded,
// runs commands inside with nsenter(1), and powers the container off on
// Close. Every step is bounded by a timeout.
//
// Hosts (hosts.go) are N such containers sharing the machine's network,
// each with an address of its own in 127.0.0.0/8, a host name, and an sshd
// listening on that address alone that lets root in with one key: the
// hosts of a fleet that Ansible reaches over SSH.
//
// Tests use Start (testing.go), which skips outside CI and fails with CI=true
// when the container cannot be set up (internal/testenv).
package nspawn
