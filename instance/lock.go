package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/internal/flock"
)

// ErrLocked is returned when another operation holds the instance's lock.
var ErrLocked = errors.New("locked by another operation")

// LockedError says which instance is locked and, when known, by which
// process and operation.
type LockedError struct {
	Instance string
	PID      int    // 0 when unknown
	Op       string // "" when unknown
}

func (e *LockedError) Error() string {
	s := fmt.Sprintf("instance %s: %v", e.Instance, ErrLocked)
	if e.PID > 0 {
		s += fmt.Sprintf(" (pid %d", e.PID)
		if e.Op != "" {
			s += ", " + e.Op
		}
		s += ")"
	}
	return s + "; try again when it has finished"
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// instanceLock is an exclusive flock(2) on instances/NAME/.lock. The kernel
// drops it when the process dies, so a crashed operation never leaves a
// stale lock; the journal tells the next holder what to finish.
type instanceLock struct {
	f *os.File
}

// lockInstance takes the lock without waiting: a second operation fails
// at once with *LockedError rather than queueing behind a long upgrade.
func lockInstance(path, name, op string) (*instanceLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("instance %s: lock: %w", name, err)
	}
	if ok, err := flock.Try(f, true); err != nil || !ok {
		f.Close()
		if err == nil {
			le := &LockedError{Instance: name}
			if b, rerr := os.ReadFile(path); rerr == nil {
				fields := strings.Fields(string(b))
				if len(fields) >= 1 {
					le.PID, _ = strconv.Atoi(fields[0])
				}
				if len(fields) >= 2 {
					le.Op = fields[1]
				}
			}
			return nil, le
		}
		return nil, fmt.Errorf("instance %s: lock: %w", name, err)
	}
	// Record the holder for the error message of the next contender.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), op)), 0)
	return &instanceLock{f: f}, nil
}

func (l *instanceLock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
