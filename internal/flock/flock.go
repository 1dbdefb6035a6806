//go:build unix

// Package flock takes exclusive flock(2) locks that a context can give up
// on: flock itself cannot be interrupted by a context, so the lock is
// tried without blocking and retried every poll interval until it is
// free or ctx ends. internal/pgcluster (cluster.lock) and internal/nspawn
// (the shared root file system's lock) wait through it.
package flock

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Wait takes an exclusive lock on f, retrying every poll until it gets
// it. It returns ctx.Err() (unwrapped, for the caller to name the file)
// if ctx ends first, or the flock error if the lock cannot be taken at
// all. The lock is released by closing f or by LOCK_UN.
func Wait(ctx context.Context, f *os.File, poll time.Duration) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
