package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
)

func TestCrashIsRestartedWithBackoffUntilCrashLoop(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	c := services.Component{Name: "crashy", Instance: "t1",
		// Lives past the start grace, then crashes.
		Command: []string{"/bin/sh", "-c", `date +%s%3N >> "$STARTS"; sleep 0.15; exit 3`},
		Env:     map[string]string{"STARTS": starts},
		Restart: services.RestartPolicy{Delay: 40 * time.Millisecond, MaxDelay: time.Second, Burst: 4, Interval: time.Minute}}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, StartGrace: 50 * time.Millisecond, Autostart: true})
	waitFor(t, "crash loop", 15*time.Second, func() bool { return statusOf(t, sock, "crashy").State == services.StateFailed })
	st := statusOf(t, sock, "crashy")
	if !strings.Contains(st.Error, "crash loop") || st.Restarts != 4 || st.ExitCode != 3 {
		t.Fatalf("status after crash loop: %+v", st)
	}
	ts := readInts(t, starts)
	if len(ts) != 5 {
		t.Fatalf("%d starts, want 1 + 4 restarts", len(ts))
	}
	// Gaps are run time (150ms) + backoff (40, 80, 160, 320ms): growing.
	var gaps []int
	for i := 1; i < len(ts); i++ {
		gaps = append(gaps, ts[i]-ts[i-1])
	}
	t.Logf("gaps between starts (ms): %v", gaps)
	for i, g := range gaps {
		if min := 150 + 40<<i - 15; g < min {
			t.Errorf("gap %d is %dms, want at least %dms (backoff %dms): gaps %v", i, g, min, 40<<i, gaps)
		}
	}
	if gaps[3]-gaps[0] < 200 {
		t.Errorf("backoff too small: gaps %v", gaps)
	}
	// The log says why.
	b, _ := os.ReadFile(filepath.Join(dir, "log", "crashy.log"))
	if !strings.Contains(string(b), "exited with status 3; restarting in") {
		t.Errorf("log lacks restart notes:\n%s", b)
	}
	// An explicit start clears the failure.
	if r := ctl(t, sock, "start", "crashy"); !r.OK {
		t.Fatalf("start after crash loop: %s", r.Error)
	}
	if st := statusOf(t, sock, "crashy"); st.State != services.StateActive && st.State != services.StateActivating {
		t.Errorf("after start: %+v", st)
	}
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	// Ignores SIGTERM (and so do its children): only SIGKILL of the group
	// ends it.
	c := services.Component{Name: "stubborn", Instance: "t1",
		Command:     []string{"/bin/sh", "-c", `trap "" TERM; sleep 1000 & echo $! >> "$PIDS"; sleep 1000 & echo $! >> "$PIDS"; echo $$ >> "$PIDS"; wait`},
		Env:         map[string]string{"PIDS": pids},
		StopTimeout: 300 * time.Millisecond}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, StartGrace: 50 * time.Millisecond, Autostart: true})
	waitFor(t, "three pids", 5*time.Second, func() bool { return len(readInts(t, pids)) == 3 })
	ps := readInts(t, pids)
	for _, p := range ps {
		if !alive(p) {
			t.Fatalf("pid %d not running", p)
		}
	}
	start := time.Now()
	if r := ctl(t, sock, "stop"); !r.OK {
		t.Fatal(r.Error)
	}
	took := time.Since(start)
	t.Logf("stop took %v (stop timeout 300ms)", took)
	if took < 300*time.Millisecond {
		t.Errorf("stopped before the stop timeout: SIGTERM was not ignored?")
	}
	waitFor(t, "group gone", 5*time.Second, func() bool {
		for _, p := range ps {
			if alive(p) {
				return false
			}
		}
		return true
	})
	if st := statusOf(t, sock, "stubborn"); st.State != services.StateInactive || st.PID != 0 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestCrashKillsLeftoverChildrenBeforeRestart(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	c := services.Component{Name: "forker", Instance: "t1",
		Command: []string{"/bin/sh", "-c", `sleep 1000 & echo $! >> "$PIDS"; sleep 0.2; exit 1`},
		Env:     map[string]string{"PIDS": pids},
		Restart: services.RestartPolicy{Delay: 50 * time.Millisecond, Burst: 100}}
	runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, StartGrace: 50 * time.Millisecond, Autostart: true})
	waitFor(t, "two generations", 10*time.Second, func() bool { return len(readInts(t, pids)) >= 2 })
	first := readInts(t, pids)[0]
	waitFor(t, "first generation's child killed", 5*time.Second, func() bool { return !alive(first) })
}

func TestRunsAsInstanceUID(t *testing.T) {
	testenv.NeedRoot(t)
	// Not t.TempDir(): its parent is 0700, closed to uid 61234.
	dir, err := os.MkdirTemp("", "dk-uid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	out := filepath.Join(dir, "ids")
	os.WriteFile(out, nil, 0o666)
	os.Chmod(out, 0o666)
	c := services.Component{Name: "who", Instance: "t1", UID: 61234, GID: 61234,
		Command: []string{"/bin/sh", "-c", `echo "$(id -u) $(id -g) $(id -G)" > "$OUT"; exec sleep 1000`},
		Env:     map[string]string{"OUT": out}}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: filepath.Join(dir, "state"), StartGrace: 50 * time.Millisecond, Autostart: true})
	waitFor(t, "ids", 5*time.Second, func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	b, _ := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); got != "61234 61234 61234" {
		t.Errorf("uid gid groups = %q, want 61234 61234 61234 (no supplementary groups)", got)
	}
	waitFor(t, "active", 5*time.Second, func() bool { return statusOf(t, sock, "who").State == services.StateActive })
	pid := statusOf(t, sock, "who").PID
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(st), "Uid:\t61234\t61234\t61234\t61234") {
		t.Errorf("process %d status:\n%s", pid, st)
	}
}

func TestBadInputFailsCleanly(t *testing.T) {
	t.Run("missing executable", func(t *testing.T) {
		dir := t.TempDir()
		c := services.Component{Name: "ghost", Instance: "t1", Command: []string{"/nonexistent/bin/app"}}
		err := Run(context.Background(), Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, Autostart: true})
		var se *StartError
		if !errors.As(err, &se) || !errors.Is(err, ErrNoExecutable) || se.Component != "ghost" {
			t.Fatalf("got %v", err)
		}
		assertNotRunning(t, dir)
	})
	t.Run("exits at once", func(t *testing.T) {
		dir := t.TempDir()
		pids := filepath.Join(dir, "pids")
		ok := services.Component{Name: "fine", Instance: "t1", Command: []string{"/bin/sh", "-c", `echo $$ > "$PIDS"; exec sleep 1000`},
			Env: map[string]string{"PIDS": pids}}
		bad := services.Component{Name: "oops", Instance: "t1", Command: []string{"/bin/sh", "-c", "echo config missing >&2; exit 2"}}
		err := Run(context.Background(), Options{Instance: "t1", Components: []services.Component{ok, bad}, Dir: dir, Autostart: true, StartGrace: 300 * time.Millisecond})
		if !errors.Is(err, ErrStartFailed) || !strings.Contains(err.Error(), "status 2") || !strings.Contains(err.Error(), "config missing") {
			t.Fatalf("got %v", err)
		}
		assertNotRunning(t, dir)
		// The component that did start was stopped again.
		if ps := readInts(t, pids); len(ps) != 1 || alive(ps[0]) {
			t.Errorf("the good component is left running: %v", ps)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		dir := t.TempDir()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c := services.Component{Name: "web", Instance: "t1", Command: []string{"/bin/sleep", "1000"},
			Listen: []services.Listen{{Network: "tcp", Address: ln.Addr().String()}}}
		err = Run(context.Background(), Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, Autostart: true})
		if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), `component "web"`) {
			t.Fatalf("got %v", err)
		}
		assertNotRunning(t, dir)
		// Through the daemon: a clear error and no daemon left behind.
		ctlr := testController(t.TempDir())
		if err := ctlr.Install(context.Background(), "t1", []services.Component{c}); err != nil {
			t.Fatal(err)
		}
		err = ctlr.Start(context.Background(), "t1")
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("Controller.Start: %v", err)
		}
		if running(filepath.Join(ctlr.Dir, "t1")) {
			t.Error("daemon left running after a failed start")
		}
	})
	t.Run("second supervisor for one instance", func(t *testing.T) {
		dir := t.TempDir()
		c := services.Component{Name: "w", Instance: "t1", Command: []string{"/bin/sleep", "1000"}}
		runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir})
		err := Run(context.Background(), Options{Instance: "t1", Components: []services.Component{c}, Dir: dir})
		if !errors.Is(err, ErrRunning) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown component", func(t *testing.T) {
		dir := t.TempDir()
		c := services.Component{Name: "w", Instance: "t1", Command: []string{"/bin/sleep", "1000"}}
		sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir})
		if r := ctl(t, sock, "start", "nope"); r.OK || !r.NotFound {
			t.Fatalf("got %+v", r)
		}
	})
}

// assertNotRunning: the supervisor released its lock and removed its socket.
func assertNotRunning(t *testing.T, dir string) {
	t.Helper()
	if running(dir) {
		t.Error("supervisor lock still held")
	}
	if _, err := os.Stat(filepath.Join(dir, "control.sock")); err == nil {
		if _, err := call(context.Background(), filepath.Join(dir, "control.sock"), Request{Op: "status"}); err == nil {
			t.Error("control socket still answering")
		}
	}
}

func webComponent(t testing.TB, instance, addr string) services.Component {
	return services.Component{Name: "web", Instance: instance,
		Command: []string{python(t), webPy(t)},
		Env:     map[string]string{"DEPLOYKIT_INSTANCE": instance},
		Listen:  []services.Listen{{Network: "tcp", Address: addr}},
		Ready:   services.Readiness{Kind: services.ReadyNotify, Timeout: 20 * time.Second}}
}

func get(url string) (string, error) {
	cl := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return string(b), nil
}

func TestTwoSupervisorsAreIndependent(t *testing.T) {
	sockA, stopA := runSup(t, Options{Instance: "a", Components: []services.Component{webComponent(t, "a", "127.0.0.1:0")}, Dir: t.TempDir(), Autostart: true})
	webB := webComponent(t, "b", "127.0.0.1:0")
	webB.Ready = services.Readiness{Kind: services.ReadyHTTP, Path: "/"}
	sockB, _ := runSup(t, Options{Instance: "b", Components: []services.Component{webB}, Dir: t.TempDir(), Autostart: true})
	for _, sock := range []string{sockA, sockB} {
		waitFor(t, "web active", 30*time.Second, func() bool { return statusOf(t, sock, "web").State == services.StateActive })
	}
	a, b := statusOf(t, sockA, "web").Listen[0], statusOf(t, sockB, "web").Listen[0]
	for _, addr := range []string{a, b} {
		if out, err := get("http://" + addr + "/"); err != nil || !strings.HasPrefix(out, "ok ") {
			t.Fatalf("%s: %q %v", addr, out, err)
		}
	}
	pidB := statusOf(t, sockB, "web").PID
	ctl(t, sockA, "restart")
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if _, err := get("http://" + a + "/"); err == nil {
		t.Error("a still answers after its supervisor stopped")
	}
	if out, err := get("http://" + b + "/"); err != nil || out != fmt.Sprintf("ok %d\n", pidB) {
		t.Errorf("b disturbed by a: %q %v (pid was %d)", out, err, pidB)
	}
}

func TestZeroDowntimeRestartUnderLoad(t *testing.T) {
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{webComponent(t, "t1", "127.0.0.1:0")}, Dir: t.TempDir(), Autostart: true})
	waitFor(t, "web active", 30*time.Second, func() bool { return statusOf(t, sock, "web").State == services.StateActive })
	addr := statusOf(t, sock, "web").Listen[0]
	const total, conc, restarts = 3000, 8, 8
	var ok, failed, next atomic.Int64
	var errMu sync.Mutex
	var errs []string
	pids := sync.Map{}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total && time.Now().Before(deadline) {
				out, err := get("http://" + addr + "/")
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
					errMu.Unlock()
					continue
				}
				ok.Add(1)
				pids.Store(out, true)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	n := 0
	var restartTimes []time.Duration
loop:
	for n < restarts {
		select {
		case <-done:
			break loop
		case <-time.After(80 * time.Millisecond):
		}
		rs := time.Now()
		if r := ctl(t, sock, "restart", "web"); !r.OK {
			t.Fatalf("restart: %s", r.Error)
		}
		restartTimes = append(restartTimes, time.Since(rs).Round(time.Millisecond))
		n++
	}
	<-done
	np := 0
	pids.Range(func(any, any) bool { np++; return true })
	fmt.Printf("supervise socket-handoff restart load test: %d requests ok, %d failed, %d restarts (each %v), %d server pids, %.2fs\n",
		ok.Load(), failed.Load(), n, restartTimes, np, time.Since(start).Seconds())
	if failed.Load() != 0 || ok.Load() != total {
		t.Errorf("%d ok, %d failed; first errors: %v", ok.Load(), failed.Load(), errs)
	}
	if n < 3 || np < 3 {
		t.Errorf("only %d restarts / %d server pids during the load: the test proved nothing", n, np)
	}
}

func TestDaemonSurvivesTheCLIAndIsControlledFromAnother(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:0"
	c := testController(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	worker := services.Component{Name: "worker", Instance: "t1", Command: []string{"/bin/sh", "-c", "echo worker up; exec sleep 1000"}}
	if err := c.Install(ctx, "t1", []services.Component{webComponent(t, "t1", addr), worker}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Uninstall(context.Background(), "t1") })
	// A separate process plays `deploykit start t1` and exits.
	cli := exec.Command(os.Args[0])
	cli.Env = append(os.Environ(), "DK_SUPERVISE_TEST_CLI="+dir, "DK_SUPERVISE_TEST_INSTANCE=t1")
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("cli start: %v\n%s", err, out)
	}
	sts, err := c.Status(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.State != services.StateActive || s.PID == 0 {
			t.Fatalf("after the CLI exited: %+v", s)
		}
	}
	addr = sts[0].Listen[0]
	if out, err := get("http://" + addr + "/"); err != nil || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("web: %q %v", out, err)
	}
	st, err := readState(filepath.Join(dir, "t1", "state.json"))
	if err != nil || !st.Running || !alive(st.PID) {
		t.Fatalf("state file: %+v %v", st, err)
	}
	if sid, _ := unix.Getsid(st.PID); sid != st.PID {
		t.Errorf("daemon is not a session leader (sid %d, pid %d)", sid, st.PID)
	}
	// Restart one component, reload, logs with follow.
	rc, err := c.Logs(ctx, "t1", "worker", services.LogOptions{Follow: true, Lines: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := c.Restart(ctx, "t1", "worker"); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(rc, "worker up", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx, "t1", "web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reloaded in web log", 5*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "t1", "log", "web.log"))
		return strings.Contains(string(b), "reloaded")
	})
	if err := c.Restart(ctx, "t1", "nope"); !errors.Is(err, services.ErrNotFound) {
		t.Errorf("restart of unknown component: %v", err)
	}
	// Install while running: a changed definition is used from the next restart.
	worker.Command = []string{"/bin/sh", "-c", "echo worker v2; exec sleep 1000"}
	if err := c.Install(ctx, "t1", []services.Component{webComponent(t, "t1", "127.0.0.1:0"), worker}); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "t1", "worker"); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(rc, "worker v2", 1); err != nil {
		t.Fatal(err)
	}
	// Stop from this process: every component, and the daemon, are gone.
	var compPIDs []int
	sts, _ = c.Status(ctx, "t1")
	for _, s := range sts {
		compPIDs = append(compPIDs, s.PID)
	}
	if err := c.Stop(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "daemon and components gone", 10*time.Second, func() bool {
		for _, p := range append(compPIDs, st.PID) {
			if alive(p) {
				return false
			}
		}
		return true
	})
	if _, err := get("http://" + addr + "/"); err == nil {
		t.Error("web answers after stop")
	}
	sts, err = c.Status(ctx, "t1")
	if err != nil || len(sts) != 2 || sts[0].State != services.StateInactive || sts[0].Error != "" {
		t.Errorf("status after a clean stop: %+v %v", sts, err)
	}
}

func TestStaleStateFromACrashedSupervisor(t *testing.T) {
	dir := t.TempDir()
	c := testController(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	comp := services.Component{Name: "worker", Instance: "t1", Command: []string{"/bin/sleep", "1000"}}
	if err := c.Install(ctx, "t1", []services.Component{comp}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Uninstall(context.Background(), "t1") })
	if err := c.Start(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	st, err := readState(filepath.Join(dir, "t1", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	workerPID := st.Components[0].PID
	syscall.Kill(st.PID, syscall.SIGKILL)
	waitFor(t, "daemon dead", 5*time.Second, func() bool { return !alive(st.PID) })
	// Its last thread may still hold the lock for a moment after the
	// leader is a zombie; Status copes with that.
	// Its child dies with it (parent-death signal), so nothing runs unsupervised.
	waitFor(t, "worker dead", 5*time.Second, func() bool { return !alive(workerPID) })
	sts, err := c.Status(ctx, "t1")
	if err != nil || sts[0].State != services.StateInactive || !strings.Contains(sts[0].Error, "gone without stopping") {
		t.Fatalf("status with a stale state file: %+v %v", sts, err)
	}

	// A leftover process group recorded in a stale state file is killed by
	// the next supervisor (after checking it is the same process).
	left := exec.Command("/bin/sleep", "1000")
	left.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	go left.Wait()
	st.Components[0].PID, st.Components[0].PGID, st.Components[0].PIDStart = left.Process.Pid, left.Process.Pid, procStart(left.Process.Pid)
	writeJSON(t, filepath.Join(dir, "t1", "state.json"), st)
	if err := c.Start(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leftover killed", 5*time.Second, func() bool { return !alive(left.Process.Pid) })
	sts, err = c.Status(ctx, "t1")
	if err != nil || sts[0].State != services.StateActive {
		t.Fatalf("after restart over stale state: %+v %v", sts, err)
	}
	if err := c.Stop(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
}

func readUntil(r io.Reader, substr string, n int) error {
	var all strings.Builder
	buf := make([]byte, 4096)
	for strings.Count(all.String(), substr) < n {
		k, err := r.Read(buf)
		all.Write(buf[:k])
		if err != nil {
			return fmt.Errorf("reading log: %v (have %q)", err, all.String())
		}
	}
	return nil
}

// A server such as gunicorn makes the inherited listen socket non-blocking
// and accepts after select. The socket's flags are shared by every process
// holding it, so the supervisor must not switch it back to blocking when it
// starts the next process (a restart): the old process's accept would then
// block, its SIGTERM handler would never get to run, and the stop would end
// in SIGKILL after the timeout.
func TestRestartKeepsTheSocketModeTheServerChose(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "srv.py")
	flags := filepath.Join(dir, "flags")
	if err := os.WriteFile(script, []byte(`
import fcntl, os, signal, socket, sys, time
fl = fcntl.fcntl(3, fcntl.F_GETFL)
with open(sys.argv[1], "a") as f:
    f.write("%d\n" % (1 if fl & os.O_NONBLOCK else 0))
s = socket.socket(fileno=3)
s.setblocking(False)
alive = [True]
def term(*_):
    alive[0] = False
signal.signal(signal.SIGTERM, term)
import select
while alive[0]:
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        try:
            c, _ = s.accept()
            c.close()
        except BlockingIOError:
            pass
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := services.Component{Name: "web", Instance: "t1",
		Command:     []string{python(t), script, flags},
		Listen:      []services.Listen{{Network: "tcp", Address: "127.0.0.1:0"}},
		StopTimeout: 10 * time.Second}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: t.TempDir(), Autostart: true})
	waitFor(t, "web active", 30*time.Second, func() bool { return statusOf(t, sock, "web").State == services.StateActive })
	waitFor(t, "first server started", 10*time.Second, func() bool { b, _ := os.ReadFile(flags); return len(b) >= 2 })
	for i := 0; i < 2; i++ {
		start := time.Now()
		if r := ctl(t, sock, "restart", "web"); !r.OK {
			t.Fatalf("restart: %s", r.Error)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("restart %d took %v: the old server did not stop on SIGTERM", i+1, d)
		}
	}
	waitFor(t, "three servers started", 10*time.Second, func() bool {
		b, _ := os.ReadFile(flags)
		return len(strings.Fields(string(b))) >= 3
	})
	b, _ := os.ReadFile(flags)
	got := strings.Fields(string(b))
	if got[0] != "0" {
		t.Errorf("first server got a non-blocking socket (flags %v); systemd passes blocking ones", got)
	}
	for i, f := range got[1:] {
		if f != "1" {
			t.Errorf("server %d found the socket switched back to blocking while the previous server held it (flags %v)", i+2, got)
		}
	}
}

// TestStartWaitsForASupervisorThatIsShuttingDown: a stop whose caller was
// killed leaves a supervisor that has closed its control socket but still
// stops its components (here: one that ignores SIGTERM, so the stop
// timeout runs out). Start must wait for it to exit and start a new one,
// not fail with "supervisor not running".
func TestStartWaitsForASupervisorThatIsShuttingDown(t *testing.T) {
	dir := t.TempDir()
	c := testController(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slow := services.Component{Name: "slow", Instance: "t1", StopTimeout: 1500 * time.Millisecond,
		Command: []string{"/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"}}
	if err := c.Install(ctx, "t1", []services.Component{slow}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Uninstall(context.Background(), "t1") })
	if err := c.Start(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	old, err := readState(filepath.Join(dir, "t1", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	// What a killed `deploykit stop` leaves: the shutdown asked for, nobody
	// waiting for it.
	if _, err := c.call(ctx, "t1", Request{Op: "shutdown"}); err != nil && !errors.Is(err, ErrNotRunning) {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "t1"); err != nil {
		t.Fatalf("start while the old supervisor shuts down: %v", err)
	}
	sts, err := c.Status(ctx, "t1")
	if err != nil || len(sts) != 1 || sts[0].State != services.StateActive {
		t.Fatalf("after start: %+v %v", sts, err)
	}
	now, err := readState(filepath.Join(dir, "t1", "state.json"))
	if err != nil || now.PID == old.PID {
		t.Fatalf("supervisor pid %d (old %d): %v", now.PID, old.PID, err)
	}
	waitFor(t, "the old supervisor gone", 10*time.Second, func() bool { return !procRunning(old.PID) })
}

// procRunning reports whether pid is a live process: this test process
// started the daemon, so an exited one stays a zombie until reaped.
func procRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
