package instance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deploykit/deploykit/venv"
)

// TestCreateCompilesInTheBackground: a create installs the release, then
// provisions the database while the release byte-compiles, and waits for
// the compiler before migrating; it reports the compiling time against
// the time it waited, and the release it runs is compiled (the .pyc files
// in place and in RECORD).
func TestCreateCompilesInTheBackground(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	var mu sync.Mutex
	var steps []string
	var report *Event
	opts.Events = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.Kind == EventStep:
			steps = append(steps, e.Step)
		case e.Kind == EventInfo && e.Step == "compile":
			report = &e
		}
	}
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("tc")
	cleanup(t, m, name)
	st, err := m.Create(context.Background(), name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps, " "); !strings.Contains(got, "build database broker compile migrate switch") {
		t.Fatalf("steps %q: the database and the broker are not provisioned between build and compile", got)
	}
	if report == nil {
		t.Fatal("no compile report")
	}
	if report.Elapsed <= 0 || report.Waited < 0 || report.Waited > report.Elapsed || !strings.Contains(report.Message, "byte-compiled") {
		t.Fatalf("compile report %+v", *report)
	}
	t.Logf("%s", report.Message)
	v, err := venv.Open(context.Background(), m.Layout().ReleaseVenv(name, st.Current), venv.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pycs, _ := filepath.Glob(filepath.Join(v.Purelib, "__pycache__", "six.*.pyc"))
	if len(pycs) != 1 {
		t.Fatalf("six is not compiled in the release: %v", pycs)
	}
	infos, _ := filepath.Glob(filepath.Join(v.Purelib, "six-*.dist-info", "RECORD"))
	rec, err := os.ReadFile(infos[0])
	if err != nil || !strings.Contains(string(rec), "__pycache__/"+filepath.Base(pycs[0])+",,") {
		t.Fatalf("RECORD does not list %s: %v\n%s", pycs[0], err, rec)
	}
	if a := get(t, st.Ports["web"]); a.Instance != name {
		t.Fatalf("answered %+v", a)
	}
}

// TestCreateCancelledWhileCompilingLeavesNothing cancels a create while
// the release compiles in the background (as the database step starts):
// the compiler is stopped before the release is removed, and nothing of
// the instance is left.
func TestCreateCancelledWhileCompilingLeavesNothing(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Events = func(e Event) {
		if e.Kind == EventStep && e.Step == "database" {
			cancel()
		}
	}
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("tq")
	cleanup(t, m, name)
	_, err = m.Create(ctx, name, f.spec(t, "1"))
	var se *StepError
	if !errors.As(err, &se) || !se.RolledBack || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled create: %v, want a rolled-back step error", err)
	}
	checkGone(t, f.open(t), name)
}
