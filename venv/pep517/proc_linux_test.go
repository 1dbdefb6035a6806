package pep517

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

var errGone = errors.New("process gone")

// syscallKill0 returns nil while pid is alive; a missing process or a
// zombie (killed, not yet reaped by whoever inherited it) is gone.
func syscallKill0(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errGone
	}
	// pid (comm) STATE ...; comm may hold spaces, so look after the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
		return errGone
	}
	return nil
}
