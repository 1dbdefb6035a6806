package lock

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/testenv"
)

// pep751Example follows the example in PEP 751 (as written by another tool:
// single-quoted strings, upload-time datetimes, tool tables, keys in the
// spec's order but some optional keys absent).
const pep751Example = `lock-version = '1.0'
environments = ["sys_platform == 'win32'", "sys_platform == 'linux'", "sys_platform == 'darwin'"]
requires-python = '== 3.12'
created-by = 'mousebender'

[[packages]]
name = 'attrs'
version = '25.1.0'
requires-python = '>= 3.8'

    [[packages.wheels]]
    name = 'attrs-25.1.0-py3-none-any.whl'
    upload-time = 2025-01-25T11:30:10.164985+00:00
    url = 'https://files.pythonhosted.org/packages/fc/30/d4986a882011f9df997a55e6becd864812ccfcd821d64aac8570ee39f719/attrs-25.1.0-py3-none-any.whl'
    size = 63152
    hashes = {sha256 = 'c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a'}

    [[packages.attestation-identities]]
    environment = 'release-pypi'
    kind = 'GitHub'
    repository = 'python-attrs/attrs'
    workflow = 'pypi-package.yml'

[[packages]]
name = 'cattrs'
version = '24.1.2'
requires-python = '>= 3.8'
dependencies = [
    {name = 'attrs'},
]
index = 'https://pypi.org/simple'

    [[packages.wheels]]
    name = 'cattrs-24.1.2-py3-none-any.whl'
    upload-time = 2024-09-22T14:58:34.812643+00:00
    url = 'https://files.pythonhosted.org/packages/c8/d5/867e75361fc45f6de75fe277dd085627a9db5ebb511a87f27dc1396b5351/cattrs-24.1.2-py3-none-any.whl'
    size = 66446
    hashes = {sha256 = '67c7495b760168d931a10233f979b28dc04daf853b30752246f4f8471c6d68d0'}

[[packages]]
name = 'numpy'
version = '2.2.3'
requires-python = '>= 3.10'

    [[packages.wheels]]
    name = 'numpy-2.2.3-cp312-cp312-win_amd64.whl'
    upload-time = 2025-02-13T16:51:21.821880+00:00
    url = 'https://files.pythonhosted.org/packages/42/6e/55580a538116d16ae7c9aa17d4edd56e83f42126cb1dfe7a684da7925d2c/numpy-2.2.3-cp312-cp312-win_amd64.whl'
    size = 12626357
    hashes = {sha256 = '83807d445817326b4bcdaaaf8e8e9f1753da04341eceec705c001ff342002e5d'}

    [[packages.wheels]]
    name = 'numpy-2.2.3-cp312-cp312-macosx_14_0_x86_64.whl'
    upload-time = 2025-02-13T16:50:00.079662+00:00
    url = 'https://files.pythonhosted.org/packages/fb/ec/7f0fc66e7b3d2e0e9a5f82b3d05aa0b1d1c5b5bb2cbdc4b5b2bd2df6c2da/numpy-2.2.3-cp312-cp312-macosx_14_0_x86_64.whl'
    size = 5241046
    hashes = {sha256 = '3c9aa4496d3f1e4d77ab7aaaa1a9e99f1d5e8c3e3d1b3c2b07b3e5c0a95f2b1a'}

[[packages]]
name = 'mylib'
marker = "python_version >= '3.12'"

[packages.vcs]
type = 'git'
url = 'https://github.com/example/mylib.git'
requested-revision = 'main'
commit-id = '0123456789abcdef0123456789abcdef01234567'
subdirectory = 'src'

[[packages]]
name = 'app'

[packages.directory]
path = '.'
editable = true

[tool.mousebender]
flavour = 'spam'
levels = [1, 2]
`

func TestParseForeignLock(t *testing.T) {
	l, err := Parse([]byte(pep751Example))
	if err != nil {
		t.Fatal(err)
	}
	if l.CreatedBy != "mousebender" || len(l.Environments) != 3 || l.RequiresPython != "== 3.12" {
		t.Errorf("top level: %+v", l)
	}
	if len(l.Packages) != 5 {
		t.Fatalf("got %d packages", len(l.Packages))
	}
	a := l.Find("ATTRS")
	if a == nil || a.Version != "25.1.0" || len(a.Wheels) != 1 {
		t.Fatalf("attrs: %+v", a)
	}
	w := a.Wheels[0]
	if w.Size != 63152 || w.Hashes["sha256"] != "c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a" {
		t.Errorf("attrs wheel: %+v", w)
	}
	if want := time.Date(2025, 1, 25, 11, 30, 10, 164985000, time.UTC); !w.UploadTime.Equal(want) {
		t.Errorf("upload-time %v, want %v", w.UploadTime, want)
	}
	c := l.Find("cattrs")
	if len(c.Dependencies) != 1 || c.Dependencies[0].Name != "attrs" || c.Index != "https://pypi.org/simple" {
		t.Errorf("cattrs: %+v", c)
	}
	m := l.Find("mylib")
	if m.VCS == nil || m.VCS.CommitID != "0123456789abcdef0123456789abcdef01234567" || m.VCS.Subdirectory != "src" || m.VCS.RequestedRevision != "main" {
		t.Errorf("mylib vcs: %+v", m.VCS)
	}
	if d := l.Find("app").Directory; d == nil || !d.Editable || d.Path != "." {
		t.Errorf("app directory: %+v", d)
	}
	if l.Tool["mousebender"] == nil {
		t.Errorf("tool table lost: %v", l.Tool)
	}
	// attestation-identities are accepted without a warning.
	for _, w := range l.Warnings {
		if strings.Contains(w, "attestation") {
			t.Errorf("warning for a spec key: %s", w)
		}
	}

	// Re-encoding and re-reading keeps everything; encoding is a fixed point.
	out, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	out2, err := Marshal(l2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Errorf("encoding is not a fixed point:\n%s\n---\n%s", out, out2)
	}
	if l2.Tool["mousebender"].(map[string]any)["flavour"] != "spam" {
		t.Errorf("tool table after round trip: %v", l2.Tool)
	}
}

func sampleLock() *Lock {
	up := time.Date(2024, 3, 1, 12, 0, 0, 500000000, time.UTC)
	return &Lock{
		RequiresPython: ">=3.11",
		CreatedBy:      "deploykit",
		Environments:   []string{`python_full_version == "3.11.7" and sys_platform == "linux"`},
		Packages: []Package{
			{Name: "sqlparse", Version: "0.4.2", Index: "http://127.0.0.1/simple/",
				Wheels: []File{{URL: "http://127.0.0.1/files/sqlparse-0.4.2-py3-none-any.whl", Size: 39135,
					Hashes: map[string]string{"sha256": "aa905e60b74cf490ca352f434362735421d954308935d1975b829e7005094da9"}}}},
			{Name: "Django", Version: "3.2.25", RequiresPython: ">=3.6", Marker: `python_version >= "3.6"`,
				Dependencies: []Dependency{{Name: "sqlparse"}, {Name: "asgiref", Version: "3.6.0"}},
				Sdist: &File{Name: "Django-3.2.25.tar.gz", Path: "dist/Django-3.2.25.tar.gz", UploadTime: up,
					Hashes: map[string]string{"sha512": "ab", "sha256": "cd"}},
				Wheels: []File{
					{Name: "django-3.2.25-py3-none-any.whl", Path: "wheels/django-3.2.25-py3-none-any.whl", UploadTime: up,
						Hashes: map[string]string{"sha256": "518dd233cf1acae94f68205a9da9dfcfc2eeb42c75f44d2203f7b946487ccd89"}},
					{Name: "django-3.2.25-py2-none-any.whl", Path: "wheels/django-3.2.25-py2-none-any.whl",
						Hashes: map[string]string{"sha256": "00"}},
				}},
			{Name: "app", VCS: &VCS{Type: "git", URL: "file:///srv/app.git", RequestedRevision: "release/1.0",
				CommitID: "0123456789abcdef0123456789abcdef01234567", Subdirectory: "src"}},
			{Name: "tool", Directory: &Directory{Path: "../tool", Editable: true}},
		},
	}
}

const sampleGolden = `lock-version = '1.0'
environments = ['python_full_version == "3.11.7" and sys_platform == "linux"']
requires-python = '>=3.11'
extras = []
dependency-groups = []
default-groups = []
created-by = 'deploykit'

[[packages]]
name = 'app'

[packages.vcs]
type = 'git'
url = 'file:///srv/app.git'
requested-revision = 'release/1.0'
commit-id = '0123456789abcdef0123456789abcdef01234567'
subdirectory = 'src'

[[packages]]
name = 'Django'
version = '3.2.25'
marker = 'python_version >= "3.6"'
requires-python = '>=3.6'
dependencies = [{name = 'asgiref', version = '3.6.0'}, {name = 'sqlparse'}]

[packages.sdist]
name = 'Django-3.2.25.tar.gz'
path = 'dist/Django-3.2.25.tar.gz'
upload-time = 2024-03-01T12:00:00.5Z
hashes = {sha256 = 'cd', sha512 = 'ab'}

[[packages.wheels]]
name = 'django-3.2.25-py2-none-any.whl'
path = 'wheels/django-3.2.25-py2-none-any.whl'
hashes = {sha256 = '00'}

[[packages.wheels]]
name = 'django-3.2.25-py3-none-any.whl'
path = 'wheels/django-3.2.25-py3-none-any.whl'
upload-time = 2024-03-01T12:00:00.5Z
hashes = {sha256 = '518dd233cf1acae94f68205a9da9dfcfc2eeb42c75f44d2203f7b946487ccd89'}

[[packages]]
name = 'sqlparse'
version = '0.4.2'
index = 'http://127.0.0.1/simple/'

[[packages.wheels]]
name = 'sqlparse-0.4.2-py3-none-any.whl'
url = 'http://127.0.0.1/files/sqlparse-0.4.2-py3-none-any.whl'
size = 39135
hashes = {sha256 = 'aa905e60b74cf490ca352f434362735421d954308935d1975b829e7005094da9'}

[[packages]]
name = 'tool'

[packages.directory]
path = '../tool'
editable = true
`

func TestEncodeIsStableAndCanonical(t *testing.T) {
	l := sampleLock()
	out, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != sampleGolden {
		t.Errorf("encoding differs from golden:\n%s", out)
	}
	// The input is not reordered by encoding.
	if l.Packages[0].Name != "sqlparse" {
		t.Error("Encode modified its input")
	}
	// Same content in another order gives the same bytes.
	l2 := sampleLock()
	l2.Packages[0], l2.Packages[3] = l2.Packages[3], l2.Packages[0]
	out2, _ := Marshal(l2)
	if !bytes.Equal(out, out2) {
		t.Error("package order changed the output")
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Warnings) != 0 {
		t.Errorf("warnings on our own output: %v", back.Warnings)
	}
	if d := back.Find("django"); !d.Sdist.UploadTime.Equal(l.Packages[1].Sdist.UploadTime) {
		t.Errorf("sdist upload-time %v", d.Sdist.UploadTime)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]struct {
		doc  string
		want error
		msg  string
	}{
		"no lock-version":    {"created-by = 'x'\n", ErrInvalid, "lock-version is missing"},
		"major 2":            {"lock-version = '2.0'\ncreated-by = 'x'\n", ErrLockVersion, `"2.0"`},
		"no created-by":      {"lock-version = '1.0'\n", ErrInvalid, "created-by"},
		"bad toml":           {"lock-version = \n", ErrInvalid, "line 1"},
		"bad name":           {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = '-x'\n[packages.directory]\npath='.'\n", ErrInvalid, "package -x"},
		"no source":          {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\nversion='1'\n", ErrInvalid, "no source"},
		"two sources":        {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\n[packages.directory]\npath='.'\n[packages.vcs]\ntype='git'\nurl='u'\ncommit-id='c'\n", ErrInvalid, "more than one"},
		"wheel without hash": {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\nversion='1'\n[[packages.wheels]]\nurl='http://h/a-1-py3-none-any.whl'\n", ErrInvalid, "a-1-py3-none-any.whl\" has no hashes"},
		"vcs no commit":      {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\n[packages.vcs]\ntype='git'\nurl='u'\n", ErrInvalid, "commit-id"},
		"vcs bad type":       {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\n[packages.vcs]\ntype='cvs'\nurl='u'\ncommit-id='c'\n", ErrInvalid, "cvs"},
		"duplicate":          {"lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'a'\n[packages.directory]\npath='.'\n[[packages]]\nname = 'A'\n[packages.directory]\npath='.'\n", ErrInvalid, "twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestNewerMinorVersionWarns(t *testing.T) {
	l, err := Parse([]byte("lock-version = '1.1'\ncreated-by = 'x'\nfuture = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 2 {
		t.Errorf("warnings: %v", l.Warnings)
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pylock.toml")
	if err := WriteFile(p, sampleLock()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	bad := sampleLock()
	bad.Packages[0].Wheels[0].Hashes = nil
	err := WriteFile(p, bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "pylock.toml") || !strings.Contains(err.Error(), "sqlparse") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(p)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the lock")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("leftover files: %v", ents)
	}
	got, err := ReadFile(p)
	if err != nil || got.Find("django") == nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if l, err := ReadOrEmpty(filepath.Join(dir, "missing.toml")); l != nil || err != nil {
		t.Errorf("ReadOrEmpty(missing) = %v, %v", l, err)
	}
}

func TestExportRejectsUnhashable(t *testing.T) {
	var b bytes.Buffer
	err := ExportRequirements(&b, sampleLock(), ExportOptions{})
	if !errors.Is(err, ErrUnhashable) || !strings.Contains(err.Error(), "app") {
		t.Fatalf("err = %v", err)
	}
	b.Reset()
	if err := ExportRequirements(&b, sampleLock(), ExportOptions{SkipUnhashable: true, Header: "generated"}); err != nil {
		t.Fatal(err)
	}
	want := `# generated
django==3.2.25 ; python_version >= "3.6" \
    --hash=sha256:00 \
    --hash=sha256:518dd233cf1acae94f68205a9da9dfcfc2eeb42c75f44d2203f7b946487ccd89 \
    --hash=sha256:cd \
    --hash=sha512:ab
sqlparse==0.4.2 \
    --hash=sha256:aa905e60b74cf490ca352f434362735421d954308935d1975b829e7005094da9
# not hash-pinnable, install separately: app
# not hash-pinnable, install separately: tool
`
	if b.String() != want {
		t.Errorf("export:\n%s", b.String())
	}
}

// wheelhouseLock builds a lock of a few small real wheels of the
// wheelhouse.
func wheelhouseLock(t *testing.T, dir string) *Lock {
	t.Helper()
	l := &Lock{CreatedBy: "deploykit-test"}
	// Wheels without dependencies, and their digests read from the files:
	// the wheelhouse is built from the machine's Debian packages, and a
	// wheel's bytes and Requires-Dist follow what else is installed
	// (asgiref needs typing_extensions only where Debian's Depends say so).
	for _, w := range []struct{ name, version, file string }{
		{"pytz", "2022.7.1", "pytz-2022.7.1-py3-none-any.whl"},
		{"six", "1.16.0", "six-1.16.0-py3-none-any.whl"},
		{"sqlparse", "0.4.2", "sqlparse-0.4.2-py3-none-any.whl"},
	} {
		sum, err := filehash.SHA256(filepath.Join(dir, w.file))
		if err != nil {
			t.Fatalf("wheelhouse: %v", err)
		}
		l.Packages = append(l.Packages, Package{Name: w.name, Version: w.version,
			Wheels: []File{{Path: filepath.Join(dir, w.file), Hashes: map[string]string{"sha256": sum}}}})
	}
	return l
}

func TestExportAcceptedByPip(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	py := testenv.PythonMinor(t, "3.11")
	l := wheelhouseLock(t, wh.Dir)
	tmp := t.TempDir()
	req := filepath.Join(tmp, "requirements.txt")
	var b bytes.Buffer
	if err := ExportRequirements(&b, l, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(req, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pip := func(req string) ([]byte, error) {
		cmd := exec.Command(py.Path, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir",
			"--require-hashes", "--no-index", "--find-links", wh.Dir, "--no-compile",
			"--target", filepath.Join(tmp, "target"), "-r", req)
		return cmd.CombinedOutput()
	}
	if out, err := pip(req); err != nil {
		t.Fatalf("pip rejected the export: %v\n%s\n%s", err, b.String(), out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "target", "sqlparse", "__init__.py")); err != nil {
		t.Errorf("sqlparse not installed: %v", err)
	}
	// A wrong hash is caught by pip: the export really pins.
	l.Packages[2].Wheels[0].Hashes["sha256"] = strings.Repeat("0", 64)
	b.Reset()
	if err := ExportRequirements(&b, l, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(tmp, "bad.txt")
	os.WriteFile(bad, b.Bytes(), 0o644)
	out, err := pip(bad)
	if err == nil || !strings.Contains(string(out), "HASHES") {
		t.Errorf("pip accepted a wrong hash: %v\n%s", err, out)
	}
}
