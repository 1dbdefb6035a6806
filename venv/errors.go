package venv

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	ErrNoInterpreter = errors.New("no matching interpreter")
	ErrNotExecutable = errors.New("not an executable file")
	ErrExists        = errors.New("already exists")
	ErrNotVenv       = errors.New("not a virtual environment")
	ErrBadWheel      = errors.New("invalid wheel")
	ErrHashMismatch  = errors.New("hash does not match RECORD")
	ErrUnsafePath    = errors.New("unsafe path (absolute, .. or outside the target)")
	ErrIncompatible  = errors.New("wheel is not compatible with the interpreter")
	ErrNotInstalled  = errors.New("distribution is not installed")
	ErrCacheCorrupt  = errors.New("cache entry is corrupt")
	ErrDistMismatch  = errors.New("wheel does not match the distribution it was given for")
)

// WheelError names the wheel, and the file inside it when one is at fault.
type WheelError struct {
	Wheel string // the wheel file
	File  string // the member inside the wheel, or ""
	Err   error
}

func (e *WheelError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("venv: wheel %s: %s: %v", e.Wheel, e.File, e.Err)
	}
	return fmt.Sprintf("venv: wheel %s: %v", e.Wheel, e.Err)
}

func (e *WheelError) Unwrap() error { return e.Err }

// VenvError names the virtual environment an operation failed in.
type VenvError struct {
	Dir string
	Op  string // "create", "install", "uninstall", "sync"
	Err error
}

func (e *VenvError) Error() string { return fmt.Sprintf("venv: %s %s: %v", e.Op, e.Dir, e.Err) }
func (e *VenvError) Unwrap() error { return e.Err }
