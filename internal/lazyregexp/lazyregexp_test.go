package lazyregexp

import (
	"sync"
	"testing"
)

func TestCompiledOnceOnFirstUse(t *testing.T) {
	r := New(`^a(b+)c$`)
	if r.rx != nil {
		t.Fatal("compiled by New")
	}
	var wg sync.WaitGroup
	res := make([]bool, 8)
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = r.MatchString("abbc") }()
	}
	wg.Wait()
	first := r.Re()
	for i, ok := range res {
		if !ok {
			t.Fatalf("goroutine %d: no match", i)
		}
	}
	if r.Re() != first {
		t.Fatal("compiled twice")
	}
	if m := r.FindStringSubmatch("abbbc"); len(m) != 2 || m[1] != "bbb" {
		t.Fatalf("FindStringSubmatch = %q", m)
	}
	if got := r.ReplaceAllString("abc", "x"); got != "x" {
		t.Fatalf("ReplaceAllString = %q", got)
	}
	if r.String() != `^a(b+)c$` {
		t.Fatalf("String = %q", r.String())
	}
}

func TestInvalidExpressionPanicsOnFirstUse(t *testing.T) {
	r := New(`(`) // New must not panic
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on first use of an invalid expression")
		}
	}()
	r.MatchString("x")
}
