package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// fileOp is an operation whose steps each create one file, undone by
// removing it: the "old state" is no files, the "new state" all of them.
func fileOp(dir string, failAt string) *operation {
	op := &operation{op: "files", params: map[string]string{"dir": dir, "fail": failAt}}
	for _, name := range []string{"a", "b", "c", "d"} {
		name := name
		op.steps = append(op.steps, step{
			name: name,
			do: func(context.Context) error {
				if name == failAt {
					// Half-done work that undo must clean up.
					os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644)
					return errors.New("step failed")
				}
				return os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644)
			},
			undo: func(context.Context) error {
				err := os.Remove(filepath.Join(dir, name))
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			},
			commit: name == "c",
		})
	}
	return op
}

func planFileOp(op string, params map[string]string) (*operation, error) {
	if op != "files" {
		return nil, errors.New("unknown op " + op)
	}
	return fileOp(params["dir"], ""), nil
}

func journalChild(ctx context.Context, dir, crashAt string) error {
	return runOperation(ctx, filepath.Join(dir, "journal"), fileOp(filepath.Join(dir, "state"), ""), crashAt, func(string, bool, error) {})
}

func stateFiles(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, "")
}

func TestOperationFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o755)
	var events []string
	err := runOperation(context.Background(), filepath.Join(dir, "journal"), fileOp(state, "b"), "", func(s string, done bool, err error) {
		if done {
			events = append(events, s+":done")
		} else {
			events = append(events, s)
		}
	})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "b" || !se.RolledBack {
		t.Fatalf("err = %v", err)
	}
	if got := stateFiles(t, state); got != "" {
		t.Fatalf("state after rollback = %q, want empty", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal")); !os.IsNotExist(err) {
		t.Fatal("journal left after a completed rollback")
	}
	if strings.Join(events, " ") != "a a:done b b:done" {
		t.Fatalf("events %v", events)
	}
}

// TestOperationKilledAtEveryStepConverges kills a child process running
// the operation at every crash point, then recovers in this process and
// checks the state is wholly old (before the commit) or wholly new.
func TestOperationKilledAtEveryStepConverges(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	points := append(crashPoints(fileOp("", "")), "none")
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			os.Mkdir(state, 0o755)
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "DEPLOYKIT_TEST_CHILD=journal", "DEPLOYKIT_TEST_DIR="+dir, "DEPLOYKIT_TEST_CRASH_AT="+point)
			out, err := cmd.CombinedOutput()
			if point == "none" {
				if err != nil {
					t.Fatalf("child: %v\n%s", err, out)
				}
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("child was not killed at %s: %v\n%s", point, err, out)
			}
			rec, err := recoverOperation(context.Background(), filepath.Join(dir, "journal"), "", planFileOp)
			if err != nil {
				t.Fatal(err)
			}
			got := stateFiles(t, state)
			committed := point == "none" || point >= "d" // "c:done" dies before the commit record
			want := ""
			if committed {
				want = "abcd"
			}
			if got != want {
				t.Fatalf("after crash at %s and recovery (%v): state %q, want %q", point, rec, got, want)
			}
			if point != "none" && rec == nil {
				t.Fatalf("no recovery reported for crash at %s", point)
			}
			if _, err := os.Stat(filepath.Join(dir, "journal")); !os.IsNotExist(err) {
				t.Fatal("journal left after recovery")
			}
			// Recovering again is a no-op.
			if rec, err := recoverOperation(context.Background(), filepath.Join(dir, "journal"), "", planFileOp); rec != nil || err != nil {
				t.Fatalf("second recovery: %v %v", rec, err)
			}
		})
	}
}

func TestLockIsExclusiveAndNamesHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x", ".lock")
	l, err := lockInstance(p, "x", "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockInstance(p, "x", "status")
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Op != "upgrade" || le.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	l.Unlock()
	l2, err := lockInstance(p, "x", "status")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
}

// TestLockOfADeadHolderIsWaitedFor holds an instance lock the way a
// killed operation's child can (the open file inherited by a process that
// outlives the holder the file records) and checks that lockInstance waits
// for it when the recorded holder is dead, but refuses at once when it is
// alive, and names the holder after holderGrace.
func TestLockOfADeadHolderIsWaitedFor(t *testing.T) {
	deadPID := func() int {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process.Pid
	}
	// hold takes the lock, records pid as its holder and hands the open
	// file to a process that sleeps for d, then drops its own descriptor.
	hold := func(p string, pid int, d time.Duration) *exec.Cmd {
		l, err := lockInstance(p, "x", "create")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sleep", fmt.Sprint(d.Seconds()))
		cmd.ExtraFiles = []*os.File{l.f}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if pid == 0 {
			pid = cmd.Process.Pid
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("%d create\n", pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		l.f.Close() // not Unlock: LOCK_UN would drop the sleeper's lock too
		return cmd
	}
	dir := t.TempDir()

	t.Run("dead holder, released", func(t *testing.T) {
		p := filepath.Join(dir, "a", ".lock")
		t0 := time.Now()
		hold(p, deadPID(), 300*time.Millisecond)
		l, err := lockInstance(p, "x", "status")
		if err != nil {
			t.Fatalf("lock of a dead holder: %v", err)
		}
		defer l.Unlock()
		// Granted only once the sleeper, the lock's last holder, exited.
		if d := time.Since(t0); d < 250*time.Millisecond {
			t.Fatalf("granted after %v, while the sleeper still held it", d)
		}
	})
	t.Run("live holder", func(t *testing.T) {
		p := filepath.Join(dir, "b", ".lock")
		sleeper := hold(p, 0, 10*time.Second)
		t0 := time.Now()
		_, err := lockInstance(p, "x", "status")
		var le *LockedError
		if !errors.As(err, &le) || le.PID != sleeper.Process.Pid || le.Op != "create" {
			t.Fatalf("lock of a live holder: %v", err)
		}
		if d := time.Since(t0); d > holderGrace/2 {
			t.Fatalf("refused after %v, want at once", d)
		}
	})
	t.Run("dead holder, kept", func(t *testing.T) {
		p := filepath.Join(dir, "c", ".lock")
		dead := deadPID()
		hold(p, dead, 10*time.Second)
		t0 := time.Now()
		_, err := lockInstance(p, "x", "status")
		var le *LockedError
		if !errors.As(err, &le) || le.PID != dead {
			t.Fatalf("lock kept past the grace: %v", err)
		}
		if d := time.Since(t0); d < holderGrace {
			t.Fatalf("refused after %v, want after %v", d, holderGrace)
		}
	})
}

func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","event":"op","op":"upgrade","params":{"release":"r2"}}
{"time":"2026-01-01T00:00:00Z","event":"begin","step":"build"}
{"time":"2026-01-01T00:00:00Z","event":"done","step":"build"}
{"time":"2026-01-01T00:00:00Z","event":"commit"}
`))
	f.Add([]byte(`{"event":"begin","step":"x"}`))
	f.Add([]byte(`{"event":"op","op":"create"}` + "\n" + `{"event":"rollback"}` + "\n{\"ev"))
	// A torn last line (the process killed mid-append) never changes
	// what the journal says: recovery sees the records before it.
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		read := func(name string, b []byte) (*journalState, error) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return readJournal(p)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		st1, err1 := read("whole", data)
		st2, err2 := read("torn", append(append([]byte{}, data...), []byte(`{"time":"2026-01-0`)...))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("torn line changed the error: %v vs %v", err1, err2)
		}
		if !reflect.DeepEqual(st1, st2) {
			t.Fatalf("torn line changed the state:\n%+v\n%+v", st1, st2)
		}
	})
}
