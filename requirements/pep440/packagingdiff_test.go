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

func TestPackagingDiffRelations(t *testing.T) {
	src := os.Getenv("PACKAGING_SRC")
	py := os.Getenv("PYTHON")
	if src == "" || py == "" {
		t.Fatal("set PACKAGING_SRC (packaging's src directory) and PYTHON")
	}
	pol := map[string]PrereleasePolicy{"None": PrereleaseDefault, "True": PrereleaseAllow, "False": PrereleaseDeny}
	for _, seed := range []string{"5", "6"} {
		cmd := exec.Command(py, "testdata/packaging_diff.py", seed, "relations")
		cmd.Env = append(os.Environ(), "PYTHONPATH="+src)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for _, line := range lines {
			parts := strings.Split(line, "\t")
			a := MustParseSpecifiers(parts[0]).WithPrereleases(pol[parts[2]])
			b := MustParseSpecifiers(parts[1]).WithPrereleases(pol[parts[2]])
			sub, err1 := a.IsSubset(b)
			dis, err2 := a.IsDisjoint(b)
			if err1 != nil || err2 != nil {
				t.Fatalf("%q %q: %v %v", parts[0], parts[1], err1, err2)
			}
			got := fmtBool(sub) + "\t" + fmtBool(dis)
			if want := parts[3] + "\t" + parts[4]; got != want {
				t.Errorf("%q vs %q prereleases=%s: subset, disjoint = %s, want %s", parts[0], parts[1], parts[2], got, want)
			}
		}
		t.Logf("seed %s: %d relations agree", seed, len(lines))
	}
}

func fmtBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
