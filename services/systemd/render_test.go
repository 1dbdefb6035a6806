package systemd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
)

func TestRenderLayout(t *testing.T) {
	comps := sampleComponents("prod", "dk-prod")
	comps[1].After = []services.Ref{{Instance: "pg_embedded", Component: "postgres"}}
	units, err := Render("prod", comps)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
	}
	want := "deploykit-prod-api-admin.socket deploykit-prod-api.service deploykit-prod-api.socket deploykit-prod-web.service deploykit-prod-web.socket deploykit-prod-worker.service deploykit-prod.target"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("units:\n got %s\nwant %s", got, want)
	}
	get := func(name string) []*unit.UnitOption {
		for _, u := range units {
			if u.Name == name {
				opts, err := unit.Deserialize(bytes.NewReader(u.Content))
				if err != nil {
					t.Fatalf("%s does not parse back: %v", name, err)
				}
				return opts
			}
		}
		t.Fatalf("no unit %s", name)
		return nil
	}
	val := func(opts []*unit.UnitOption, key string) []string {
		var v []string
		for _, o := range opts {
			if o.Name == key {
				v = append(v, o.Value)
			}
		}
		return v
	}
	web := get("deploykit-prod-web.service")
	if got := val(web, "ExecStart"); len(got) != 1 || got[0] != `"/usr/bin/python3" "/opt/dk/web.py" "--greeting" "hello $$USER 100%%"` {
		t.Errorf("ExecStart = %q", got)
	}
	if got := val(web, "User"); len(got) != 1 || got[0] != "dk-prod" {
		t.Errorf("User = %q", got)
	}
	if got := strings.Join(val(web, "Environment"), " "); got != `"DEPLOYKIT_INSTANCE=prod" "QUOTE=a \"b\" \\c"` {
		t.Errorf("Environment = %s", got)
	}
	for k, v := range map[string]string{"MemoryMax": "268435456", "TasksMax": "64", "LimitNOFILE": "4096", "Restart": "always",
		"RestartSec": "200ms", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "MemoryDenyWriteExecute": "yes",
		"ReadWritePaths": "/srv/dk/prod/data", "Sockets": "deploykit-prod-web.socket", "PartOf": "deploykit-prod.target"} {
		if got := val(web, k); len(got) != 1 || got[0] != v {
			t.Errorf("web %s = %q, want %q", k, got, v)
		}
	}
	dir := t.TempDir()
	for _, u := range units {
		os.WriteFile(filepath.Join(dir, u.Name), u.Content, 0o644)
	}
	r, ok, err := readReady(filepath.Join(dir, "deploykit-prod-web.service"))
	if err != nil || !ok || r.Kind != services.ReadyHTTP || r.Address != "127.0.0.1:8080" || r.Path != "/health" {
		t.Errorf("readiness line: %+v %v %v", r, ok, err)
	}
	if _, ok, _ := readReady(filepath.Join(dir, "deploykit-prod-worker.service")); ok {
		t.Error("worker has a readiness line")
	}
	worker := get("deploykit-prod-worker.service")
	if got := val(worker, "MemoryDenyWriteExecute"); got[0] != "no" {
		t.Errorf("worker relaxation lost: %q", got)
	}
	if got := val(worker, "SystemCallFilter"); len(got) != 2 || got[1] != "~@privileged" {
		t.Errorf("worker SystemCallFilter = %q", got)
	}
	// Started with the database server and after it, but not restarted
	// with it (Wants=, not Requires=).
	if got := strings.Join(val(worker, "Wants"), " "); got != "deploykit-pg_embedded-postgres.service" {
		t.Errorf("worker Wants = %q", got)
	}
	if got := strings.Join(val(worker, "After"), " "); got != "network.target deploykit-pg_embedded-postgres.service" {
		t.Errorf("worker After = %q", got)
	}
	if got := val(web, "Wants"); len(got) != 0 {
		t.Errorf("web Wants = %q", got)
	}
	comps[1].After = []services.Ref{{Instance: "prod", Component: "web"}}
	if _, err := Render("prod", comps); !errors.Is(err, services.ErrInvalid) {
		t.Errorf("After naming the component's own instance: %v", err)
	}
	comps[1].After = []services.Ref{{Instance: "pg embedded", Component: "postgres"}}
	if _, err := Render("prod", comps); !errors.Is(err, services.ErrInvalid) {
		t.Errorf("After naming a bad instance: %v", err)
	}
	sock := get("deploykit-prod-api.socket")
	if got := val(sock, "ListenStream"); got[0] != "/run/dk-prod-api.sock" {
		t.Errorf("api socket ListenStream = %q", got)
	}
	if got := val(get("deploykit-prod-api-admin.socket"), "FileDescriptorName"); got[0] != "admin" {
		t.Errorf("admin FileDescriptorName = %q", got)
	}
	if got := val(get("deploykit-prod-api.service"), "Type"); got[0] != "notify" {
		t.Errorf("api Type = %q", got)
	}
	target := get("deploykit-prod.target")
	if got := len(val(target, "Wants")); got != 6 {
		t.Errorf("target Wants %d units, want 6", got)
	}
}

func TestRenderRejectsHomeWithoutRelaxation(t *testing.T) {
	c := services.Component{Name: "web", Instance: "dev", Command: []string{"/home/me/venv/bin/gunicorn"}}
	_, err := Render("dev", []services.Component{c})
	if !errors.Is(err, services.ErrInvalid) || !strings.Contains(err.Error(), "ProtectHome") {
		t.Fatalf("got %v", err)
	}
	c.Relax.AllowHome = true
	if _, err := Render("dev", []services.Component{c}); err != nil {
		t.Fatal(err)
	}
}

func TestRenderRejectsForeignComponent(t *testing.T) {
	cs := sampleComponents("prod", "dk-prod")
	if _, err := Render("staging", cs); !errors.Is(err, services.ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

// TestRenderedUnitsPassAnalyzers runs systemd-analyze verify and
// systemd-analyze security --offline=true over every rendered unit: no
// warnings, every service scoring ≤ 2.0.
func TestRenderedUnitsPassAnalyzers(t *testing.T) {
	// verify checks that ExecStart= binaries exist; the sample uses
	// /usr/bin/python3 and /bin/sh.
	units, err := Render("prod", sampleComponents("prod", "root"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, u := range units {
		files[u.Name] = u.Content
	}
	testenv.AnalyzeUnits(t, files, 2.0)
}

// TestInstallRefusesPathsUnderTmp: PrivateTmp=yes gives a service empty
// /tmp and /var/tmp, so a component living there would not start; Install
// says so, naming the path, and writes nothing. Render still shows it.
func TestInstallRefusesPathsUnderTmp(t *testing.T) {
	dir := t.TempDir()
	ctl := &Controller{UnitDir: dir}
	c := services.Component{Name: "web", Instance: "t1", Command: []string{"/var/tmp/dk/instances/t1/current/venv/bin/gunicorn"}}
	if _, err := Render("t1", []services.Component{c}); err != nil {
		t.Fatalf("Render: %v", err)
	}
	err := ctl.Install(context.Background(), "t1", []services.Component{c})
	if !errors.Is(err, services.ErrInvalid) || !strings.Contains(err.Error(), "/var/tmp/dk/instances/t1/current/venv/bin/gunicorn is under /var/tmp") {
		t.Fatalf("Install: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Install wrote %v", ents)
	}
}

func TestRenderSelfBoundComponentHasNoSocketUnit(t *testing.T) {
	c := services.Component{Name: "web", Instance: "prod", User: "dk-prod",
		Command:   []string{"/usr/bin/python3", "-m", "http.server", "8123", "--bind", "127.0.0.1"},
		Env:       map[string]string{"PORT": "8123"},
		SelfBound: []string{"127.0.0.1:8123"},
		Ready:     services.Readiness{Kind: services.ReadyHTTP, Path: "/"}}
	units, err := Render("prod", []services.Component{c})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, " "); got != "deploykit-prod-web.service deploykit-prod.target" {
		t.Fatalf("units: %s", got)
	}
	svc := string(units[0].Content)
	for _, no := range []string{"Sockets=", "Requires=deploykit-prod-web.socket", "LISTEN_"} {
		if strings.Contains(svc, no) {
			t.Errorf("service unit has %q:\n%s", no, svc)
		}
	}
	// The controller probes the address the program binds.
	r, ok, err := readReady(writeUnit(t, units[0]))
	if err != nil || !ok || r.Address != "127.0.0.1:8123" || r.Kind != services.ReadyHTTP {
		t.Fatalf("readiness line: %+v %v %v\n%s", r, ok, err, svc)
	}
	if !strings.Contains(svc, `Environment="PORT=8123"`) {
		t.Errorf("no PORT:\n%s", svc)
	}
}

func writeUnit(t *testing.T, u Unit) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), u.Name)
	if err := os.WriteFile(p, u.Content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
