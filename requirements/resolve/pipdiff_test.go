package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
)

// synthDists are the tiny wheels of the differential scenarios, served
// beside the wheelhouse as an extra index.
var synthDists = []synthDist{
	{name: "dk-a", version: "1.0", deps: []string{"dk-b>=2"}},
	{name: "dk-a", version: "2.0", deps: []string{"dk-b<1"}},
	{name: "dk-b", version: "0.9"},
	{name: "dk-b", version: "2.0"},
	{name: "dk-b", version: "2.1"},
	{name: "dk-c", version: "1.0"},
	{name: "dk-e", version: "1.0", extras: []string{"x", "y", "all"},
		deps: []string{`dk-b>=2; extra == "x"`, `dk-c; extra == "y"`, `dk-e[x,y]; extra == "all"`}},
	{name: "dk-m", version: "1.0", deps: []string{`dk-c; python_full_version >= "3.11.5"`, `dk-b<1; python_full_version < "3.11.5"`, `dk-w; sys_platform == "win32"`}},
	{name: "dk-p", version: "1.0"},
	{name: "dk-p", version: "2.0b1"},
	{name: "dk-q", version: "1.0a1"},
	{name: "dk-q", version: "1.0a2"},
	{name: "dk-x", version: "1.0", deps: []string{"dk-p>=1.0"}},
	{name: "dk-y", version: "1.0", deps: []string{"dk-p>=2.0b1"}},
	{name: "dk-z", version: "1.0", deps: []string{"dk-q>=0.1"}},
	{name: "dk-pin", version: "1.0", deps: []string{"dk-p==2.0b1"}},
	{name: "dk-yk", version: "1.0"},
	{name: "dk-yk", version: "2.0", yanked: true},
	{name: "dk-rp", version: "1.0", requiresPython: ">=3.8"},
	{name: "dk-rp", version: "2.0", requiresPython: ">=3.12"},
	{name: "dk-rp", version: "3.0", requiresPython: ">=3.12", indexRP: ">=3"},
	{name: "dk-t", version: "1.0"},
	{name: "dk-t", version: "2.0", tag: "cp312-cp312-linux_x86_64"},
	{name: "dk-cy1", version: "1.0", deps: []string{"dk-cy2"}},
	{name: "dk-cy2", version: "1.0", deps: []string{"dk-cy1>=1"}},
	{name: "dk-web", version: "1.0", deps: []string{"Django>=3,<4", "dk-e[all]", "gunicorn"}},
	{name: "dk-old", version: "1.0", deps: []string{"Django<3"}},
	// dk-late names a pre-release of dk-p; with two versions it is decided
	// after dk-p is met through dk-gt, which names none.
	{name: "dk-late", version: "1.0", deps: []string{"dk-p>=2.0b1"}},
	{name: "dk-late", version: "1.1", deps: []string{"dk-p>=2.0b1"}},
	{name: "dk-gt", version: "1.0", deps: []string{"dk-p>1.5"}},
	// dk-sd: the newest version is an sdist only (--prefer-binary).
	{name: "dk-sd", version: "1.0"},
	{name: "dk-sd", version: "1.5"},
	{name: "dk-sd", version: "2.0", sdist: true},
	{name: "dk-sdp", version: "1.0", deps: []string{"dk-sd>=1.5"}},
}

type scenario struct {
	name        string
	reqs        []string
	constraints []string
	pre         bool
	// preferBinary is pip's --prefer-binary. Without it pip would build
	// dk-sd 2.0's sdist (setuptools from an index we do not have): the
	// plain cases are in TestPreferBinary.
	preferBinary bool
}

var scenarios = []scenario{
	{name: "backtrack", reqs: []string{"dk-a", "dk-b>=1"}},
	{name: "newest", reqs: []string{"dk-a"}},
	{name: "unsatisfiable", reqs: []string{"dk-a", "dk-b>=1,<2"}},
	{name: "extra", reqs: []string{"dk-e[x]"}},
	{name: "self-extra", reqs: []string{"dk-e[all]"}},
	{name: "unknown-extra", reqs: []string{"dk-e[nope]"}},
	{name: "markers", reqs: []string{"dk-m"}},
	{name: "root-markers", reqs: []string{`dk-c; python_full_version >= "3.11.1"`, `dk-b; sys_platform == "win32"`}},
	{name: "pre-default", reqs: []string{"dk-p"}},
	{name: "pre-named", reqs: []string{"dk-p>=2.0b1"}},
	{name: "pre-exclusive-op", reqs: []string{"dk-p>2.0a1"}},
	{name: "pre-le", reqs: []string{"dk-p<=2.0b1"}},
	{name: "pre-compatible", reqs: []string{"dk-p~=2.0b1"}},
	{name: "pre-only", reqs: []string{"dk-q"}},
	{name: "pre-only-specified", reqs: []string{"dk-z"}},
	{name: "pre-merged", reqs: []string{"dk-x", "dk-y"}},
	{name: "pre-pinned-by-dep", reqs: []string{"dk-pin"}},
	{name: "pre-flag", reqs: []string{"dk-p", "dk-z"}, pre: true},
	{name: "pre-by-constraint", reqs: []string{"dk-p"}, constraints: []string{"dk-p>=2.0b1"}},
	// pip fails on the reverse order (dk-gt, dk-late): it looks at
	// dk-gt's requirement alone first. See the package documentation.
	{name: "pre-named-late", reqs: []string{"dk-late", "dk-gt"}},
	{name: "pre-merged-root", reqs: []string{"dk-x", "dk-p<=2.0b1"}},
	{name: "yanked-skipped", reqs: []string{"dk-yk"}},
	{name: "yanked-pinned", reqs: []string{"dk-yk==2.0"}},
	{name: "yanked-range", reqs: []string{"dk-yk>=2"}},
	{name: "requires-python", reqs: []string{"dk-rp"}},
	{name: "wheel-tags", reqs: []string{"dk-t"}},
	{name: "constraints", reqs: []string{"dk-a"}, constraints: []string{"dk-b>=2"}},
	{name: "constraint-conflict", reqs: []string{"dk-c"}, constraints: []string{"dk-c<1"}},
	{name: "cycle", reqs: []string{"dk-cy1"}},
	{name: "django", reqs: []string{"Django"}},
	{name: "mixed", reqs: []string{"dk-web"}},
	{name: "mixed-conflict", reqs: []string{"dk-web", "dk-old"}},
	{name: "celery-stack", reqs: []string{"django-celery-beat", "djangorestframework", "django-filter", "django-cors-headers"}},
	{name: "missing-extra-dep", reqs: []string{"django-redis[hiredis]"}},
	{name: "missing-project", reqs: []string{"dk-nonexistent"}},
	{name: "prefer-binary", reqs: []string{"dk-sd"}, preferBinary: true},
	{name: "prefer-binary-dep", reqs: []string{"dk-sdp", "dk-c"}, preferBinary: true},
}

// pipResolve runs pip's resolver (install --dry-run --report) and returns
// name==version lines, or ok=false when pip found no solution.
func pipResolve(t *testing.T, python string, sc scenario, indexes []string, dir string) ([]string, bool, string) {
	args := []string{"-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
		"--disable-pip-version-check", "--no-cache-dir", "--report", filepath.Join(dir, "report.json"),
		"-i", indexes[0]}
	for _, x := range indexes[1:] {
		args = append(args, "--extra-index-url", x)
	}
	if sc.pre {
		args = append(args, "--pre")
	}
	if sc.preferBinary {
		args = append(args, "--prefer-binary")
	}
	if len(sc.constraints) > 0 {
		c := filepath.Join(dir, "constraints.txt")
		os.WriteFile(c, []byte(strings.Join(sc.constraints, "\n")+"\n"), 0o644)
		args = append(args, "-c", c)
	}
	args = append(args, sc.reqs...)
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1", "PYTHONWARNINGS=ignore")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, false, string(out)
	}
	var rep struct {
		Install []struct {
			Metadata struct{ Name, Version string } `json:"metadata"`
		} `json:"install"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("pip report: %v\n%s", err, out)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range rep.Install {
		got = append(got, requirements.NormalizeName(i.Metadata.Name)+"=="+i.Metadata.Version)
	}
	sort.Strings(got)
	return got, true, string(out)
}

func TestDifferentialAgainstPip(t *testing.T) {
	// pip 23.2 on the wheelhouse's interpreter (cp311 wheels): every
	// scenario.
	differential(t, testenv.PythonMinor(t, "3.11"), scenarios)
}

// TestDifferentialAgainstPip24 checks the pre-release and yanked rules
// against pip 24 (pyenv's 3.13 ships pip 24.2), on the pure-Python
// synthetic wheels.
func TestDifferentialAgainstPip24(t *testing.T) {
	var sub []scenario
	for _, sc := range scenarios {
		if strings.HasPrefix(sc.name, "pre-") || strings.HasPrefix(sc.name, "yanked-") || sc.name == "backtrack" || sc.name == "self-extra" || sc.preferBinary {
			sub = append(sub, sc)
		}
	}
	differential(t, testenv.PythonMinor(t, "3.13"), sub)
}

func differential(t *testing.T, py testenv.Python, scenarios []scenario) {
	wh := testenv.GetWheelhouse(t)
	tg := target(t, py.Path)
	synth := t.TempDir()
	buildIndex(t, synth, synthDists)
	whURL := serveDir(t, wh.IndexDir)
	synthURL := serveDir(t, synth)
	indexes := []string{whURL + "/simple/", synthURL + "/simple/"}
	f, err := index.New(index.Options{IndexURL: indexes[0], ExtraIndexURLs: indexes[1:], CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}
	sem := make(chan struct{}, 3)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			want, pipOK, pipOut := pipResolve(t, py.Path, sc, indexes, t.TempDir())
			opts := Options{Environment: tg.Environment, Pre: sc.pre, PreferBinary: sc.preferBinary, Constraints: reqs(t, sc.constraints...)}
			res, err := Resolve(context.Background(), p, reqs(t, sc.reqs...), opts)
			ns := agreeWithPip(t, res, err, want, pipOK, pipOut)
			if ns != nil && sc.name == "missing-project" && !strings.Contains(ns.Explanation(), "searched "+indexes[0]+", "+indexes[1]) {
				t.Errorf("the explanation does not name the sources:\n%s", ns.Explanation())
			}
		})
	}
}

// agreeWithPip checks our resolution (res, err) against pip's outcome for
// the same scenario: both fail, or both succeed with the same versions.
// When both fail it returns our explanation, for more checks.
func agreeWithPip(t *testing.T, res *Resolution, err error, want []string, pipOK bool, pipOut string) *NoSolutionError {
	t.Helper()
	var ns *NoSolutionError
	switch {
	case err != nil && !errors.As(err, &ns):
		t.Fatalf("resolve: %v", err)
	case !pipOK && err == nil:
		t.Fatalf("pip found no solution but we did: %s\npip said:\n%s", summaryEq(res), pipOut)
	case pipOK && err != nil:
		t.Fatalf("pip chose %v but we found no solution:\n%v", want, err)
	case !pipOK:
		t.Logf("both fail; ours:\n%s", ns.Explanation())
		return ns
	default:
		if got := summaryEq(res); got != strings.Join(want, " ") {
			t.Errorf("differs from pip:\n ours %s\n pip  %s", got, strings.Join(want, " "))
		}
	}
	return nil
}

func summaryEq(r *Resolution) string {
	var parts []string
	for _, p := range r.Packages {
		parts = append(parts, p.Name+"=="+p.Candidate.Version.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
