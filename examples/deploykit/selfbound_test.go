package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/testenv"
)

// A program that binds its port itself, as most programs a user tries
// first do: python -m http.server {port}, serving a directory per
// version of the app.

// writeHTTPServerApp writes the app under dir/shapp: a directory per
// version with an index.html that names it. It returns the spec's path and
// a function that writes the spec for a version ("broken": a program that
// exits at once) and a socket key ("" for none). at is where dir/shapp is
// seen by deploykit (a bind mount in a container).
func writeHTTPServerApp(t *testing.T, dir, at string) (string, func(version, socket string)) {
	t.Helper()
	app := filepath.Join(dir, "shapp")
	if at == "" {
		at = app
	}
	for _, v := range []string{"1", "2"} {
		os.MkdirAll(filepath.Join(app, "v"+v), 0o755)
		if err := os.WriteFile(filepath.Join(app, "v"+v, "index.html"), []byte("version "+v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(app, "app.toml")
	write := func(version, socket string) {
		command := fmt.Sprintf(`["python", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", %q]`, at+"/v"+version)
		if version == "broken" {
			command = `["python", "-c", "raise SystemExit('broken release')"]`
		}
		toml := "name = \"httpserver\"\npython = \">=3.8\"\n[services.web]\ncommand = " + command + "\nlisten = true\n"
		if socket != "" {
			toml += fmt.Sprintf("socket = %q\n", socket)
		}
		if err := os.WriteFile(spec, []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return spec, write
}

type selfBoundStatus struct {
	Current  string         `json:"current"`
	Ports    map[string]int `json:"ports"`
	Services []struct {
		Component string `json:"component"`
		State     string `json:"state"`
		PID       int    `json:"pid"`
	} `json:"services"`
}

// selfBoundLifecycle drives an instance of the http.server app with
// socket = "self" through create, restart, upgrade, rollback, a failed
// upgrade and remove, through dk (deploykit with its root and services
// flags); environ reads a process's environment where the services run.
// It checks that each step serves the version it should, and that the
// process gets PORT and no socket-activation variables; afterCreate, when
// set, looks at the controller's side.
func selfBoundLifecycle(t *testing.T, dk func(args ...string) (string, error), environ func(pid int) (string, error), spec string, writeSpec func(version, socket string), name string, afterCreate func()) {
	t.Helper()
	must := func(args ...string) string {
		t.Helper()
		out, err := dk(args...)
		if err != nil {
			t.Fatalf("deploykit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	status := func() selfBoundStatus {
		t.Helper()
		out := must("status", name, "--json")
		var st selfBoundStatus
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if len(st.Services) != 1 || st.Services[0].State != "active" || st.Services[0].PID == 0 {
			t.Fatalf("services: %+v", st.Services)
		}
		return st
	}
	serves := func(port int, want string) {
		t.Helper()
		if b := httpGet(t, port); b != want+"\n" {
			t.Fatalf("answered %q, want %q", b, want)
		}
	}

	writeSpec("1", "self")
	must("create", name, "--spec", spec)
	st := status()
	port := st.Ports["web"]
	serves(port, "version 1")
	env, err := environ(st.Services[0].PID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(env, fmt.Sprintf("PORT=%d\n", port)) || strings.Contains(env, "LISTEN_FDS") || strings.Contains(env, "LISTEN_PID") {
		t.Fatalf("the self-bound process's environment (want PORT=%d, no LISTEN_*):\n%s", port, env)
	}
	if afterCreate != nil {
		afterCreate()
	}

	// Restart is stop, then start: each new process gets the port.
	pids := map[int]bool{st.Services[0].PID: true}
	for i := 0; i < 3; i++ {
		must("restart", name)
		pid := status().Services[0].PID
		if pids[pid] {
			t.Fatalf("restart %d kept pid %d", i+1, pid)
		}
		pids[pid] = true
		serves(port, "version 1")
	}

	writeSpec("2", "self")
	must("upgrade", name)
	serves(port, "version 2")
	must("rollback", name)
	serves(port, "version 1")

	// An upgrade is still health-checked and rolled back.
	writeSpec("broken", "self")
	if out, err := dk("upgrade", name); err == nil {
		t.Fatalf("upgrade to a release that exits at once succeeded:\n%s", out)
	}
	if st := status(); st.Current != "r1" {
		t.Fatalf("after the failed upgrade, current is %s", st.Current)
	}
	serves(port, "version 1")

	must("remove", name, "--yes")
	if out, err := dk("status", name); err == nil {
		t.Fatalf("status after remove: %s", out)
	}
}

// misdeclaredSelfBinder creates the http.server app with the default
// socket (passed): the program binds the port deploykit holds and dies.
// The create must fail with the explanation, naming service, instance
// and port, and leave nothing.
func misdeclaredSelfBinder(t *testing.T, dk func(args ...string) (string, error), spec string, writeSpec func(version, socket string), name string) {
	t.Helper()
	writeSpec("1", "")
	start := time.Now()
	out, err := dk("create", name, "--spec", spec)
	if err == nil {
		t.Fatalf("create of a self-binding program with a passed socket succeeded:\n%s", out)
	}
	msg := out[strings.LastIndex(out, "deploykit: "):]
	t.Logf("failed after %v:\n%s", time.Since(start).Round(time.Millisecond), msg)
	for _, want := range []string{"service web of instance " + name, "Address already in use", "on port ",
		"gunicorn", "uvicorn with --fd 3", `socket = "self"`, "[services.web]", "rolled back"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if out, err := dk("status", name); err == nil {
		t.Fatalf("status after the failed create: %s", out)
	}
}

// TestSelfBoundServiceUnderTheSupervisor: socket = "self" under the
// built-in supervisor, and the explaining error when it is left out.
func TestSelfBoundServiceUnderTheSupervisor(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	dir := newRoot(t)
	spec, writeSpec := writeHTTPServerApp(t, dir, "")
	dk := func(args ...string) (string, error) {
		argv := append([]string{"--root", filepath.Join(dir, "root"), "--services", "supervise"}, args...)
		out, err := exec.Command(binary, argv...).CombinedOutput()
		return string(out), err
	}
	environ := func(pid int) (string, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		return strings.ReplaceAll(string(b), "\x00", "\n"), err
	}
	misdeclaredSelfBinder(t, dk, spec, writeSpec, randomName("sbx"))
	selfBoundLifecycle(t, dk, environ, spec, writeSpec, randomName("sb"), nil)
}

// randomName is an instance name no other test run uses at the same time.
func randomName(prefix string) string {
	var b [3]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// TestSelfBoundServiceUnderSystemdInAContainer: the same under a real
// systemd: no socket unit, the unit binds its own port, a restart is
// systemd's stop-then-start; and the misdeclared program fails fast with
// the explanation, read from its journal.
func TestSelfBoundServiceUnderSystemdInAContainer(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	dir := newRoot(t)
	spec, writeSpec := writeHTTPServerApp(t, dir, "/srv/shapp")
	c := nspawn.Start(t, nspawn.Options{HostNetwork: true, Binds: []nspawn.Bind{
		{Host: filepath.Dir(binary), Container: "/opt/dk", ReadOnly: true},
		{Host: filepath.Dir(spec), Container: "/srv/shapp", ReadOnly: true},
	}})
	dk := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		out, err := c.Exec(ctx, append([]string{"/opt/dk/deploykit", "--root", "/srv/deploykit", "--services", "systemd"}, args...)...)
		return string(out), err
	}
	environ := func(pid int) (string, error) {
		out, err := c.Exec(ctx, "sh", "-c", fmt.Sprintf("tr '\\0' '\\n' </proc/%d/environ", pid))
		return string(out), err
	}
	inContainer := "/srv/shapp/app.toml"
	misdeclaredSelfBinder(t, dk, inContainer, writeSpec, randomName("sbx"))
	name := randomName("sb")
	writeSpec("1", "self")
	if out, err := dk("units", name, "--spec", inContainer); err != nil || strings.Contains(out, ".socket") || strings.Contains(out, "LISTEN_") {
		t.Fatalf("deploykit units: %v\n%s", err, out)
	}
	selfBoundLifecycle(t, dk, environ, inContainer, writeSpec, name, func() {
		out, err := c.Exec(ctx, "sh", "-c", "ls /etc/systemd/system | grep deploykit-"+name+" || true")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(strings.Fields(string(out)), " "); got != "deploykit-"+name+"-web.service deploykit-"+name+".target" {
			t.Fatalf("units of the self-bound instance: %s", got)
		}
	})
}
