//go:build packagingdiff

package pep440

// A differential test against pypa/packaging >= 26 itself, which pip does
// not vendor yet, so it is opt-in:
//
//	PACKAGING_SRC=/path/to/packaging/src PYTHON=python3.12 \
//	  go test -tags packagingdiff -run PackagingDiff ./requirements/pep440/

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestPackagingDiff(t *testing.T) {
	src := os.Getenv("PACKAGING_SRC")
	py := os.Getenv("PYTHON")
	if src == "" || py == "" {
		t.Fatal("set PACKAGING_SRC (packaging's src directory) and PYTHON")
	}
	for _, seed := range []string{"5", "6", "7"} {
		cmd := exec.Command(py, "testdata/packaging_diff.py", seed)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+src)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		vers := strings.Fields(lines[0])
		pol := map[string]PrereleasePolicy{"None": PrereleaseDefault, "True": PrereleaseAllow, "False": PrereleaseDeny}
		for _, line := range lines[1:] {
			parts := strings.Split(line, "\t")
			ss := MustParseSpecifiers(parts[0]).WithPrereleases(pol[parts[1]])
			p := pol[parts[2]]
			var res strings.Builder
			for _, v := range vers {
				if ss.ContainsString(v, p) {
					res.WriteByte('1')
				} else {
					res.WriteByte('0')
				}
			}
			unsat := "False"
			if ss.IsUnsatisfiable() {
				unsat = "True"
			}
			got := res.String() + "\t" + strings.Join(ss.FilterStrings(vers, p), " ") + "\t" + unsat
			if want := strings.Join(parts[3:], "\t"); got != want {
				t.Errorf("%s prereleases=%s/%s:\n got %s\nwant %s", parts[0], parts[1], parts[2], got, want)
			}
		}
		t.Logf("seed %s: %d cases agree", seed, len(lines)-1)
	}
}
