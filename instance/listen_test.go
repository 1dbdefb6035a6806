package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// getAt GETs / of a service listening on addr:port.
func getAt(t *testing.T, addr string, port int) (answer, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/")
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%v: %s", err, b)
	}
	return a, nil
}

// loopbackAddress returns an address of 127.0.0.0/8 other than 127.0.0.1
// that this run alone uses, so parallel runs of the test do not meet.
func loopbackAddress() string {
	return fmt.Sprintf("127.0.%d.%d", 100+os.Getpid()%100, 2+os.Getpid()%250)
}

func TestPortAllocationChecksTheListenAddress(t *testing.T) {
	spec, err := ParseSpec([]byte("name = \"a\"\n[services.web]\ncommand = [\"x\"]\nlisten = true\n"), "app.toml")
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("pa")
	want, err := AllocatePort(name, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Something else holds the instance's port on 127.0.0.1: an instance
	// bound on another address still gets it (the same port as on every
	// other host), one bound on 127.0.0.1 does not.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want)))
	if err != nil {
		t.Skipf("port %d on 127.0.0.1 is in use by something else already: %v", want, err)
	}
	defer l.Close()
	for _, tc := range []struct {
		addr     string
		samePort bool
	}{{loopbackAddress(), true}, {"", false}, {"127.0.0.1", false}} {
		m, err := Open(context.Background(), Options{Root: t.TempDir(), ListenAddress: tc.addr})
		if err != nil {
			t.Fatal(err)
		}
		ports, err := m.allocatePorts(name, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ports["web"] == want; got != tc.samePort {
			t.Errorf("listen address %q: port %d, hashed port %d (taken on 127.0.0.1)", tc.addr, ports["web"], want)
		}
	}
}

func TestListenAddressIsValidated(t *testing.T) {
	for _, bad := range []string{"localhost", "127.0.0.1:8000", "example.org", "300.1.1.1"} {
		if _, err := Open(context.Background(), Options{Root: t.TempDir(), ListenAddress: bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("listen address %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"listen_address = \"nowhere\"\n", "listen_adress = \"127.0.0.1\"\n"} {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "settings.toml"), []byte(bad), 0o644)
		if _, err := Open(context.Background(), Options{Root: root}); err == nil || !strings.Contains(err.Error(), "settings.toml") {
			t.Errorf("settings %q: %v", bad, err)
		}
	}
}

// TestListenAddressIsRecordedAndMovesTheRoot: an instance created with a
// listen address is bound there only, health-checked and reported there;
// later commands without it keep it; a different one moves the instance at
// its next restart.
func TestListenAddressIsRecordedAndMovesTheRoot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := loopbackAddress()
	opts := f.options()
	opts.ListenAddress = first
	m, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("la")
	cleanup(t, m, name)
	st, err := m.Create(ctx, name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	port := st.Ports["web"]
	if st.ListenAddress != first {
		t.Fatalf("record: listen address %q, want %q", st.ListenAddress, first)
	}
	if a, err := getAt(t, first, port); err != nil || a.Instance != name {
		t.Fatalf("on %s: %+v %v", first, a, err)
	}
	if _, err := getAt(t, "127.0.0.1", port); err == nil {
		t.Fatalf("the instance also answers on 127.0.0.1:%d", port)
	}
	if s, err := m.Layout().ReadSettings(); err != nil || s.ListenAddress != first {
		t.Fatalf("settings: %+v %v", s, err)
	}

	// A later Manager without the option keeps the root's address.
	later, err := Open(ctx, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if got := later.listenAddress(); got != first {
		t.Fatalf("a later manager listens on %s, want the recorded %s", got, first)
	}
	if st, err := later.Upgrade(ctx, name, f.spec(t, "2")); err != nil || st.ListenAddress != first {
		t.Fatalf("upgrade without the option: %+v %v", st, err)
	}
	if a, err := getAt(t, first, port); err != nil || a.Version != "2" {
		t.Fatalf("after upgrade on %s: %+v %v", first, a, err)
	}

	// Another address: recorded for the root, and the instance moves at
	// its next restart, keeping its port.
	opts.ListenAddress = "127.0.0.1"
	moved, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.Restart(ctx, name); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Layout().ReadSettings(); s.ListenAddress != "127.0.0.1" {
		t.Fatalf("settings after the move: %+v", s)
	}
	status, err := moved.Status(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if status.ListenAddress != "127.0.0.1" || status.Ports["web"] != port {
		t.Fatalf("status after the move: %s:%d", status.ListenAddress, status.Ports["web"])
	}
	if a, err := getAt(t, "127.0.0.1", port); err != nil || a.Version != "2" {
		t.Fatalf("after the move: %+v %v", a, err)
	}
	if _, err := getAt(t, first, port); err == nil {
		t.Fatalf("still answering on the old address %s", first)
	}
}

// FuzzReadSettings: any settings file is read without a panic, and what
// is accepted has a valid listen address or none.
func FuzzReadSettings(f *testing.F) {
	f.Add([]byte("listen_address = \"127.0.1.1\"\n"))
	f.Add([]byte("# comment\nlisten_address = \"::1\"\n"))
	f.Add([]byte("listen_address = \"localhost\"\n"))
	f.Add([]byte("listen_address = 5\n"))
	f.Add([]byte("[x]\ny = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "settings.toml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Layout{Root: root}.ReadSettings()
		if err != nil {
			if !strings.Contains(err.Error(), "settings.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.ListenAddress != "" && ValidateListenAddress(s.ListenAddress) != nil {
			t.Fatalf("accepted listen address %q", s.ListenAddress)
		}
	})
}

// TestAFailedMoveCanBeTakenBack: a move to a new listen address that
// fails to start there (here: something else holds the port on that
// address), taken back by a restart with the old address, leaves the
// instance serving on the old address again. The failed move had
// installed the services on the new address but kept the old one in the
// record, so the restart on the old address saw nothing to move and
// restarted the services installed on the new one: they bound there (or
// failed to) and the health check on the old address failed; nothing but
// an upgrade would install them on the old address again.
func TestAFailedMoveCanBeTakenBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.open(t)
	name := randomName("mb")
	cleanup(t, m, name)
	st, err := m.Create(ctx, name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	port := st.Ports["web"]
	elsewhere := loopbackAddress()
	l, err := net.Listen("tcp", net.JoinHostPort(elsewhere, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	opts := f.options()
	opts.ListenAddress = elsewhere
	away, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := away.Restart(ctx, name); err == nil {
		t.Fatalf("the move to %s started, although its port is taken there", elsewhere)
	}
	l.Close()
	opts.ListenAddress = "127.0.0.1"
	back, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Restart(ctx, name); err != nil {
		t.Fatalf("restart on the old address after the failed move: %v", err)
	}
	if a, err := getAt(t, "127.0.0.1", port); err != nil || a.Instance != name {
		t.Fatalf("on 127.0.0.1 after taking the move back: %+v %v", a, err)
	}
	if _, err := getAt(t, elsewhere, port); err == nil {
		t.Fatalf("answering on %s, the address the move was taken back from", elsewhere)
	}
}
