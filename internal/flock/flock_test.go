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

func TestWaitTakesAFreeLockAndWaitsForAHeldOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
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
