package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOwnPackagesInitLittle: every deploykit process runs the package
// initialisation of every package linked into the binary, whatever the
// command. deploykit's own packages keep theirs to small tables, 8 KiB
// allocated in all (about 4.7 KiB today): a regexp compiled at package
// level (internal/lazyregexp is the way) or a table built at start
// exceeds it (the one regexp pgcluster compiled at start allocated
// 7.6 KiB in 73 allocations).
func TestOwnPackagesInitLittle(t *testing.T) {
	cmd := exec.Command(binary, "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploykit --help: %v\n%s", err, stderr.String())
	}
	// init github.com/deploykit/deploykit/venv @15 ms, 0.021 ms clock, 160 bytes, 4 allocs
	total, own := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		total++
		if !strings.HasPrefix(f[1], "github.com/deploykit/deploykit/") {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		own += n
		t.Logf("%s: %d bytes, %s allocations", f[1], n, f[9])
	}
	if total < 50 {
		t.Fatalf("inittrace listed %d packages:\n%s", total, stderr.String())
	}
	if own > 8<<10 {
		t.Errorf("deploykit's packages allocate %d bytes at initialisation, budget 8 KiB", own)
	}
}
