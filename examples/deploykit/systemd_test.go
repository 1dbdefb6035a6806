package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/testenv"
)

// TestCLIUnderSystemdInAContainer runs the lifecycle with --services
// systemd under a real systemd (PID 1 of a systemd-nspawn container): the
// deploykit binary, the wheels and the app are bind-mounted in, PostgreSQL
// runs on the host and is reached through --database-url. Create, serve,
// upgrade under load with zero failed requests, stop, remove — real units,
// socket activation and the hardened sandbox.
func TestCLIUnderSystemdInAContainer(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	dir := newRoot(t)
	pg, err := pgcluster.New(pgcluster.Options{Dir: filepath.Join(dir, "pg"), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		testenv.Skip(t, "PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() { pg.Stop(context.Background()) })
	dbURL, err := pg.AdminTCPURL()
	if err != nil {
		t.Fatal(err)
	}
	c, writeSpec, dk := appInContainer(t, dir, "--database-url", dbURL)
	spec := "/srv/app/app.toml"
	name := fmt.Sprintf("sd%d", os.Getpid()%100000)
	if out, err := dk("create", name, "--spec", spec); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := dk("status", name, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(st.Services) != 1 || st.Services[0].State != "active" {
		t.Fatalf("services under systemd: %+v", st.Services)
	}
	if unit, err := c.Exec(ctx, "systemctl", "show", "-p", "User,ProtectSystem,NoNewPrivileges", "deploykit-"+name+"-web.service"); err != nil || !strings.Contains(string(unit), "User=dk-"+name) || !strings.Contains(string(unit), "NoNewPrivileges=yes") {
		t.Fatalf("unit properties: %v\n%s", err, unit)
	}
	port := st.Ports["web"]
	if b := httpGet(t, port); !strings.Contains(b, `"version": "1"`) || !strings.Contains(b, `"has_db": true`) {
		t.Fatalf("answered %s", b)
	}

	// Upgrade under load: the socket unit holds the port, so no request fails.
	stop := testenv.HTTPLoad(t, port, 4, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	writeSpec("2")
	if out, err := dk("upgrade", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := dk("rollback", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	okN, failN := stop()
	t.Logf("requests during upgrade and rollback under systemd: %d ok, %d failed", okN, failN)
	if failN != 0 || okN == 0 {
		t.Fatalf("%d requests failed during upgrade/rollback (%d ok)", failN, okN)
	}
	if b := httpGet(t, port); !strings.Contains(b, `"version": "1"`) {
		t.Fatalf("after rollback: %s", b)
	}

	if out, err := dk("stop", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
		t.Fatal("still answering after stop")
	}
	if out, err := dk("remove", name, "--yes"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, _ := c.Exec(ctx, "sh", "-c", "ls /etc/systemd/system | grep deploykit- || true"); strings.TrimSpace(string(out)) != "" {
		t.Fatalf("units left after remove: %s", out)
	}
	if _, err := c.Exec(ctx, "getent", "passwd", "dk-"+name); err == nil {
		t.Fatal("user left after remove")
	}
	if out, _ := c.Exec(ctx, "ls", "/srv/deploykit/instances"); strings.TrimSpace(string(out)) != "" {
		t.Fatalf("instance dir left: %s", out)
	}
}

// appInContainer writes the test app at version 1 under dir and boots a
// systemd container (sharing the host's network) with the deploykit
// binary, the wheelhouse and the app bound in; the app is mounted at
// /srv/app, as the units' PrivateTmp hides /tmp. It returns the container,
// a function that writes the app at another version, and one that runs
// deploykit there (--root /srv/deploykit --services systemd, then global,
// then args).
func appInContainer(t *testing.T, dir string, global ...string) (*nspawn.Container, func(version string), func(args ...string) (string, error)) {
	t.Helper()
	wh := testenv.GetWheelhouse(t)
	writeSpec := func(version string) {
		p := writeApp(t, dir, "/wheels", version)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.ReplaceAll(string(b), filepath.Dir(p), "/srv/app")), 0o644)
	}
	writeSpec("1")
	c := nspawn.Start(t, nspawn.Options{HostNetwork: true, Binds: []nspawn.Bind{
		{Host: filepath.Dir(binary), Container: "/opt/dk", ReadOnly: true},
		{Host: wh.Dir, Container: "/wheels", ReadOnly: true},
		{Host: filepath.Join(dir, "app"), Container: "/srv/app", ReadOnly: true},
	}})
	dk := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		argv := append([]string{"/opt/dk/deploykit", "--root", "/srv/deploykit", "--services", "systemd"}, global...)
		out, err := c.Exec(ctx, append(argv, args...)...)
		return string(out), err
	}
	return c, writeSpec, dk
}

// TestEmbeddedClusterUnderSystemdInAContainer: with --services systemd and
// no --database-url, the embedded cluster is a unit of its own, enabled,
// restarted when it dies, and wanted by the instances' units, so starting
// an instance (as boot does) starts its database server first; shutdown
// removes the unit.
func TestEmbeddedClusterUnderSystemdInAContainer(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	c, _, dk := appInContainer(t, newRoot(t))
	sh := func(script string) string {
		out, err := c.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	const pgUnit = "deploykit-pg_embedded-postgres.service"
	name := fmt.Sprintf("se%d", os.Getpid()%100000)
	if out, err := dk("create", name, "--spec", "/srv/app/app.toml"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := sh("systemctl is-active " + pgUnit + "; systemctl is-enabled deploykit-pg_embedded.target"); got != "active\nenabled" {
		t.Fatalf("the cluster's unit: %q", got)
	}
	web := "deploykit-" + name + "-web.service"
	for _, prop := range []string{"Wants", "After"} {
		if got := sh("systemctl show -p " + prop + " --value " + web); !strings.Contains(" "+got+" ", " "+pgUnit+" ") {
			t.Fatalf("%s: %s=%s, without %s", web, prop, got, pgUnit)
		}
	}
	port := func() int {
		out, err := dk("status", name, "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var st statusJSON
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return st.Ports["web"]
	}()
	if b := httpGet(t, port); !strings.Contains(b, `"has_db": true`) {
		t.Fatalf("answered %s", b)
	}

	// The postmaster dies: systemd starts it again. The process killed is
	// the unit's MainPID read just before, not "whatever the unit's
	// cgroup holds" (systemctl kill), so the test knows which process
	// died, and systemd's restart counter says it was that death it
	// answered.
	main := sh("systemctl show -p MainPID --value " + pgUnit)
	restarts := sh("systemctl show -p NRestarts --value " + pgUnit)
	if main == "0" || main == "" {
		t.Fatalf("the cluster's unit has no main process: %q", main)
	}
	sh("kill -KILL " + main)
	deadline := time.Now().Add(time.Minute)
	for {
		st := sh("systemctl show -p ActiveState -p MainPID -p NRestarts " + pgUnit)
		if p := properties(st); p["MainPID"] != main && p["MainPID"] != "0" && p["ActiveState"] == "active" && p["NRestarts"] != restarts {
			t.Logf("postmaster %s killed; systemd started %s (restarts %s -> %s)", main, p["MainPID"], restarts, p["NRestarts"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not come back after its postmaster %s was killed: %s", main, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := dk("backup", name); err != nil { // needs the database
		t.Fatalf("backup after the cluster's restart: %v\n%s", err, out)
	}

	// A root from before the cluster had a unit: its server was started by
	// pg_ctl. The next operation that needs the database moves it under
	// its unit.
	sh("systemctl stop " + pgUnit + " && rm /etc/systemd/system/deploykit-pg_embedded* && systemctl daemon-reload")
	sh("cd /srv/deploykit/postgres && runuser -u $(stat -c %U data) -- $(ls -d /usr/lib/postgresql/*/bin | tail -1)/pg_ctl -D data -l pgctl.log -w start >/dev/null")
	if out, err := dk("backup", name); err != nil {
		t.Fatalf("backup with the server started by pg_ctl: %v\n%s", err, out)
	}
	if got, want := sh("systemctl show -p MainPID --value "+pgUnit), sh("head -1 /srv/deploykit/postgres/data/postmaster.pid"); got != want {
		t.Fatalf("the server (pid %s) is not the unit's (MainPID %s)", want, got)
	}

	// What boot does: the instance's target is started, nothing else.
	sh("systemctl stop deploykit-" + name + ".target " + web + " " + pgUnit)
	if got := sh("systemctl is-active " + pgUnit + " || true"); got != "inactive" {
		t.Fatalf("cluster unit after stop: %s", got)
	}
	sh("systemctl start deploykit-" + name + ".target")
	deadline = time.Now().Add(time.Minute)
	for sh("systemctl is-active "+pgUnit+" "+web+" || true") != "active\nactive" {
		if time.Now().After(deadline) {
			t.Fatalf("starting the instance did not start its database server: %s", sh("systemctl is-active "+pgUnit+" "+web+" || true"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b := httpGet(t, port); !strings.Contains(b, `"version": "1"`) {
		t.Fatalf("after a start from the target: %s", b)
	}

	if out, err := dk("remove", name, "--yes"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := dk("shutdown"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out := sh("ls /etc/systemd/system | grep deploykit- || true"); out != "" {
		t.Fatalf("units left after remove and shutdown: %s", out)
	}
}

// properties parses `systemctl show -p A -p B` output (KEY=VALUE lines,
// in systemd's order, not the order asked).
func properties(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}
