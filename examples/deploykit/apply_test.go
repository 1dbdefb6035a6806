package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// TestCLIApply drives `deploykit apply --json` as the Ansible module
// does: a dry run on an absent instance changes nothing, the first apply
// creates, the second changes nothing, a changed spec is planned by a dry
// run and done by apply; the exit code is 0 throughout.
func TestCLIApply(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	wh := testenv.GetWheelhouse(t)
	dir := newRoot(t)
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	spec := writeApp(t, dir, wh.Dir, "1")
	name := fmt.Sprintf("ap%d", os.Getpid()%100000)
	t.Cleanup(func() { c.run("remove", name, "--yes", "--delete-backups") })
	c.run("remove", name, "--yes")

	apply := func(args ...string) applyResult {
		t.Helper()
		var r applyResult
		out := c.ok(append([]string{"apply", name, "--spec", spec, "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	r := apply("--dry-run")
	if !r.Changed || !r.DryRun || r.Plan.Action != "create" || r.Release != "r1" || r.Ports["web"] == 0 {
		t.Fatalf("dry run on an absent instance: %+v", r)
	}
	if _, err := os.Stat(c.root); !os.IsNotExist(err) {
		t.Fatalf("the dry run made the root: %v", err)
	}
	r = apply()
	if !r.Changed || r.Release != "r1" || r.Plan.Action != "create" || r.Seconds <= 0 {
		t.Fatalf("first apply: %+v", r)
	}
	if b := httpGet(t, r.Ports["web"]); b == "" {
		t.Fatal("not serving")
	}
	r = apply()
	if r.Changed || r.Release != "r1" || r.Plan.Action != "none" {
		t.Fatalf("second apply: %+v", r)
	}
	writeApp(t, dir, wh.Dir, "2")
	r = apply("--dry-run")
	if !r.Changed || r.Plan.Action != "upgrade" || r.Plan.From != "r1" || c.status(name).Current != "r1" {
		t.Fatalf("dry run of a changed spec: %+v", r)
	}
	r = apply()
	if !r.Changed || r.Release != "r2" || c.status(name).Current != "r2" {
		t.Fatalf("apply of a changed spec: %+v", r)
	}
	// Without --json: one line, exit 0.
	if out := c.ok("apply", name, "--spec", spec); out != name+" unchanged (release r2)\n" {
		t.Fatalf("apply: %q", out)
	}
}
