package venv

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/testenv"
)

// diffWheels is the wheelhouse subset the race-enabled differential test
// installs: pure and compiled (cp311) wheels, console scripts, namespace
// and data-heavy packages. The benchmark installs all of them. A prefix
// ending in "?" is taken when the wheelhouse has it: make-wheelhouse adds
// Requires-Dist from Debian's Depends, so asgiref needs typing_extensions
// only on a machine that has python3-typing-extensions (and then the
// wheelhouse has it too), and `pip check` must pass either way.
var diffWheels = []string{
	"django-", "asgiref-", "sqlparse-", "pytz-", "gunicorn-", "setuptools-",
	"lxml-", "psycopg2-", "markupsafe-", "six-", "python_dateutil-", "pyyaml-",
	"typing_extensions-?",
}

func wheelhouseSubset(t testing.TB, prefixes []string) []string {
	t.Helper()
	wh := testenv.GetWheelhouse(t)
	all, err := filepath.Glob(filepath.Join(wh.Dir, "*.whl"))
	if err != nil || len(all) == 0 {
		testenv.Skip(t, "no wheels in %s", wh.Dir)
	}
	if prefixes == nil {
		return all
	}
	var out []string
	for _, pre := range prefixes {
		pre, optional := strings.CutSuffix(pre, "?")
		found := optional
		for _, w := range all {
			if strings.HasPrefix(filepath.Base(w), pre) {
				out = append(out, w)
				found = true
			}
		}
		if !found {
			t.Fatalf("wheelhouse has no %s*.whl", pre)
		}
	}
	return out
}

// dataWheel exercises what the wheelhouse lacks: .data/ directories of
// every scheme, a #!python script, gui scripts, dotted entry points.
func dataWheel(t testing.TB, dir string) string {
	f := false
	return buildWheel(t, dir, wheelSpec{
		name: "dk-data", version: "1.2", tag: "py3-none-any", purelib: &f,
		files: map[string]member{
			"dk_data/__init__.py":                       {data: "def main():\n    print('dk-data main')\n\nclass App:\n    @staticmethod\n    def run():\n        print('dk-data app')\n"},
			"dk_data/mod.py":                            {data: "X = 1\n"},
			"dk_data-1.2.data/scripts/dk-plain":         {data: "#!python\nimport dk_data\ndk_data.main()\n", exec: true},
			"dk_data-1.2.data/scripts/dk-tool.py":       {data: "#!python3\nprint('untouched shebang')\n", exec: true},
			"dk_data-1.2.data/scripts/dk-noexec":        {data: "#!python\nprint(1)\n"},
			"dk_data-1.2.data/scripts/dk-cli":           {data: "#!/usr/bin/env python\n# a setuptools wrapper pip skips\n", exec: true},
			"dk_data-1.2.data/headers/dk.h":             {data: "#define DK 1\n"},
			"dk_data-1.2.data/data/share/dk/readme.txt": {data: "data file\n"},
			"dk_data-1.2.data/purelib/dk_pure.py":       {data: "PURE = True\n"},
			"dk_data-1.2.data/platlib/dk_plat.py":       {data: "PLAT = True\n"},
			"dk_data-1.2.dist-info/entry_points.txt": {data: "[console_scripts]\ndk-cli = dk_data:main\ndk-app = dk_data:App.run\n" +
				"\n[gui_scripts]\ndk-gui = dk_data:main\n\n[other.group]\nignored = x:y\n"},
		},
	})
}

func TestInstallMatchesPip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	pip := bundledPip(t, py)
	work := t.TempDir()
	wheels := append(wheelhouseSubset(t, diffWheels), dataWheel(t, work))
	D := filepath.Join(work, "venv")

	// pip's side: python -m venv, then pip (run from its own wheel, so the
	// venv holds only the wheels) installs the wheel files.
	run(t, py.Path, "-m", "venv", "--without-pip", D)
	run(t, filepath.Join(D, "bin", "python"), append([]string{filepath.Join(pip, "pip"), "install", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check"}, wheels...)...)
	pipList := run(t, filepath.Join(D, "bin", "python"), filepath.Join(pip, "pip"), "list", "--format=freeze", "--disable-pip-version-check")
	pipSide := filepath.Join(work, "pip-venv")
	if err := os.Rename(D, pipSide); err != nil {
		t.Fatal(err)
	}

	// deploykit's side, at the same path (shebangs and RECORD name it).
	v, err := Create(ctx, D, py, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := OpenCache(filepath.Join(work, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ws []Wheel
	for _, w := range wheels {
		sum, err := filehash.SHA256(w)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, Wheel{Path: w, Requested: true, DirectURL: &DirectURL{URL: "file://" + w, ArchiveSHA256: sum}})
	}
	if _, err := v.Install(ctx, ws, InstallOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}

	skip := func(rel string) bool {
		base := filepath.Base(rel)
		switch {
		case base == "__pycache__", base == "INSTALLER", strings.HasSuffix(base, ".pyc"),
			rel == "pyvenv.cfg", rel == "include", rel == "lib64", rel == ".gitignore",
			strings.HasPrefix(rel, "bin/activate"), strings.HasPrefix(rel, "bin/Activate"), strings.HasPrefix(rel, "bin/python"):
			return true
		}
		return false
	}
	want, got := snapshot(t, pipSide, skip), snapshot(t, D, skip)
	for _, m := range []map[string]string{want, got} {
		for k, s := range m {
			if filepath.Base(k) == "RECORD" {
				var keep []string
				for _, line := range strings.SplitAfter(s, "\n") {
					if !strings.Contains(line, "__pycache__") && !strings.Contains(line, "/INSTALLER,") {
						keep = append(keep, line)
					}
				}
				m[k] = strings.Join(keep, "")
			}
		}
	}
	diffSnapshots(t, "deploykit vs pip", want, got)
	for k := range want {
		a, err1 := os.Lstat(filepath.Join(pipSide, k))
		b, err2 := os.Lstat(filepath.Join(D, k))
		if err1 == nil && err2 == nil && a.Mode().IsRegular() && (a.Mode()&0o111 != 0) != (b.Mode()&0o111 != 0) {
			t.Errorf("%s: executable bit: pip %v, deploykit %v", k, a.Mode(), b.Mode())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Both sides compiled the same modules.
	pycs := func(dir string) int {
		n := 0
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, ".pyc") && !strings.Contains(p, "/bin/") {
				n++
			}
			return nil
		})
		return n
	}
	if a, b := pycs(pipSide), pycs(D); a != b {
		t.Errorf("pip compiled %d modules, deploykit %d", a, b)
	}

	// pip itself, from ensurepip's real wheel, with deploykit's installer.
	if _, err := v.Install(ctx, []Wheel{{Path: pip, Requested: true}}, InstallOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}
	python := v.Executable()
	if out := run(t, python, "-m", "pip", "--version"); !strings.Contains(out, "from "+v.Purelib+"/pip") {
		t.Fatalf("pip --version: %s", out)
	}
	run(t, python, "-m", "pip", "check")
	list := run(t, python, "-m", "pip", "list", "--format=freeze")
	pipVersion := strings.TrimSuffix(strings.SplitN(filepath.Base(pip), "-", 3)[1], ".whl")
	wantList := append(strings.Fields(pipList), "pip=="+pipVersion)
	sort.Slice(wantList, func(i, j int) bool { return strings.ToLower(wantList[i]) < strings.ToLower(wantList[j]) })
	if got := strings.TrimSpace(list); got != strings.Join(wantList, "\n") {
		t.Errorf("pip list on deploykit's venv:\n%s\nwant:\n%s", got, strings.Join(wantList, "\n"))
	}
	// Imports and console scripts run.
	run(t, python, "-c", "import django, gunicorn, lxml.etree, psycopg2, markupsafe, yaml, dateutil, dk_data, dk_pure, dk_plat")
	if out := run(t, filepath.Join(v.Scripts, "django-admin"), "--version"); !strings.HasPrefix(out, "3.2") {
		t.Errorf("django-admin --version: %q", out)
	}
	if out := run(t, filepath.Join(v.Scripts, "gunicorn"), "--version"); !strings.Contains(out, "20.1.0") {
		t.Errorf("gunicorn --version: %q", out)
	}
	if out := run(t, filepath.Join(v.Scripts, "dk-plain")); out != "dk-data main\n" {
		t.Errorf("dk-plain: %q", out)
	}
	if out := run(t, filepath.Join(v.Scripts, "dk-app")); out != "dk-data app\n" {
		t.Errorf("dk-app: %q", out)
	}
	// pip uninstalls what deploykit installed, completely.
	run(t, python, "-m", "pip", "uninstall", "-y", "gunicorn", "dk-data")
	for _, p := range []string{filepath.Join(v.Scripts, "gunicorn"), filepath.Join(v.Purelib, "gunicorn"), filepath.Join(v.Scripts, "dk-plain"), filepath.Join(v.Include, "dk-data"), filepath.Join(D, "share", "dk")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still there after pip uninstall", p)
		}
	}
}
