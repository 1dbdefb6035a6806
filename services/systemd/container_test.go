package systemd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/services"
)

const fetchPy = `import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")`

// containerInstance is the instance the container tests install: a web
// component that only works with a passed socket, and a worker.
func containerInstance() []services.Component {
	return []services.Component{
		{
			Name: "web", Instance: "t1",
			Command: []string{"/usr/bin/python3", "/opt/dk/web.py"},
			Env: map[string]string{"DEPLOYKIT_INSTANCE": "t1",
				"PROBE_PATHS": "/etc/dk-probe:/opt/dk/probe:/srv/dk/t1/data/probe:/srv/dk/t1/probe:/tmp/dk-probe"},
			User: "dkt1", Group: "dkt1",
			Listen:  []services.Listen{{Network: "tcp", Address: "127.0.0.1:8080"}},
			Ready:   services.Readiness{Kind: services.ReadyNotify, Timeout: 20 * time.Second},
			Restart: services.RestartPolicy{Delay: 100 * time.Millisecond, Burst: 50},
			Relax:   services.Relaxations{WritablePaths: []string{"/srv/dk/t1/data"}},
			Limits:  services.Limits{LimitNOFILE: 1024},
		},
		{
			Name: "worker", Instance: "t1",
			Command: []string{"/bin/sh", "-c", "echo worker up; exec sleep infinity"},
			User:    "dkt1", Group: "dkt1",
		},
		{
			// Binds its own port after a delay: Start returns only once it
			// answers HTTP (the Controller's probe).
			Name: "slow", Instance: "t1",
			Command: []string{"/bin/sh", "-c", "sleep 1; exec python3 -m http.server --bind 127.0.0.1 8090"},
			User:    "dkt1", Group: "dkt1", WorkingDir: "/opt/dk",
			Ready: services.Readiness{Kind: services.ReadyHTTP, Address: "127.0.0.1:8090", Path: "/web.py", Timeout: 20 * time.Second},
		},
	}
}

// probeIn runs readiness checks inside the container's network namespace.
func probeIn(c *nspawn.Container) func(ctx context.Context, r services.Readiness) error {
	return func(ctx context.Context, r services.Readiness) error {
		if r.Kind == services.ReadyTCP {
			_, err := c.Exec(ctx, "python3", "-c", "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()",
				strings.Split(r.Address, ":")[0], strings.Split(r.Address, ":")[1])
			return err
		}
		_, err := c.Exec(ctx, "python3", "-c", fetchPy, "http://"+r.Address+r.Path)
		return err
	}
}

func TestUnitsUnderRealSystemd(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	c := nspawn.Start(t, nspawn.Options{Binds: []nspawn.Bind{{Host: testdata, Container: "/opt/dk", ReadOnly: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must := func(t *testing.T, argv ...string) string {
		t.Helper()
		out, err := c.Exec(ctx, argv...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	must(t, "useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "dkt1")
	must(t, "install", "-d", "-o", "dkt1", "-g", "dkt1", "/srv/dk/t1/data")
	uid := must(t, "id", "-u", "dkt1")
	fetch := func(path string) (string, error) {
		out, err := c.Exec(ctx, "python3", "-c", fetchPy, "http://127.0.0.1:8080"+path)
		return string(out), err
	}

	ctl := &Controller{UnitDir: filepath.Join(c.Root(), "etc/systemd/system"), Command: c.Command, Probe: probeIn(c)}
	if err := ctl.Install(ctx, "t1", containerInstance()); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := ctl.Start(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("start of the instance took %v (slow component: 1s before it listens)", time.Since(started))
	if time.Since(started) < time.Second {
		t.Error("Start returned before the slow component was ready")
	}
	if _, err := c.Exec(ctx, "python3", "-c", fetchPy, "http://127.0.0.1:8090/web.py"); err != nil {
		t.Errorf("slow component not answering right after Start: %v", err)
	}
	sts := statusMap(t, ctl, ctx)
	for _, n := range []string{"web", "worker", "slow"} {
		if st := sts[n]; st.State != services.StateActive || st.Sub != "running" || st.PID == 0 {
			t.Fatalf("%s after start: %+v", n, st)
		}
	}
	if owner := must(t, "stat", "-c", "%U", fmt.Sprintf("/proc/%d", sts["worker"].PID)); owner != "dkt1" {
		t.Errorf("worker runs as %s, want dkt1", owner)
	}
	if !strings.Contains(must(t, "systemctl", "is-enabled", TargetName("t1")), "enabled") {
		t.Error("target not enabled")
	}

	t.Run("socket activation and hardening", func(t *testing.T) {
		out, err := fetch("/info")
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			UID        int               `json:"uid"`
			CapEff     string            `json:"cap_eff"`
			CapBnd     string            `json:"cap_bnd"`
			NoNewPrivs string            `json:"no_new_privs"`
			FDNames    string            `json:"fdnames"`
			Writes     map[string]string `json:"writes"`
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Logf("web /info: %s", out)
		if fmt.Sprint(info.UID) != uid {
			t.Errorf("uid %d, want dkt1's %s", info.UID, uid)
		}
		if info.CapEff != "0000000000000000" || info.CapBnd != "0000000000000000" {
			t.Errorf("capabilities: effective %s bounding %s, want none", info.CapEff, info.CapBnd)
		}
		if info.NoNewPrivs != "1" {
			t.Errorf("NoNewPrivs = %q", info.NoNewPrivs)
		}
		if info.FDNames != "web" {
			t.Errorf("LISTEN_FDNAMES = %q", info.FDNames)
		}
		for p, want := range map[string]string{"/srv/dk/t1/data/probe": "ok", "/tmp/dk-probe": "ok"} {
			if info.Writes[p] != want {
				t.Errorf("write %s: %s, want %s", p, info.Writes[p], want)
			}
		}
		for _, p := range []string{"/etc/dk-probe", "/opt/dk/probe", "/srv/dk/t1/probe"} {
			if info.Writes[p] == "ok" {
				t.Errorf("hardening: %s is writable", p)
			}
		}
		// PrivateTmp: the file did not land in the container's real /tmp.
		if _, err := c.Exec(ctx, "test", "-e", "/tmp/dk-probe"); err == nil {
			t.Error("PrivateTmp: /tmp is shared")
		}
	})

	t.Run("crash is restarted", func(t *testing.T) {
		before := statusMap(t, ctl, ctx)["web"]
		must(t, "systemctl", "kill", "--kill-who=main", "--signal=SIGKILL", ServiceName("t1", "web"))
		deadline := time.Now().Add(20 * time.Second)
		var st services.Status
		for {
			st = statusMap(t, ctl, ctx)["web"]
			if st.State == services.StateActive && st.PID != 0 && st.PID != before.PID && st.Restarts > before.Restarts {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("web not restarted after SIGKILL: before %+v, now %+v", before, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("web pid %d -> %d, NRestarts %d", before.PID, st.PID, st.Restarts)
		if out, err := fetch("/"); err != nil || !strings.HasPrefix(out, "ok ") {
			t.Fatalf("after restart: %q %v", out, err)
		}
	})

	t.Run("zero-downtime restart under load", func(t *testing.T) {
		const count, conc, restarts = 1500, 8, 6
		load := c.Command(ctx, "python3", "/opt/dk/load.py", "http://127.0.0.1:8080/", fmt.Sprint(count), fmt.Sprint(conc), "60")
		var out strings.Builder
		load.Stdout, load.Stderr = &out, &out
		if err := load.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- load.Wait() }()
		n := 0
	loop:
		for n < restarts {
			select {
			case <-done:
				done <- nil
				break loop
			case <-time.After(100 * time.Millisecond):
			}
			if err := ctl.Restart(ctx, "t1", "web"); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if err := <-done; err != nil {
			t.Fatalf("load.py: %v\n%s", err, out.String())
		}
		var res struct {
			OK, Failed int
			Errors     []string
			Seconds    float64
			Pids       int
		}
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		fmt.Printf("systemd socket-unit restart load test: %d requests ok, %d failed, %d restarts, %d server pids, %.2fs (wall %.2fs)\n",
			res.OK, res.Failed, n, res.Pids, res.Seconds, time.Since(start).Seconds())
		if res.Failed != 0 || res.OK != count {
			t.Errorf("failed requests during restarts: %+v", res)
		}
		if n < 2 || res.Pids < 2 {
			t.Errorf("only %d restarts / %d server pids during the load: the test proved nothing", n, res.Pids)
		}
	})

	t.Run("reload and logs", func(t *testing.T) {
		if err := ctl.Reload(ctx, "t1", "web"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			rc, err := ctl.Logs(ctx, "t1", "web", services.LogOptions{Lines: 200})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if strings.Contains(string(b), "web.py: serving") && strings.Contains(string(b), "reloaded") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("journal lacks serving/reloaded lines:\n%s", b)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Follow: a new line shows up in a following reader.
		fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
		defer fcancel()
		rc, err := ctl.Logs(fctx, "t1", "worker", services.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		before := strings.Count(string(b), "worker up")
		rc, err = ctl.Logs(fctx, "t1", "worker", services.LogOptions{Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := ctl.Restart(ctx, "t1", "worker"); err != nil {
			t.Fatal(err)
		}
		if err := readUntil(rc, "worker up", before+1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("not ready is an error", func(t *testing.T) {
		comps := containerInstance()
		comps[2].Ready = services.Readiness{Kind: services.ReadyTCP, Address: "127.0.0.1:8099", Timeout: time.Second}
		if err := ctl.Install(ctx, "t1", comps); err != nil {
			t.Fatal(err)
		}
		err := ctl.Restart(ctx, "t1", "slow")
		if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "127.0.0.1:8099") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("a crash loop ends the readiness wait at once", func(t *testing.T) {
		comps := containerInstance()
		// Dies at once, behind a socket unit that keeps accepting: the
		// probe's requests wait in the backlog until the unit gives up.
		comps[2].Command = []string{"/bin/sh", "-c", "echo dying; exit 3"}
		comps[2].Listen = []services.Listen{{Network: "tcp", Address: "127.0.0.1:8091"}}
		comps[2].Ready = services.Readiness{Kind: services.ReadyHTTP, Timeout: time.Minute}
		comps[2].Restart = services.RestartPolicy{Delay: 100 * time.Millisecond, Burst: 3}
		if err := ctl.Install(ctx, "t1", comps); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := ctl.Restart(ctx, "t1", "slow")
		took := time.Since(start)
		t.Logf("the crash-looping unit's restart failed after %v: %v", took.Round(time.Millisecond), err)
		if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "the unit failed") {
			t.Fatalf("got %v", err)
		}
		if took > 30*time.Second {
			t.Fatalf("took %v of the minute's readiness timeout", took)
		}
		rc, err := ctl.Logs(ctx, "t1", "slow", services.LogOptions{Since: start})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.Contains(string(b), "dying") {
			t.Fatalf("its journal since the restart: %q", b)
		}
	})

	t.Run("install drops a removed component", func(t *testing.T) {
		comps := containerInstance()[:2]
		pid := statusMap(t, ctl, ctx)["slow"].PID
		if err := ctl.Install(ctx, "t1", comps); err != nil {
			t.Fatal(err)
		}
		if _, ok := statusMap(t, ctl, ctx)["slow"]; ok {
			t.Error("removed component still has a unit")
		}
		if _, err := c.Exec(ctx, "test", "-e", fmt.Sprintf("/proc/%d", pid)); err == nil && pid != 0 {
			t.Errorf("removed component's process %d still running", pid)
		}
	})

	t.Run("install interrupted after writing converges when re-run", func(t *testing.T) {
		comps := containerInstance()[:2]
		comps[1].Env = map[string]string{"VERSION": "2"}
		// systemctl dies at daemon-reload: the new files are on disk, systemd
		// still runs the old definitions.
		broken := *ctl
		broken.Command = func(ctx context.Context, argv ...string) *exec.Cmd {
			if len(argv) > 1 && argv[1] == "daemon-reload" {
				return exec.CommandContext(ctx, "/bin/false")
			}
			return c.Command(ctx, argv...)
		}
		if err := broken.Install(ctx, "t1", comps); err == nil {
			t.Fatal("Install with a failing daemon-reload succeeded")
		}
		b, err := os.ReadFile(filepath.Join(ctl.UnitDir, ServiceName("t1", "worker")))
		if err != nil || !strings.Contains(string(b), "VERSION=2") {
			t.Fatalf("unit file not complete after the failed install: %v\n%s", err, b)
		}
		if err := ctl.Install(ctx, "t1", comps); err != nil {
			t.Fatal(err)
		}
		if err := ctl.Restart(ctx, "t1", "worker"); err != nil {
			t.Fatal(err)
		}
		if out := must(t, "systemctl", "show", "-p", "Environment", ServiceName("t1", "worker")); out != "Environment=VERSION=2" {
			t.Errorf("after re-running Install: %s", out)
		}
	})

	t.Run("stop of the instance stops everything", func(t *testing.T) {
		if err := ctl.Stop(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		for n, st := range statusMap(t, ctl, ctx) {
			if st.State != services.StateInactive || st.PID != 0 {
				t.Errorf("%s after stop: %+v", n, st)
			}
		}
		// minbase has no procps: walk /proc.
		if out := must(t, "sh", "-c", `for p in /proc/[0-9]*; do [ "$(stat -c %U $p 2>/dev/null)" = dkt1 ] && echo $p; done; true`); out != "" {
			t.Errorf("processes of dkt1 left after stop: %s", out)
		}
		if _, err := fetch("/"); err == nil {
			t.Error("port 8080 still answers after stop")
		}
		if out, _ := c.Exec(ctx, "systemctl", "is-active", SocketName(&containerInstance()[0], 0)); strings.TrimSpace(string(out)) != "inactive" {
			t.Errorf("socket unit after stop: %s", out)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		if err := ctl.Uninstall(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		m, _ := filepath.Glob(filepath.Join(ctl.UnitDir, "deploykit-t1*"))
		if len(m) != 0 {
			t.Errorf("left after uninstall: %v", m)
		}
		if _, err := ctl.Status(ctx, "t1"); !errors.Is(err, services.ErrNotFound) {
			t.Errorf("status after uninstall: %v", err)
		}
	})
}

func statusMap(t *testing.T, ctl *Controller, ctx context.Context) map[string]services.Status {
	t.Helper()
	sts, err := ctl.Status(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]services.Status{}
	for _, s := range sts {
		m[s.Component] = s
	}
	return m
}

// readUntil reads r until it has seen substr n times.
func readUntil(r io.Reader, substr string, n int) error {
	var all strings.Builder
	buf := make([]byte, 4096)
	for strings.Count(all.String(), substr) < n {
		k, err := r.Read(buf)
		all.Write(buf[:k])
		if err != nil {
			return fmt.Errorf("reading logs: %v (have %q)", err, all.String())
		}
	}
	return nil
}

func TestInstallRefusesUnitNameCollision(t *testing.T) {
	dir := t.TempDir()
	ctl := &Controller{UnitDir: dir}
	a := []services.Component{{Name: "web-admin", Instance: "t1", Command: []string{"/bin/true"}}}
	units, err := Render("t1", a)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		os.WriteFile(filepath.Join(dir, u.Name), u.Content, 0o644)
	}
	b := []services.Component{{Name: "admin", Instance: "t1-web", Command: []string{"/bin/true"}}}
	err = ctl.Install(context.Background(), "t1-web", b)
	if !errors.Is(err, services.ErrCollision) || !strings.Contains(err.Error(), `belongs to instance "t1" component "web-admin"`) {
		t.Fatalf("got %v", err)
	}
	// Nothing of t1-web was written.
	if _, err := os.Stat(filepath.Join(dir, TargetName("t1-web"))); err == nil {
		t.Error("target written despite the collision")
	}
	// A unit deploykit did not write is not overwritten either.
	os.WriteFile(filepath.Join(dir, "deploykit-t2-web.service"), []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
	err = ctl.Install(context.Background(), "t2", []services.Component{{Name: "web", Instance: "t2", Command: []string{"/bin/true"}}})
	if !errors.Is(err, services.ErrCollision) || !strings.Contains(err.Error(), "not written by deploykit") {
		t.Fatalf("got %v", err)
	}
}
