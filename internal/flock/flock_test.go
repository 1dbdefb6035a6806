//go:build unix

package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// openFile opens path (another open file description each time, as
// another process would have), closed when the test ends.
func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestWaitTakesAFreeLockAndWaitsForAHeldOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File { return openFile(t, path) }
	a, b := open(), open()
	ctx := context.Background()
	if err := Wait(ctx, a, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Held through a: b (another open file description) must wait, and
	// give up with the context's error.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Wait(tctx, b, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a held lock = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("gave up after %v, before the context ended", d)
	}
	// Released while b waits: b gets it.
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, b, 10*time.Millisecond) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v while the lock was held", err)
	default:
	}
	if err := syscall.Flock(int(a.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not take the released lock")
	}
}

func TestWaitReportsAnUnlockableFile(t *testing.T) {
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // a closed descriptor cannot be locked
	if err := Wait(context.Background(), f, time.Millisecond); err == nil {
		t.Fatal("Wait on a closed file succeeded")
	}
}

func TestLockSharedAndExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub-missing", "lock")
	if _, err := Lock(path, 0o644, false); err == nil {
		t.Fatal("Lock in a missing directory succeeded")
	}
	path = filepath.Join(t.TempDir(), "lock")
	s1, err := Lock(path, 0o640, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("lock file %v, %v: want it created with mode 0640 (less the umask)", fi, err)
	}
	s2, err := Lock(path, 0o640, false) // shared locks coexist
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		unlock, err := Lock(path, 0o640, true)
		if err != nil {
			t.Error(err)
			got <- func() {}
			return
		}
		got <- unlock
	}()
	s1()
	select {
	case <-got:
		t.Fatal("exclusive lock granted while a shared one is held")
	case <-time.After(100 * time.Millisecond):
	}
	s2()
	var ex func()
	select {
	case ex = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("exclusive lock not granted after the shared ones were released")
	}
	// Held exclusively: a non-blocking try from another description fails.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("shared try under an exclusive lock = %v, want EWOULDBLOCK", err)
	}
	ex()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		t.Fatalf("unlock did not release the lock: %v", err)
	}
}

// File locks a directory as venv locks its own.
func TestFileLocksADirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := File(a, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := syscall.Flock(int(b.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("shared try under File's exclusive lock = %v, want EWOULDBLOCK", err)
	}
	a.Close()
	if err := File(b, false); err != nil {
		t.Fatalf("File(shared) after the exclusive holder closed: %v", err)
	}
}

func TestTryNeverWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File { return openFile(t, path) }
	a, b, c := open(), open(), open()
	if ok, err := Try(a, false); !ok || err != nil {
		t.Fatalf("shared lock on a free file: %v %v", ok, err)
	}
	if ok, err := Try(b, false); !ok || err != nil {
		t.Fatalf("second shared lock: %v %v", ok, err)
	}
	if ok, err := Try(c, true); ok || err != nil {
		t.Fatalf("exclusive lock beside two shared ones: %v %v", ok, err)
	}
	a.Close()
	b.Close()
	if ok, err := Try(c, true); !ok || err != nil {
		t.Fatalf("exclusive lock once the others closed: %v %v", ok, err)
	}
	d := open()
	if ok, err := Try(d, false); ok || err != nil {
		t.Fatalf("shared lock beside an exclusive one: %v %v", ok, err)
	}
	closed := open()
	closed.Close()
	if _, err := Try(closed, true); err == nil {
		t.Fatal("a closed file locked")
	}
}
