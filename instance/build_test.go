package instance

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/venv"
)

// TestResolverBuildsAProjectWithBuildRequirements: a project directory
// named in a requirements file whose pyproject.toml requires setuptools is
// built with its build requirements resolved from the same sources
// (the wheelhouse, by find-links) — pip's behaviour for `name @ file://…`.
func TestResolverBuildsAProjectWithBuildRequirements(t *testing.T) {
	ctx := context.Background()
	wh := testenv.GetWheelhouse(t)
	py := systemInterpreter(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "myapp")
	writeTree(t, src, map[string]string{
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n" +
			"[project]\nname = \"myapp\"\nversion = \"1.2.0\"\ndependencies = [\"six\"]\n",
		"myapp/__init__.py": "VALUE = 42\n",
	})
	reqFile := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(reqFile, []byte("--no-index\n--find-links "+wh.Dir+"\nmyapp @ file://"+src+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, err := ParseRequirementFiles(ctx, []string{reqFile}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	_, locked := resolveWith(t, py, reqs, filepath.Join(dir, "cache"))
	got := map[string]string{}
	for _, d := range locked.Dists {
		got[d.Name] = d.Version
		if d.Name == "myapp" {
			if _, err := os.Stat(d.Wheel); err != nil || filepath.Ext(d.Wheel) != ".whl" {
				t.Errorf("myapp: no built wheel (%q, %v)", d.Wheel, err)
			}
		}
	}
	if got["myapp"] != "1.2.0" || got["six"] == "" {
		t.Fatalf("resolved %v; want myapp 1.2.0 and its dependency six", got)
	}
}

// TestResolverNamesPathOnlyRequirements: pip accepts a local project
// directory or wheel by path alone (`./myapp`, `dist/x.whl`); the name
// comes from the project's metadata or the file name.
func TestResolverNamesPathOnlyRequirements(t *testing.T) {
	ctx := context.Background()
	wh := testenv.GetWheelhouse(t)
	py := systemInterpreter(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "proj")
	writeTree(t, src, map[string]string{
		"pyproject.toml":        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"Path-Only\"\nversion = \"0.3\"\n",
		"path_only/__init__.py": "",
	})
	six, _ := filepath.Glob(filepath.Join(wh.Dir, "six-*.whl"))
	if len(six) != 1 {
		t.Fatalf("six wheel in %s: %v", wh.Dir, six)
	}
	reqFile := filepath.Join(dir, "requirements.txt")
	body := "--no-index\n--find-links " + wh.Dir + "\n./proj\n" + six[0] + "\n"
	if err := os.WriteFile(reqFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, err := ParseRequirementFiles(ctx, []string{reqFile}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	// The wheel is named by the parser (from its file name, as pip's
	// does); the directory is left for the Resolver.
	if len(reqs.Unnamed) != 1 || reqs.Unnamed[0].Path != src || reqs.Unnamed[0].Line != 3 {
		t.Fatalf("unnamed requirements: %+v", reqs.Unnamed)
	}
	rs, locked := resolveWith(t, py, reqs, filepath.Join(dir, "cache"))
	got := map[string]string{}
	for _, d := range locked.Dists {
		got[d.Name] = d.Version
	}
	if got["path-only"] != "0.3" || got["six"] == "" || len(got) != 2 {
		t.Fatalf("resolved %v; want path-only 0.3 and six", got)
	}

	// A path that is neither a project nor a distribution file names
	// the file and line.
	if err := os.WriteFile(reqFile, []byte("./nothing-here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if reqs, err = ParseRequirementFiles(ctx, []string{reqFile}, Sources{}); err == nil {
		_, err = rs.Resolve(ctx, reqs, LockOptions{})
	}
	if err == nil {
		t.Fatal("a missing path resolved")
	}
	t.Logf("missing path: %v", err)
}

// resolveWith resolves reqs for py with a Resolver caching in cacheDir,
// which it returns too (closed when the test ends).
func resolveWith(t *testing.T, py *venv.Interpreter, reqs *Requirements, cacheDir string) (*Resolver, *Locked) {
	t.Helper()
	ctx := context.Background()
	rs, err := NewResolver(ctx, py, reqs.Sources, cacheDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	locked, err := rs.Resolve(ctx, reqs, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs, locked
}

// systemInterpreter is the system Python, inspected.
func systemInterpreter(t *testing.T) *venv.Interpreter {
	t.Helper()
	py, err := venv.Inspect(context.Background(), testenv.SystemPython(t).Path, venv.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return py
}

// writeTree writes files (slash paths relative to dir, to contents).
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRequirementFilesCarryPreferBinary: --prefer-binary in a requirements
// file reaches the resolver's options, as pip applies it.
func TestRequirementFilesCarryPreferBinary(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(f, []byte("--prefer-binary\nsix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, err := ParseRequirementFiles(context.Background(), []string{f}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if !reqs.Sources.PreferBinary {
		t.Fatal("--prefer-binary in the file did not reach Sources")
	}
}
