//go:build unix

// Package flock takes flock(2) locks on lock files, the way deploykit
// serialises work across processes.
//
// Lock and File block until they have the lock: venv's wheel cache lock
// (shared for installs, exclusive for Prune), its per-venv directory
// lock, venv/pep517's per-source-tree build lock and
// requirements/index/vcs's per-mirror lock.
//
// Try takes a lock only if it is free: instance's per-instance lock (a
// second operation fails at once), the supervisor's instance lock and
// its probe of whether a supervisor runs.
//
// Wait takes an exclusive lock that a context can give up on: flock
// itself cannot be interrupted by a context, so the lock is tried without
// blocking and retried every poll interval until it is free or ctx ends;
// internal/pgcluster (cluster.lock) and internal/nspawn (the shared root
// file system's lock) wait through it.
package flock

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Lock opens path (creating it with perm) and takes a shared or an
// exclusive lock on it, blocking until it is granted; unlock releases it
// by closing the file.
func Lock(path string, perm os.FileMode, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
	if err != nil {
		return nil, err
	}
	if err := File(f, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// File takes a shared or an exclusive lock on an open file (or
// directory: venv locks its own directory), blocking until it is granted.
// Closing f releases it.
func File(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Wait takes an exclusive lock on f, retrying every poll until it gets
// it. It returns ctx.Err() (unwrapped, for the caller to name the file)
// if ctx ends first, or the flock error if the lock cannot be taken at
// all. The lock is released by closing f or by LOCK_UN.
func Wait(ctx context.Context, f *os.File, poll time.Duration) error {
	for {
		ok, err := Try(f, true)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Try takes a shared or an exclusive lock on f if no other holder keeps
// it from doing so, without waiting: ok is false when one does. The lock
// is released by closing f or by LOCK_UN.
func Try(f *os.File, exclusive bool) (ok bool, err error) {
	how := syscall.LOCK_SH | syscall.LOCK_NB
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}
