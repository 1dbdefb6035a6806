package tailbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBufferKeepsTheTail(t *testing.T) {
	b := &Buffer{Max: 10}
	fmt.Fprint(b, "hello")
	if b.String() != "hello" || b.Truncated() {
		t.Fatalf("under the limit: %q truncated=%v", b.String(), b.Truncated())
	}
	fmt.Fprint(b, "world")
	if b.String() != "helloworld" || b.Truncated() {
		t.Fatalf("at the limit: %q truncated=%v", b.String(), b.Truncated())
	}
	n, err := b.Write([]byte("!0123456789abc"))
	if n != 14 || err != nil {
		t.Fatalf("Write = %d, %v: want all of it accepted", n, err)
	}
	if b.String() != "3456789abc" || !b.Truncated() {
		t.Fatalf("over the limit: %q truncated=%v, want the last 10 bytes", b.String(), b.Truncated())
	}
}

func TestBufferConcurrentWriters(t *testing.T) {
	b := &Buffer{Max: 64}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 1000; k++ {
				b.Write([]byte("0123456789\n"))
			}
		}()
	}
	wg.Wait()
	s := b.String()
	if len(s) != 64 || !b.Truncated() || strings.Trim(s, "0123456789\n") != "" {
		t.Fatalf("after concurrent writes: %q (%d bytes), truncated=%v", s, len(s), b.Truncated())
	}
}
