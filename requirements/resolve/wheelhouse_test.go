package resolve

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
)

// serveDir serves a directory over HTTP on 127.0.0.1 and returns its URL
// and a request counter.
func serveDir(t testing.TB, dir string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	fs := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fs.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), &n
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
	base, _ := serveDir(t, wh.IndexDir)
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
	out := filepath.Join(t.TempDir(), "pylock.toml")
	if err := lock.WriteFile(out, l); err != nil {
		t.Fatal(err)
	}
	back, err := lock.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	d := back.Find("django")
	if d == nil || len(d.Wheels) != 1 || d.Wheels[0].Hashes["sha256"] != "518dd233cf1acae94f68205a9da9dfcfc2eeb42c75f44d2203f7b946487ccd89" || !strings.HasPrefix(d.Index, base) {
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
