package nspawn

import (
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

func TestBootExecPoweroff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Start(t, Options{Binds: []Bind{{Host: dir, Container: "/mnt/host", ReadOnly: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := c.Exec(ctx, "cat", "/proc/1/comm")
	if err != nil || strings.TrimSpace(string(out)) != "systemd" {
		t.Fatalf("PID 1 in the container: %q, %v", out, err)
	}
	out, err = c.Exec(ctx, "cat", "/mnt/host/hello")
	if err != nil || string(out) != "from the host\n" {
		t.Fatalf("bind mount: %q, %v", out, err)
	}
	if _, err := c.Exec(ctx, "touch", "/mnt/host/x"); err == nil {
		t.Error("read-only bind is writable")
	}
	if err := c.WriteFile("/etc/deploykit-probe", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Exec(ctx, "stat", "-c", "%a", "/etc/deploykit-probe"); err != nil || strings.TrimSpace(string(out)) != "600" {
		t.Fatalf("WriteFile: %q %v", out, err)
	}
	// The rootfs stays pristine: writes go to the volatile overlay.
	if _, err := os.Stat(filepath.Join(DefaultRootfs(), "etc/deploykit-probe")); err == nil {
		t.Error("write inside the container reached the shared rootfs")
	}
	// A failing command reports its output.
	if _, err := c.Exec(ctx, "sh", "-c", "echo oops; exit 3"); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing Exec: %v", err)
	}
	pid := c.PID()
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("poweroff took %v", time.Since(start))
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("container init %d still alive after Close", pid)
	}
}

func TestTwoContainersSideBySide(t *testing.T) {
	a := Start(t, Options{})
	b := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Private networks: both can bind the same port on 127.0.0.1.
	for _, c := range []*Container{a, b} {
		if _, err := c.Exec(ctx, "systemd-run", "--unit=probe", "python3", "-m", "http.server", "--bind", "127.0.0.1", "8765"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*Container{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := c.Exec(ctx, "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/')")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: http.server not answering: %v", c.Name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Each container has a control group of its own: a unit of one is not
	// the same-named unit of the other. When they shared one (nspawn makes
	// "payload" under its own group, and every container started from the
	// same group), a's systemd read b's processes in probe.service's
	// cgroup.procs as pid 0 and `systemctl kill` failed with EIO.
	if out, err := a.Exec(ctx, "systemctl", "kill", "-s", "KILL", "probe.service"); err != nil {
		t.Fatalf("systemctl kill in %s: %v\n%s", a.Name, err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := a.Exec(ctx, "systemctl", "is-active", "probe.service")
		if st := strings.TrimSpace(string(out)); st == "failed" || st == "inactive" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: probe.service still %s after its kill", a.Name, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := b.Exec(ctx, "systemctl", "is-active", "probe.service"); err != nil {
		t.Fatalf("killing a's probe.service touched b's: %v\n%s", err, out)
	}
	if _, err := b.Exec(ctx, "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/')"); err != nil {
		t.Fatalf("%s's http.server after a's was killed: %v", b.Name, err)
	}
}

func TestBootFailsCleanlyWithoutRootfs(t *testing.T) {
	_, err := Boot(context.Background(), Options{Rootfs: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not a finished root file system") {
		t.Fatalf("got %v", err)
	}
}

func TestParseMirror(t *testing.T) {
	cases := map[string]string{
		"deb http://ftp.de.debian.org/debian bookworm main\n":                                        "http://ftp.de.debian.org/debian",
		"deb [arch=amd64 signed-by=/x] http://deb.debian.org/debian/ bookworm main\n":                "http://deb.debian.org/debian",
		"Types: deb\nURIs: http://deb.debian.org/debian-security\n\nURIs: http://m.example/debian\n": "http://m.example/debian",
		"# deb http://x/debian b main\n":                                                             "",
	}
	for in, want := range cases {
		if got := parseMirror(strings.NewReader(in)); got != want {
			t.Errorf("parseMirror(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMirror(f *testing.F) {
	f.Add("deb http://deb.debian.org/debian bookworm main\n")
	f.Add("Types: deb\nURIs: http://deb.debian.org/debian\n")
	f.Add("deb [ arch=amd64 ] https://x/debian b\n")
	f.Fuzz(func(t *testing.T, s string) {
		u := parseMirror(strings.NewReader(s))
		if u != "" && !strings.HasPrefix(u, "http") {
			t.Fatalf("non-http mirror %q", u)
		}
	})
}

// TestHostsAnswerSSHOnTheirOwnAddresses boots two hosts: each is reached
// over SSH as root with the key, on its own address only, and what each
// serves on its address is reachable from the machine, on the same port.
func TestHostsAnswerSSHOnTheirOwnAddresses(t *testing.T) {
	testenv.Command(t, "ssh")
	h := StartHosts(t, HostsOptions{N: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := map[string]bool{}
	for _, x := range h.Hosts {
		if !strings.HasPrefix(x.Address, "127.") {
			t.Fatalf("host address %s is not a loopback address", x.Address)
		}
		args := append(h.SSHOptions(), "root@"+x.Address, "cat /proc/sys/kernel/hostname; id -u")
		out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh %s: %v\n%s", x.Address, err, out)
		}
		// The host answering on an address is the container booted for it.
		f := strings.Fields(string(out))
		if len(f) != 2 || f[0] != HostName(x.Address) || f[1] != "0" {
			t.Fatalf("ssh %s: %q, want host name %s and uid 0", x.Address, out, HostName(x.Address))
		}
		names[f[0]] = true
		if _, err := x.Exec(ctx, "systemd-run", "--unit=probe", "python3", "-m", "http.server", "--bind", x.Address, "8765"); err != nil {
			t.Fatal(err)
		}
	}
	if len(names) != 2 {
		t.Fatalf("the two hosts are one machine: %v", names)
	}
	// The hosts share the machine's network: their sshds listen on their
	// own addresses, and none on every address (or the machine's).
	// Another test's hosts (127.0.R.N, R of their own) may listen beside
	// them: the suite runs packages in parallel.
	seen := map[string]bool{}
	for _, l := range listenersOnPort(t, 22) {
		seen[l] = true
		ip := net.ParseIP(l)
		if ip.IsUnspecified() || ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback) || !ip.IsLoopback() {
			t.Errorf("something listens on %s:22 besides the hosts' sshds", l)
		}
	}
	if !seen[h.Hosts[0].Address] || !seen[h.Hosts[1].Address] {
		t.Errorf("listeners on port 22: %v, want the hosts' addresses", seen)
	}
	for _, x := range h.Hosts {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get("http://" + x.Address + ":8765/")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s:8765 not answering: %v", x.Address, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A wrong key is refused.
	other := filepath.Join(t.TempDir(), "k")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	args := append(h.SSHOptions(), "-i", other, "root@"+h.Hosts[0].Address, "true")
	args[1] = other // replace the host key
	if err := exec.CommandContext(ctx, "ssh", args...).Run(); err == nil {
		t.Fatal("ssh with another key got in")
	}
}

// listenersOnPort lists the IPv4 and IPv6 addresses with a TCP socket
// listening on port in this network namespace (/proc/net/tcp, tcp6).
func listenersOnPort(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" { // LISTEN
				continue
			}
			hexAddr, hexPort, _ := strings.Cut(fs[1], ":")
			if p, _ := strconv.ParseUint(hexPort, 16, 16); int(p) != port {
				continue
			}
			b, _ := hex.DecodeString(hexAddr)
			for i := 0; i+4 <= len(b); i += 4 { // each 32-bit word is little-endian
				b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
			}
			out = append(out, net.IP(b).String())
		}
	}
	return out
}
