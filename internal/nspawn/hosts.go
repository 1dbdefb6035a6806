package nspawn

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Hosts are containers that stand in for the machines of a fleet: booted
// from the one root file system, sharing the machine's network namespace
// (HostNetwork), each with an address of its own on the loopback
// interface and an sshd listening there, on port 22, that lets root in
// with one key. Configuration management (Ansible) reaches them as it
// reaches real hosts, over SSH, and what they serve on their addresses is
// reachable from the machine, as from a load balancer.
//
// Only 127.0.0.0/8 is used: the loopback interface answers on all of it
// without configuration, so an address per host needs no privileges
// beyond those the containers already need, and nothing leaves the
// machine.
type Hosts struct {
	Hosts []*Host
	// KeyFile is the private key that logs in as root on every host.
	KeyFile string
	dir     string
}

// Host is one container of Hosts.
type Host struct {
	*Container
	// Address is the host's own address; its sshd listens on Address:22.
	Address string
}

// HostsOptions configure BootHosts.
type HostsOptions struct {
	// N is the number of hosts (at least 1).
	N int
	// Addresses are the hosts' addresses, in 127.0.0.0/8; nil picks
	// 127.0.R.1 … 127.0.R.N for a random R whose addresses nothing on the
	// machine listens on (port 22), so parallel runs do not meet.
	Addresses []string
	// Binds are bind-mounted into every host.
	Binds []Bind
	// Rootfs, BootTimeout, StopTimeout and Logger are as in Options.
	Rootfs      string
	BootTimeout time.Duration
	StopTimeout time.Duration
	Logger      *slog.Logger
}

// BootHosts boots opts.N hosts in parallel and waits until each one's
// sshd answers. On error nothing is left running.
func BootHosts(ctx context.Context, opts HostsOptions) (_ *Hosts, err error) {
	if opts.N < 1 {
		return nil, errors.New("nspawn: BootHosts: N must be at least 1")
	}
	addrs := opts.Addresses
	if addrs == nil {
		if addrs, err = freeLoopbackBlock(opts.N); err != nil {
			return nil, err
		}
	}
	if len(addrs) != opts.N {
		return nil, fmt.Errorf("nspawn: BootHosts: %d addresses for %d hosts", len(addrs), opts.N)
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("nspawn: host address %q is not in 127.0.0.0/8", a)
		}
	}
	dir, err := os.MkdirTemp("", "dk-hosts-")
	if err != nil {
		return nil, err
	}
	h := &Hosts{KeyFile: filepath.Join(dir, "id_ed25519"), dir: dir}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploykit-test", "-f", h.KeyFile).CombinedOutput(); err != nil {
		return nil, &Error{Step: "ssh key", Err: fmt.Errorf("ssh-keygen: %v: %s", err, out)}
	}
	pub := h.KeyFile + ".pub"
	h.Hosts = make([]*Host, opts.N)
	errs := make([]error, opts.N)
	var wg sync.WaitGroup
	for i, addr := range addrs {
		conf := filepath.Join(dir, fmt.Sprintf("sshd-%d.conf", i))
		// Read before the rest of sshd_config (Debian includes
		// sshd_config.d first), so these values win.
		text := "# deploykit test host: sshd on this host's address only, root by key only\n" +
			"ListenAddress " + addr + "\n" +
			"PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" +
			"AuthorizedKeysFile /etc/ssh/deploykit_authorized_keys\nUseDNS no\nMaxStartups 100\nMaxSessions 100\n"
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
		// Each host has a name of its own (the root file system's
		// /etc/hostname is the machine's it was made on).
		hostname := filepath.Join(dir, fmt.Sprintf("hostname-%d", i))
		if err := os.WriteFile(hostname, []byte(HostName(addr)+"\n"), 0o644); err != nil {
			return nil, err
		}
		binds := append([]Bind{
			{Host: hostname, Container: "/etc/hostname", ReadOnly: true},
			{Host: conf, Container: "/etc/ssh/sshd_config.d/deploykit-host.conf", ReadOnly: true},
			{Host: pub, Container: "/etc/ssh/deploykit_authorized_keys", ReadOnly: true},
		}, opts.Binds...)
		wg.Add(1)
		go func(i int, addr string) {
			defer wg.Done()
			c, err := Boot(ctx, Options{Rootfs: opts.Rootfs, Binds: binds, HostNetwork: true, BootTimeout: opts.BootTimeout, StopTimeout: opts.StopTimeout, Logger: opts.Logger})
			if err != nil {
				errs[i] = fmt.Errorf("host %s: %w", addr, err)
				return
			}
			h.Hosts[i] = &Host{Container: c, Address: addr}
			// The root file system leaves sshd disabled (EnsureRootfs); it
			// starts here, with this host's configuration bound in.
			if out, err := c.Exec(ctx, "sh", "-c", "ssh-keygen -A && systemctl start ssh.service"); err != nil {
				errs[i] = fmt.Errorf("host %s: starting sshd: %w: %s", addr, err, out)
				return
			}
			if err := waitSSH(ctx, c, addr); err != nil {
				errs[i] = fmt.Errorf("host %s: %w", addr, err)
			}
		}(i, addr)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// HostName is the host name of the host at addr: "dk-127-0-5-1".
func HostName(addr string) string { return "dk-" + strings.ReplaceAll(addr, ".", "-") }

// waitSSH waits until sshd answers on addr:22 with its banner.
func waitSSH(ctx context.Context, c *Container, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	target := net.JoinHostPort(addr, "22")
	var last error
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", target)
		if err == nil {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return nil
			}
			err = fmt.Errorf("no SSH banner from %s: %q %v", target, line, rerr)
		}
		last = err
		select {
		case <-ctx.Done():
			st, _ := c.Exec(context.Background(), "systemctl", "status", "--no-pager", "ssh.service")
			return &Error{Step: "wait for sshd", Err: fmt.Errorf("%w: %v", ErrTimeout, last), Console: string(st)}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeLoopbackBlock picks 127.0.R.1 … 127.0.R.n, R random in 2…254, on
// whose port 22 nothing listens.
func freeLoopbackBlock(n int) ([]string, error) {
	if n > 254 {
		return nil, fmt.Errorf("nspawn: %d hosts: at most 254", n)
	}
try:
	for attempt := 0; attempt < 50; attempt++ {
		r, err := rand.Int(rand.Reader, big.NewInt(253))
		if err != nil {
			return nil, err
		}
		var addrs []string
		for i := 1; i <= n; i++ {
			a := fmt.Sprintf("127.0.%d.%d", r.Int64()+2, i)
			l, err := net.Listen("tcp", net.JoinHostPort(a, "22"))
			if err != nil {
				continue try
			}
			l.Close()
			addrs = append(addrs, a)
		}
		return addrs, nil
	}
	return nil, errors.New("nspawn: no free block of loopback addresses (127.0.R.x) found")
}

// SSHOptions are the ssh(1) options that reach the hosts as root with
// KeyFile: no known-hosts file (the hosts are new each run), no agent, no
// password prompt.
func (h *Hosts) SSHOptions() []string {
	return []string{"-i", h.KeyFile, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"}
}

// Close powers every host off and removes the key.
func (h *Hosts) Close() error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, x := range h.Hosts {
		if x == nil {
			continue
		}
		wg.Add(1)
		go func(x *Host) {
			defer wg.Done()
			if err := x.Close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(x)
	}
	wg.Wait()
	os.RemoveAll(h.dir)
	return errors.Join(errs...)
}
