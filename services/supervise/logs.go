package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rotator is an append-only log file rotated by size: path, path.1, …
type rotator struct {
	mu    sync.Mutex
	path  string
	max   int64
	keep  int
	f     *os.File
	size  int64
	nosub bool
}

func openRotator(path string, max int64, keep int) (*rotator, error) {
	r := &rotator{path: path, max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *rotator) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.max > 0 && r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotator) rotate() error {
	r.f.Close()
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if r.keep > 0 {
		os.Rename(r.path, r.path+".1")
	} else {
		os.Remove(r.path)
	}
	return r.open()
}

func (r *rotator) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// tailLines returns the last n lines of the file at path.
func tailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	const chunk = 16 << 10
	off := fi.Size() - chunk
	if off < 0 {
		off = 0
	}
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return lastLines(string(buf), n)
}

func lastLines(s string, n int) string {
	end := len(s)
	for end > 0 && s[end-1] == '\n' {
		end--
	}
	s = s[:end]
	i := len(s)
	for k := 0; k < n && i > 0; k++ {
		j := i - 1
		for j >= 0 && s[j] != '\n' {
			j--
		}
		i = j
		if i < 0 {
			i = 0
			break
		}
	}
	if i > 0 {
		i++
	}
	return s[i:]
}

// follower reads a log file and, with follow, keeps reading what is
// appended, reopening the file when it is rotated.
type follower struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	path   string
	f      *os.File
	follow bool
	pre    []byte // buffered start (last N lines)
}

// startMarker begins the line the supervisor writes into a component's
// log before each start of its process: the marker, the time (RFC 3339,
// UTC), "] starting" and the command.
const startMarker = "deploykit-supervise: ["

// sinceStart returns the part of log text s from its first start marker
// at or after t, or "" when there is none.
func sinceStart(s string, t time.Time) string {
	for off := 0; off < len(s); {
		line, _, _ := strings.Cut(s[off:], "\n")
		if rest, ok := strings.CutPrefix(line, startMarker); ok {
			if ts, _, ok := strings.Cut(rest, "]"); ok {
				if at, err := time.Parse(time.RFC3339Nano, ts); err == nil && !at.Before(t) {
					return s[off:]
				}
			}
		}
		off += len(line) + 1
	}
	return ""
}

// openLog reads the log at path: the last lines, or (with since) what was
// written from the first start at or after since, then, with follow, what
// is appended.
func openLog(ctx context.Context, path string, lines int, since time.Time, follow bool) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	fl := &follower{ctx: ctx, cancel: cancel, path: path, f: f, follow: follow}
	if lines > 0 || !since.IsZero() {
		if since.IsZero() {
			fl.pre = []byte(tailLines(path, lines))
		} else {
			text := sinceStart(tailLines(path, math.MaxInt), since)
			if lines > 0 {
				text = lastLines(text, lines)
			}
			fl.pre = []byte(text)
		}
		if len(fl.pre) > 0 {
			fl.pre = append(fl.pre, '\n')
		}
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			cancel()
			return nil, err
		}
	}
	return fl, nil
}

func (fl *follower) Read(p []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.pre) > 0 {
		n := copy(p, fl.pre)
		fl.pre = fl.pre[n:]
		return n, nil
	}
	for {
		if fl.f == nil {
			return 0, os.ErrClosed
		}
		n, err := fl.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if !fl.follow {
			return 0, io.EOF
		}
		// At the end: was the file rotated away under us? Then go on with
		// its successor (path.N … path.1, path), so no rotated file is
		// skipped even if several rotations happened since the last look.
		if next := fl.successor(); next != nil {
			if n, _ := fl.f.Read(p); n > 0 {
				next.Close()
				return n, nil
			}
			fl.f.Close()
			fl.f = next
			continue
		}
		fl.mu.Unlock()
		select {
		case <-fl.ctx.Done():
			fl.mu.Lock()
			return 0, io.EOF
		case <-time.After(50 * time.Millisecond):
		}
		fl.mu.Lock()
	}
}

// successor opens the log file written after the one being read, or
// returns nil when that is still the current file.
func (fl *follower) successor() *os.File {
	cur, err := fl.f.Stat()
	if err != nil {
		return nil
	}
	if st, err := os.Stat(fl.path); err == nil && sameFile(cur, st) {
		return nil
	}
	// Oldest first: path.N, …, path.1, path.
	var chain []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", fl.path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		chain = append([]string{p}, chain...)
	}
	chain = append(chain, fl.path)
	pos := -1
	for i, p := range chain {
		if st, err := os.Stat(p); err == nil && sameFile(cur, st) {
			pos = i
		}
	}
	// Our file is gone (rotated out): everything left is newer.
	for _, p := range chain[pos+1:] {
		if f, err := os.Open(p); err == nil {
			return f
		}
	}
	return nil
}

func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

func (fl *follower) Close() error {
	fl.cancel()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.f != nil {
		err := fl.f.Close()
		fl.f = nil
		return err
	}
	return nil
}
