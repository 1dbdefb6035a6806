package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

// holderGrace bounds how long lockInstance waits for a lock whose
// recorded holder is dead (or not yet, or no longer, recorded).
//
// The kernel drops a flock with the last descriptor of its open file, and
// that is not always the holder's: a process killed while it starts a
// child (a compiler worker, say) dies while the child, between fork and
// exec, still holds a copy of every descriptor, close-on-exec ones
// included, until its exec closes them. So the lock of an operation that
// was killed outlives it by a few milliseconds, 2-15 ms measured on a
// loaded 2-CPU host, and an operation started right after the crash (a
// retrying script, a deploy tool's next task) would otherwise be refused
// in the name of a process that no longer exists. A live holder is
// reported at once, as before.
const holderGrace = time.Second

// lockInstance takes the lock without waiting for a live holder: a second
// operation fails at once with *LockedError rather than queueing behind a
// long upgrade.
func lockInstance(path, name, op string) (*instanceLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("instance %s: lock: %w", name, err)
	}
	deadline := time.Now().Add(holderGrace)
	for {
		ok, err := flock.Try(f, true)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("instance %s: lock: %w", name, err)
		}
		if ok {
			break
		}
		le := lockHolder(path, name)
		if (le.PID > 0 && processExists(le.PID)) || time.Now().After(deadline) {
			f.Close()
			return nil, le
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Record the holder for the error message of the next contender.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), op)), 0)
	return &instanceLock{f: f}, nil
}

// lockHolder reads the holder a lock file records ("PID OP").
func lockHolder(path, name string) *LockedError {
	le := &LockedError{Instance: name}
	if b, err := os.ReadFile(path); err == nil {
		fields := strings.Fields(string(b))
		if len(fields) >= 1 {
			le.PID, _ = strconv.Atoi(fields[0])
		}
		if len(fields) >= 2 {
			le.Op = fields[1]
		}
	}
	return le
}

// processExists reports whether pid names a process (a zombie counts: it
// holds no descriptors, so its lock is already gone when this is asked).
// EPERM is a process of another user, alive.
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
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
