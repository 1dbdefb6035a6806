package resolve

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/indextest"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// serveDir serves a simple index tree on 127.0.0.1 and returns its URL.
func serveDir(t testing.TB, dir string) string {
	return indextest.New(t, dir, indextest.Options{}).URL
}

var targets = map[string]Target{}

func target(t testing.TB, python string) Target {
	t.Helper()
	if tg, ok := targets[python]; ok {
		return tg
	}
	tg, err := ProbeTarget(context.Background(), python)
	if err != nil {
		t.Fatal(err)
	}
	targets[python] = tg
	return tg
}

func readLines(t testing.TB, p string) []string {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestResolveWheelhouseAndLock(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	srv := indextest.New(t, wh.IndexDir, indextest.Options{})
	base := srv.URL
	f, err := index.New(index.Options{IndexURL: base + "/simple/", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	roots := readLines(t, filepath.Join(wh.Dir, "roots.txt"))
	p := &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}
	res, err := Resolve(context.Background(), p, reqs(t, roots...), Options{Environment: tg.Environment})
	if err != nil {
		t.Fatal(err)
	}
	// Every resolved version is the one in the wheelhouse (pinned.txt).
	pinned := map[string]string{}
	for _, l := range readLines(t, filepath.Join(wh.Dir, "pinned.txt")) {
		n, v, _ := strings.Cut(l, "==")
		pinned[requirements.NormalizeName(n)] = v
	}
	for _, r := range res.Packages {
		if pinned[r.Name] != r.Candidate.Version.String() {
			t.Errorf("%s %s not in pinned.txt (%q)", r.Name, r.Candidate.Version, pinned[r.Name])
		}
	}
	for _, root := range roots {
		if res.Find(root) == nil {
			t.Errorf("root %s missing", root)
		}
	}
	t.Logf("%d packages", len(res.Packages))
	l, err := res.Lock(context.Background(), f, LockOptions{Environments: []string{tg.Marker()}})
	if err != nil {
		t.Fatal(err)
	}
	// The index gives every file's sha256 and PEP 658 metadata: a lock
	// reads each project's page and its chosen version's metadata once,
	// and no file.
	n := int64(len(res.Packages))
	if c := srv.Counts(); c.Pages != n || c.Metadata != n || c.Wheels != 0 || c.Sdists != 0 || c.Other != 0 {
		t.Errorf("locking %d packages made %v; want %d pages, %d metadata files, nothing else", n, c, n, n)
	}
	out := filepath.Join(t.TempDir(), "pylock.toml")
	if err := lock.WriteFile(out, l); err != nil {
		t.Fatal(err)
	}
	back, err := lock.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	d := back.Find("django")
	// The oracle is the file itself: the wheelhouse's bytes follow the
	// machine's Debian packages.
	djangoSHA, err := filehash.SHA256(filepath.Join(wh.Dir, "django-3.2.25-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	if d == nil || len(d.Wheels) != 1 || d.Wheels[0].Hashes["sha256"] != djangoSHA || !strings.HasPrefix(d.Index, base) {
		t.Errorf("django in lock: %+v", d)
	}
	// Re-locking with the lock as preferences gives the same bytes.
	res2, err := Resolve(context.Background(), p, reqs(t, roots...), Options{Environment: tg.Environment, Preferences: LockPreferences(back)})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := res2.Lock(context.Background(), f, LockOptions{Environments: []string{tg.Marker()}})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := lock.Marshal(l)
	b2, _ := lock.Marshal(l2)
	if string(b1) != string(b2) {
		t.Error("re-lock changed the lock")
	}
}

// TestLockVCSDirectReference resolves an application from a git branch
// whose code needs index packages, and locks the exact commit.
func TestLockVCSDirectReference(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	git := testenv.Command(t, "git")
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
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
	os.MkdirAll(filepath.Join(repo, "app"), 0o755)
	os.WriteFile(filepath.Join(repo, "app", "pyproject.toml"), []byte("[project]\nname = \"dk-app\"\nversion = \"1.0\"\ndependencies = [\"Django>=3.2\", \"gunicorn\"]\n"), 0o644)
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-q", "-m", "app")
	run("checkout", "-q", "-b", "release")
	commit := run("rev-parse", "HEAD")

	base := serveDir(t, wh.IndexDir)
	f, err := index.New(index.Options{IndexURL: base + "/simple/", CacheDir: t.TempDir(), Netrc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}
	res, err := Resolve(context.Background(), p, reqs(t, "dk-app @ git+file://"+repo+"@release#subdirectory=app"), Options{Environment: tg.Environment})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryEq(res); !strings.Contains(got, "dk-app==1.0") || !strings.Contains(got, "django==3.2.25") || !strings.Contains(got, "gunicorn==20.1.0") {
		t.Errorf("resolution: %s", got)
	}
	l, err := res.Lock(context.Background(), f, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app := l.Find("dk-app")
	if app == nil || app.VCS == nil || app.VCS.CommitID != commit || app.VCS.RequestedRevision != "release" || app.VCS.Subdirectory != "app" || app.VCS.Path != repo || app.Version != "" {
		t.Errorf("locked app: %+v %+v", app, app.VCS)
	}
	if _, err := lock.Marshal(l); err != nil {
		t.Fatal(err)
	}
}

// inputFromFile parses the requirements file at path into an Input.
func inputFromFile(t *testing.T, path string) *Input {
	t.Helper()
	rf, err := requirements.ParseFile(context.Background(), path, requirements.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := InputFromFile(rf)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestInputFromFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.txt"), []byte("six<2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "req.txt"), []byte("--pre\n-i http://127.0.0.1:1/simple/\n-c c.txt\nDjango>=3\n-e file://"+dir+"#egg=dk-local\n"), 0o644)
	in := inputFromFile(t, filepath.Join(dir, "req.txt"))
	if len(in.Hashes) != 0 {
		t.Errorf("hashes: %v", in.Hashes)
	}
	if !in.Pre || in.Sources.IndexURL != "http://127.0.0.1:1/simple/" || len(in.Roots) != 2 || len(in.Constraints) != 1 || !in.Editable["dk-local"] {
		t.Errorf("input: %+v", in)
	}
}

// A source failing in the middle of a resolution: the error names the
// requirement, who required it, and the source.
func TestSourceFailureNamesRequirementAndSource(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	fs := http.FileServer(http.Dir(wh.IndexDir))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/sqlparse/" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fs.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	f, err := index.New(index.Options{IndexURL: base + "/simple/", CacheDir: t.TempDir(), Netrc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}
	_, err = Resolve(context.Background(), p, reqs(t, "Django"), Options{Environment: tg.Environment})
	var he *index.HTTPError
	if !errors.As(err, &he) || he.Status != 503 {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"sqlparse", "required by django 3.2.25", base + "/simple/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestHashCheckingRestrictsFiles(t *testing.T) {
	synth := t.TempDir()
	buildIndex(t, synth, []synthDist{{name: "dk-h", version: "1.0"}, {name: "dk-h", version: "2.0"}})
	old, err := os.ReadFile(filepath.Join(synth, "files", "dk_h-1.0-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(old)
	base := serveDir(t, synth)
	f, err := index.New(index.Options{IndexURL: base + "/simple/", CacheDir: t.TempDir(), Netrc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := testEnv()
	p := &IndexProvider{Finder: f, Tags: dist.NewTagSet([]dist.Tag{{Interpreter: "py3", ABI: "none", Platform: "any"}}), Python: pep440.MustParse("3.11.7"),
		Hashes: map[string][]string{"dk-h": {"sha256:" + hex.EncodeToString(sum[:])}}}
	res, err := Resolve(context.Background(), p, reqs(t, "dk-h"), Options{Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, "dk-h==1.0")
	p.Hashes["dk-h"] = []string{"sha256:" + strings.Repeat("0", 64)}
	p2 := &IndexProvider{Finder: f, Tags: p.Tags, Python: p.Python, Hashes: p.Hashes}
	if _, err := Resolve(context.Background(), p2, reqs(t, "dk-h"), Options{Environment: env}); !errors.Is(err, ErrNoSolution) {
		t.Errorf("no file with the hash: %v", err)
	}
}

func TestLockRequestKeepsPreviousVersions(t *testing.T) {
	synth := t.TempDir()
	buildIndex(t, synth, []synthDist{{name: "dk-l", version: "1.0", deps: []string{"dk-m"}}, {name: "dk-m", version: "1.0"}})
	base := serveDir(t, synth)
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	req := Request{Target: tg, Roots: reqs(t, "dk-l"), Sources: index.Options{IndexURL: base + "/simple/", CacheDir: t.TempDir(), Netrc: "-"}}
	l1, _, err := Lock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// New releases appear; the previous lock is kept except for the
	// package being upgraded.
	buildIndex(t, synth, []synthDist{{name: "dk-l", version: "1.0", deps: []string{"dk-m"}}, {name: "dk-m", version: "1.0"},
		{name: "dk-l", version: "2.0", deps: []string{"dk-m"}}, {name: "dk-m", version: "2.0"}})
	req.Sources.CacheDir = t.TempDir()
	req.Previous = l1
	req.UpgradePackages = []string{"dk-m"}
	l2, res, err := Lock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, res, "dk-l==1.0 dk-m==2.0")
	if l2.Find("dk-l").Version != "1.0" || len(l2.Environments) != 1 || !strings.Contains(l2.Environments[0], tg.Environment["python_full_version"]) {
		t.Errorf("lock: %+v", l2)
	}
}
