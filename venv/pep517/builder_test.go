package pep517

import (
	"testing"

	"github.com/deploykit/deploykit/requirements/index"
)

// Frontend is the builder requirements/index asks for sdists, local
// directories and VCS checkouts.
var _ index.Builder = (*Frontend)(nil)

// A hook's output keeps its end; "…" says the start was dropped.
func TestHookOutputMarksATruncatedStart(t *testing.T) {
	out := &hookOutput{}
	out.Max = 4
	out.Write([]byte("abc"))
	if got := out.String(); got != "abc" {
		t.Fatalf("short output = %q, want it whole and unmarked", got)
	}
	out.Write([]byte("def"))
	if got := out.String(); got != "…cdef" {
		t.Fatalf("long output = %q, want %q", got, "…cdef")
	}
}
