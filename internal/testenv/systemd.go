package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`)

// AnalyzeUnits writes units (file name to content) into a fresh directory
// and runs systemd-analyze on them, as systemd would read them: verify
// must print nothing, and the offline security review of each .service
// must score at most maxExposure. The unit path is that directory plus
// systemd's own units, so references between the units resolve; verify
// also checks that each ExecStart= program exists.
func AnalyzeUnits(t testing.TB, units map[string][]byte, maxExposure float64) {
	t.Helper()
	analyze := Command(t, "systemd-analyze")
	dir := t.TempDir()
	var names, paths []string
	for name := range units {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, units[name], 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	env := append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":", "SYSTEMD_LOG_COLOR=0")
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, name := range names {
		if !strings.HasSuffix(name, ".service") {
			continue
		}
		cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", filepath.Join(dir, name))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		m := exposureRE.FindSubmatch(out)
		if m == nil {
			t.Errorf("%s: no security score (%v):\n%s", name, err, out)
			continue
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %s %s", name, m[1], m[2])
		if v > maxExposure {
			t.Errorf("%s scores %.1f > %.1f:\n%s", name, v, maxExposure, out)
		}
	}
}
