package index_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/venv"
	"github.com/deploykit/deploykit/venv/pep517"
)

func finder(t *testing.T, opts index.Options) *index.Finder {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	opts.Netrc = "-"
	f, err := index.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// builder is the real PEP 517 frontend of venv/pep517 on the system
// Python.
func builder(t *testing.T) index.Builder {
	t.Helper()
	py := testenv.SystemPython(t)
	interp, err := venv.Inspect(context.Background(), py.Path, venv.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fe, err := pep517.New(pep517.Options{Python: interp})
	if err != nil {
		t.Fatal(err)
	}
	return fe
}

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// backendProject writes a source tree built by testdata/backend.
func backendProject(t *testing.T, dir string) {
	t.Helper()
	src, err := os.ReadFile("testdata/backend/dkbackend.py")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "dkbackend.py"), string(src))
	write(t, filepath.Join(dir, "pyproject.toml"), "[build-system]\nrequires = []\nbuild-backend = \"dkbackend\"\nbackend-path = [\".\"]\n")
}

// sdist packs dir's files as TOP/... into a .tar.gz.
func sdist(t *testing.T, out, top string, files map[string]string) {
	t.Helper()
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(fh)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: top + "/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	fh.Close()
}

func req(t *testing.T, s string) requirements.Requirement {
	t.Helper()
	r, err := requirements.ParseRequirement(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDirectLocalWheel(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	f := finder(t, index.Options{})
	p := filepath.Join(wh.Dir, "six-1.16.0-py3-none-any.whl")
	d, err := f.Direct(context.Background(), req(t, "six @ file://"+p))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != index.DirectWheel || d.Metadata.Version != "1.16.0" || d.Hashes["sha256"] != fileSHA256(t, p) {
		t.Errorf("direct: %+v", d)
	}
	_, err = f.Direct(context.Background(), req(t, "django @ file://"+p))
	if err == nil || !strings.Contains(err.Error(), `not "django"`) {
		t.Errorf("wrong project: %v", err)
	}
	_, err = f.Direct(context.Background(), req(t, "six @ file:///nonexistent/six-1.0-py3-none-any.whl"))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/six-1.0-py3-none-any.whl") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDirectStaticProjectNeedsNoBuild(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "pyproject.toml"), `[project]
name = "dk-static"
version = "2.0"
requires-python = ">=3.8"
dependencies = ["six>=1.0"]
[project.optional-dependencies]
web = ["django; python_version >= '3.8'"]
`)
	f := finder(t, index.Options{}) // no Builder
	d, err := f.Direct(context.Background(), req(t, "dk-static @ file://"+dir))
	if err != nil {
		t.Fatal(err)
	}
	md := d.Metadata
	if d.Kind != index.DirectDirectory || md.Version != "2.0" || md.RequiresPython != ">=3.8" || len(md.RequiresDist) != 2 || md.Extras()[0] != "web" {
		t.Errorf("metadata: %+v", md)
	}
	if !strings.Contains(md.RequiresDist[1], `extra == "web"`) || !strings.Contains(md.RequiresDist[1], "python_version") {
		t.Errorf("extra requirement: %q", md.RequiresDist[1])
	}
}

func TestSdistStaticMetadataUsedWithoutBuild(t *testing.T) {
	dir := t.TempDir()
	sdist(t, filepath.Join(dir, "dk_sd-1.0.tar.gz"), "dk_sd-1.0", map[string]string{
		"PKG-INFO":       "Metadata-Version: 2.2\nName: dk-sd\nVersion: 1.0\nRequires-Dist: six\nDynamic: Summary\n",
		"pyproject.toml": "[build-system]\nrequires = []\n",
	})
	sdist(t, filepath.Join(dir, "dk_dyn-1.0.tar.gz"), "dk_dyn-1.0", map[string]string{
		"PKG-INFO":       "Metadata-Version: 2.2\nName: dk-dyn\nVersion: 1.0\nDynamic: Requires-Dist\n",
		"pyproject.toml": "[build-system]\nrequires = []\n",
	})
	ctx := context.Background()
	f := finder(t, index.Options{FindLinks: []string{dir}})
	files, err := f.Files(ctx, "dk-sd")
	if err != nil || len(files) != 1 {
		t.Fatalf("files: %v %v", files, err)
	}
	md, err := f.Metadata(ctx, files[0])
	if err != nil || len(md.RequiresDist) != 1 {
		t.Fatalf("static sdist: %+v %v", md, err)
	}
	files, _ = f.Files(ctx, "dk-dyn")
	if _, err := f.Metadata(ctx, files[0]); !errors.Is(err, index.ErrNoBuilder) || !strings.Contains(err.Error(), "dk_dyn-1.0.tar.gz") {
		t.Errorf("dynamic sdist without builder: %v", err)
	}
}

func TestSdistBuiltWithPEP517AndBackendFailure(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	backendProject(t, src)
	backend, _ := os.ReadFile(filepath.Join(src, "dkbackend.py"))
	pyproject, _ := os.ReadFile(filepath.Join(src, "pyproject.toml"))
	sdist(t, filepath.Join(dir, "dk_built-0.5.tar.gz"), "dk_built-0.5", map[string]string{
		"PKG-INFO":       "Metadata-Version: 2.1\nName: dk-built\nVersion: 0.5\n",
		"pyproject.toml": string(pyproject),
		"dkbackend.py":   string(backend),
	})
	ctx := context.Background()
	f := finder(t, index.Options{FindLinks: []string{dir}, Builder: builder(t)})
	files, err := f.Files(ctx, "dk-built")
	if err != nil || len(files) != 1 {
		t.Fatalf("files: %v %v", files, err)
	}
	md, err := f.Metadata(ctx, files[0])
	if err != nil || md.Version != "0.5" || md.RequiresDist[0] != "six" {
		t.Fatalf("built metadata: %+v %v", md, err)
	}

	// A failing backend: the error names the sdist and its source, and
	// nothing is cached.
	bad := t.TempDir()
	sdist(t, filepath.Join(bad, "dk_built-0.6.tar.gz"), "dk_built-0.6", map[string]string{
		"PKG-INFO":       "Metadata-Version: 2.1\nName: dk-built\nVersion: 0.6\n",
		"pyproject.toml": string(pyproject),
		"dkbackend.py":   string(backend),
		"FAIL":           "",
	})
	cache := t.TempDir()
	f = finder(t, index.Options{FindLinks: []string{bad}, Builder: builder(t), CacheDir: cache})
	files, _ = f.Files(ctx, "dk-built")
	_, err = f.Metadata(ctx, files[0])
	if err == nil || !strings.Contains(err.Error(), "dk_built-0.6.tar.gz") || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "kaboom") {
		t.Errorf("failing backend: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "built-v1")); len(ents) != 0 {
		t.Errorf("a failed build left %v", ents)
	}
}

func TestDirectVCSSubdirectory(t *testing.T) {
	git := testenv.Command(t, "git")
	repo := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write(t, filepath.Join(repo, "sub", "pyproject.toml"), "[project]\nname = \"dk-vcs\"\nversion = \"0.1\"\ndependencies = [\"six\"]\n")
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-q", "-m", "one")
	run("tag", "v0.1")
	commit := run("rev-parse", "HEAD")
	write(t, filepath.Join(repo, "sub", "pyproject.toml"), "[project]\nname = \"dk-vcs\"\nversion = \"0.2\"\n")
	run("commit", "-q", "-am", "two")
	f := finder(t, index.Options{})
	d, err := f.Direct(context.Background(), req(t, "dk-vcs @ git+file://"+repo+"@v0.1#subdirectory=sub"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != index.DirectVCS || d.VCS.Commit != commit || d.VCS.Requested != "v0.1" || d.Subdirectory != "sub" || d.Metadata.Version != "0.1" {
		t.Errorf("direct: %+v %+v", d, d.VCS)
	}
	_, err = f.Direct(context.Background(), req(t, "dk-vcs @ git+file://"+repo+"@nope"))
	if err == nil || !strings.Contains(err.Error(), "dk-vcs") || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing ref: %v", err)
	}
}

func TestDirectWheelBuildsSourcesAndSdists(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	backendProject(t, src)
	write(t, filepath.Join(src, "pyproject.toml"), "[project]\nname = \"dk-built\"\nversion = \"0.5\"\ndependencies = [\"six\"]\n[build-system]\nrequires = []\nbuild-backend = \"dkbackend\"\nbackend-path = [\".\"]\n")
	f := finder(t, index.Options{Builder: builder(t)})
	d, err := f.Direct(ctx, req(t, "dk-built @ file://"+src))
	if err != nil {
		t.Fatal(err)
	}
	whl, err := f.DirectWheel(ctx, d, false)
	if err != nil || filepath.Base(whl) != "dk_built-0.5-py3-none-any.whl" {
		t.Fatalf("directory: %s, %v", whl, err)
	}
	dir := t.TempDir()
	backend, _ := os.ReadFile(filepath.Join(src, "dkbackend.py"))
	pyproject, _ := os.ReadFile(filepath.Join(src, "pyproject.toml"))
	sd := filepath.Join(dir, "dk_built-0.5.tar.gz")
	sdist(t, sd, "dk_built-0.5", map[string]string{
		"PKG-INFO":       "Metadata-Version: 2.2\nName: dk-built\nVersion: 0.5\nRequires-Dist: six\n",
		"pyproject.toml": string(pyproject),
		"dkbackend.py":   string(backend),
	})
	d, err = f.Direct(ctx, req(t, "dk-built @ file://"+sd))
	if err != nil || d.Kind != index.DirectSdist {
		t.Fatalf("sdist direct: %+v %v", d, err)
	}
	whl, err = f.DirectWheel(ctx, d, false)
	if err != nil || filepath.Base(whl) != "dk_built-0.5-py3-none-any.whl" {
		t.Fatalf("sdist: %s, %v", whl, err)
	}
	files, err := finder(t, index.Options{FindLinks: []string{dir}, Builder: builder(t)}).Files(ctx, "dk-built")
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
}

// fileSHA256 is the oracle for a wheelhouse file's digest: the wheelhouse
// is built from the machine's Debian packages, so its bytes are not fixed.
func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	sum, err := filehash.SHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
