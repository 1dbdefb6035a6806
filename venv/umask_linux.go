package venv

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// umask is the process's file mode creation mask, read from
// /proc/self/status (reading it with umask(2) would have to set it, racing
// other goroutines). Files deploykit creates with an explicit chmod get the
// modes pip's would: 0o666 &^ umask, 0o777 &^ umask.
var umask = sync.OnceValue(func() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(n)
				}
			}
		}
	}
	return 0o022
})
