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
	py, err := venv.Inspect(ctx, testenv.SystemPython(t).Path, venv.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "myapp")
	files := map[string]string{
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n" +
			"[project]\nname = \"myapp\"\nversion = \"1.2.0\"\ndependencies = [\"six\"]\n",
		"myapp/__init__.py": "VALUE = 42\n",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reqFile := filepath.Join(dir, "requirements.txt")
	if err := os.WriteFile(reqFile, []byte("--no-index\n--find-links "+wh.Dir+"\nmyapp @ file://"+src+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs, err := ParseRequirementFiles(ctx, []string{reqFile}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := NewResolver(ctx, py, reqs.Sources, filepath.Join(dir, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	locked, err := rs.Resolve(ctx, reqs, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
