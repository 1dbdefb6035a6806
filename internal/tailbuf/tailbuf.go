// Package tailbuf keeps the end of a subprocess's output for error
// messages: the last lines of a failed build, hook or container boot are
// what explains it, and the whole output can be unbounded. venv/pep517
// (build hooks), instance/schema (migration hooks) and internal/nspawn
// (the container console) collect output through it.
package tailbuf

import (
	"slices"
	"sync"
)

// Buffer is an io.Writer that keeps the last Max bytes written to it.
// It is safe for concurrent use (a command's stdout and stderr copied by
// separate goroutines).
type Buffer struct {
	Max int

	mu  sync.Mutex
	buf []byte
	cut bool
}

// Write keeps the tail of what has been written; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.Max {
		// A copy, so the array behind earlier, larger writes is freed.
		b.buf = slices.Clone(b.buf[len(b.buf)-b.Max:])
		b.cut = true
	}
	return len(p), nil
}

// String returns the bytes kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Truncated reports whether anything written has been dropped.
func (b *Buffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cut
}
