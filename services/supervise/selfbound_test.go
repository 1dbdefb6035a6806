package supervise

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/services"
)

// freeAddr returns a 127.0.0.1 address nothing listens on (bound, then
// closed).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// selfBoundWeb is python's http.server binding addr itself, after writing
// its environment to envFile.
func selfBoundWeb(t *testing.T, addr, envFile string) services.Component {
	host, port, _ := net.SplitHostPort(addr)
	return services.Component{Name: "web", Instance: "t1",
		Command:   []string{"/bin/sh", "-c", `env > "$ENVOUT"; exec "$0" -m http.server "$1" --bind "$2"`, python(t), port, host},
		Env:       map[string]string{"ENVOUT": envFile},
		SelfBound: []string{addr},
		Ready:     services.Readiness{Kind: services.ReadyHTTP, Timeout: 20 * time.Second}}
}

func TestSelfBoundComponentBindsItsOwnPortAndRestartsStopThenStart(t *testing.T) {
	dir := t.TempDir()
	addr, envFile := freeAddr(t), filepath.Join(dir, "env")
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{selfBoundWeb(t, addr, envFile)}, Dir: filepath.Join(dir, "state"), Autostart: true})
	waitFor(t, "web active", 30*time.Second, func() bool { return statusOf(t, sock, "web").State == services.StateActive })
	st := statusOf(t, sock, "web")
	if len(st.Listen) != 1 || st.Listen[0] != addr {
		t.Fatalf("status lists %v, want the self-bound %s", st.Listen, addr)
	}
	env, _ := os.ReadFile(envFile)
	if strings.Contains(string(env), "LISTEN_FDS") || strings.Contains(string(env), "LISTEN_PID") {
		t.Fatalf("a self-bound component got socket-activation variables:\n%s", env)
	}
	pids := map[int]bool{st.PID: true}
	// Each restart stops the process, then starts one that binds the port
	// again: it must not race the old one for it.
	for i := 0; i < 5; i++ {
		if r := ctl(t, sock, "restart"); !r.OK {
			t.Fatalf("restart %d: %s", i+1, r.Error)
		}
		st := statusOf(t, sock, "web")
		if st.State != services.StateActive || pids[st.PID] {
			t.Fatalf("after restart %d: %+v (earlier pids %v)", i+1, st, pids)
		}
		pids[st.PID] = true
		if _, err := get("http://" + addr + "/"); err != nil {
			t.Fatalf("after restart %d: %v", i+1, err)
		}
	}
}

func TestSelfBoundStartWaitsUntilThePortIsFree(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	held, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{selfBoundWeb(t, addr, filepath.Join(dir, "env"))}, Dir: filepath.Join(dir, "state")})

	// Held the whole time: the start fails, naming the address.
	start := time.Now()
	r := ctl(t, sock, "start")
	if r.OK || !strings.Contains(r.Error, ErrPortBusy.Error()) || !strings.Contains(r.Error, addr) {
		t.Fatalf("start with %s held by another process: %+v", addr, r)
	}
	if took := time.Since(start); took < portFreeWait {
		t.Fatalf("gave up after %v, before the %v wait", took, portFreeWait)
	}

	// Released during the wait: the start goes through.
	time.AfterFunc(700*time.Millisecond, func() { held.Close() })
	start = time.Now()
	if r := ctl(t, sock, "start"); !r.OK {
		t.Fatalf("start after the port was released: %s", r.Error)
	}
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Fatalf("started after %v, while the port was still held", took)
	}
	if _, err := get("http://" + addr + "/"); err != nil {
		t.Fatal(err)
	}
}

func TestWaitFreeIgnoresTimeWait(t *testing.T) {
	// A server that closed connections first leaves them in TIME_WAIT on
	// its port; a new server binds it anyway (SO_REUSEADDR), so must
	// waitFree.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		c.Close()
	}
	ln.Close()
	if err := waitFree(context.Background(), []string{addr}, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := waitFree(context.Background(), []string{"127.0.0.1:notaport"}, time.Second); err == nil || errors.Is(err, ErrPortBusy) {
		t.Fatalf("a bad address: %v", err)
	}
}

func TestLogsSinceLeaveOutEarlierStarts(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	marker := func(at time.Time) string {
		return startMarker + at.Format(time.RFC3339Nano) + "] starting prog\n"
	}
	log := "output of a run before markers\n" +
		marker(t0) + "OSError: [Errno 98] Address already in use\n" +
		marker(t0.Add(2*time.Second)) + "serving\n" +
		marker(t0.Add(3*time.Second)) + "serving again\n"
	path := filepath.Join(t.TempDir(), "web.log")
	os.WriteFile(path, []byte(log), 0o640)
	read := func(lines int, since time.Time) string {
		r, err := openLog(context.Background(), path, lines, since, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return string(b)
	}
	if got, want := read(0, t0.Add(time.Second)), marker(t0.Add(2*time.Second))+"serving\n"+marker(t0.Add(3*time.Second))+"serving again\n"; got != want {
		t.Errorf("since t0+1s:\n%s\nwant:\n%s", got, want)
	}
	if got := read(1, t0.Add(time.Second)); got != "serving again\n" {
		t.Errorf("since t0+1s, last line: %q", got)
	}
	if got := read(0, t0.Add(time.Hour)); got != "" {
		t.Errorf("since after every start: %q", got)
	}
	if got := read(0, t0); !strings.HasPrefix(got, marker(t0)) {
		t.Errorf("since the first start: %q", got)
	}
}

// TestSwitchingBetweenPassedAndSelfBoundSockets: an install that turns a
// passed socket into a self-bound port (a user fixing a misdeclared
// service in an upgrade) and back (its rollback) takes effect at the next
// restart, on the same address, without restarting the supervisor.
func TestSwitchingBetweenPassedAndSelfBoundSockets(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	c := testController(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { c.Uninstall(context.Background(), "t1") })
	passed := webComponent(t, "t1", addr) // web.py: serves only a passed socket
	passed.Ready = services.Readiness{Kind: services.ReadyHTTP}
	self := selfBoundWeb(t, addr, filepath.Join(dir, "env"))
	for i, comp := range []services.Component{passed, self, passed} {
		if err := c.Install(ctx, "t1", []services.Component{comp}); err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
		if err := c.Restart(ctx, "t1"); err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		out, err := get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("after install %d: %v", i, err)
		}
		if isWebPy := strings.HasPrefix(out, "ok "); isWebPy != (len(comp.Listen) > 0) {
			t.Fatalf("after install %d, %s is served by the wrong program: %q", i, addr, out)
		}
	}
}
