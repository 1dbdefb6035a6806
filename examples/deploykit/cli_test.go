package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/instance"
)

// TestEveryCommandHasHelpWithExamples walks the command tree: every
// visible command documents itself with a short line and examples.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	a := &app{}
	root := a.rootCommand(nil)
	want := []string{"create", "list", "status", "start", "stop", "restart", "upgrade", "apply", "hotfix", "rollback", "run", "backup", "verify", "restore", "clone", "lock", "venv", "install", "sync", "units", "logs", "remove", "doctor"}
	have := map[string]*cobra.Command{}
	for _, c := range root.Commands() {
		have[c.Name()] = c
	}
	for _, name := range want {
		c, ok := have[name]
		if !ok {
			t.Errorf("command %s missing", name)
			continue
		}
		if c.Short == "" || !strings.Contains(c.Example, "deploykit "+name) {
			t.Errorf("%s: no short help or no example using it", name)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"hotfix", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "Examples:") {
		t.Fatalf("hotfix --help: exit %d\n%s", code, out.String())
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{usagef("bad"), exitUsage},
		{fmt.Errorf("x: %w", instance.ErrInvalidSpec), exitUsage},
		{fmt.Errorf("x: %w", instance.ErrInvalidName), exitUsage},
		{&instance.LockedError{Instance: "p"}, exitConflict},
		{fmt.Errorf("x: %w", instance.ErrExists), exitConflict},
		{fmt.Errorf("instance p: %w", instance.ErrNotFound), exitNotFound},
		{errors.New("migration failed"), exitFailure},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
	var out bytes.Buffer
	for args, want := range map[string]int{
		"nosuchcommand":          exitUsage,
		"status":                 exitUsage, // missing NAME
		"remove x":               exitUsage, // no --yes
		"list --no-such-flag":    exitUsage,
		"restore x y.dkb":        exitUsage, // no --yes
		"status Bad_Name --json": exitUsage,
	} {
		out.Reset()
		if code := run(append(strings.Fields(args), "--root", t.TempDir()), &out, &out); code != want {
			t.Errorf("deploykit %s: exit %d, want %d\n%s", args, code, want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"create", "x", "--spec", "/nonexistent/app.toml", "--root", t.TempDir()}, &out, &out); code != exitNotFound || !strings.Contains(out.String(), "/nonexistent/app.toml") {
		t.Errorf("create with a missing spec file: exit %d, want %d naming the file\n%s", code, exitNotFound, out.String())
	}
	out.Reset()
	if code := run([]string{"status", "nosuch", "--root", t.TempDir()}, &out, &out); code != exitNotFound {
		t.Errorf("status of a missing instance: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"list", "--json", "--root", t.TempDir()}, &out, &out); code != 0 || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("list --json on an empty root: %d %q", code, out.String())
	}
}

// TestListenAddressFlag: --listen-address and $DEPLOYKIT_LISTEN_ADDRESS
// bind the rendered sockets on that address; a value that is no IP
// address is a usage error naming it.
func TestListenAddressFlag(t *testing.T) {
	dir := t.TempDir()
	spec := writeApp(t, dir, dir, "1")
	var out bytes.Buffer
	if code := run([]string{"units", "la", "--spec", spec, "--root", t.TempDir(), "--listen-address", "127.0.7.7"}, &out, &out); code != 0 || !strings.Contains(out.String(), "ListenStream=127.0.7.7:") {
		t.Fatalf("units with --listen-address: exit %d\n%s", code, out.String())
	}
	t.Setenv(instance.EnvListenAddress, "127.0.7.8")
	out.Reset()
	if code := run([]string{"units", "la", "--spec", spec, "--root", t.TempDir()}, &out, &out); code != 0 || !strings.Contains(out.String(), "ListenStream=127.0.7.8:") {
		t.Fatalf("units with $%s: exit %d\n%s", instance.EnvListenAddress, code, out.String())
	}
	out.Reset()
	if code := run([]string{"list", "--root", t.TempDir(), "--listen-address", "localhost:80"}, &out, &out); code != exitUsage || !strings.Contains(out.String(), "localhost:80") {
		t.Fatalf("a bad listen address: exit %d\n%s", code, out.String())
	}
}

// doctor says whether specs with [broker] can be served: rabbitmq-server
// for the embedded node, or a --broker-url that answers.
func TestDoctorChecksTheBroker(t *testing.T) {
	var out, errb strings.Builder
	run([]string{"doctor", "--json", "--root", t.TempDir(), "--broker-url", "http://admin:pw@127.0.0.1:1/"}, &out, &errb)
	var checks []check
	if err := json.Unmarshal([]byte(out.String()), &checks); err != nil {
		t.Fatalf("%v: %s %s", err, out.String(), errb.String())
	}
	found := false
	for _, c := range checks {
		if c.Name == "rabbitmq" {
			found = true
			if c.OK || c.Required || !strings.Contains(c.Detail, "not usable") || strings.Contains(c.Detail, "pw") {
				t.Fatalf("unreachable --broker-url: %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("no rabbitmq check: %s", out.String())
	}
	out.Reset()
	run([]string{"doctor", "--json", "--root", t.TempDir()}, &out, &errb)
	json.Unmarshal([]byte(out.String()), &checks)
	for _, c := range checks {
		if c.Name == "rabbitmq" {
			if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); (err == nil) != c.OK {
				t.Fatalf("embedded node check %+v, rabbitmq-server installed: %v", c, err == nil)
			}
			return
		}
	}
	t.Fatal("no rabbitmq check without --broker-url")
}
