package resolve

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements/index"
)

// synthProvider serves dists as an index on 127.0.0.1 and returns a
// provider over it for the given interpreter, and the index URL.
func synthProvider(t *testing.T, python string, dists []synthDist) (*IndexProvider, string) {
	t.Helper()
	tg := target(t, python)
	dir := t.TempDir()
	buildIndex(t, dir, dists)
	u := serveDir(t, dir)
	f, err := index.New(index.Options{IndexURL: u + "/simple/", CacheDir: t.TempDir(), Netrc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}, u + "/simple/"
}

func TestPreferBinary(t *testing.T) {
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	p, _ := synthProvider(t, py.Path, synthDists)
	cases := []struct {
		reqs   []string
		prefer bool
		want   string
	}{
		// Without the option the newest version wins, sdist or not (its
		// static PKG-INFO 2.2 is read without a build).
		{[]string{"dk-sd"}, false, "dk-sd==2.0"},
		{[]string{"dk-sd"}, true, "dk-sd==1.5"},
		// A preference, not a filter: only the sdist fits.
		{[]string{"dk-sd>=2"}, true, "dk-sd==2.0"},
		{[]string{"dk-sdp"}, true, "dk-sd==1.5 dk-sdp==1.0"},
	}
	for _, c := range cases {
		res, err := Resolve(context.Background(), p, reqs(t, c.reqs...), Options{Environment: tg.Environment, PreferBinary: c.prefer})
		if err != nil {
			t.Fatalf("%v prefer=%v: %v", c.reqs, c.prefer, err)
		}
		if got := summaryEq(res); got != c.want {
			t.Errorf("%v prefer=%v: got %s, want %s", c.reqs, c.prefer, got, c.want)
		}
		if sd := res.Find("dk-sd"); sd != nil && sd.Candidate.Wheel != (sd.Candidate.Version.String() != "2.0") {
			t.Errorf("dk-sd %s: Wheel=%v", sd.Candidate.Version, sd.Candidate.Wheel)
		}
	}
}

// TestPreferBinaryFromFile: --prefer-binary in a requirements file
// reaches Lock through InputFromFile and Request.
func TestPreferBinaryFromFile(t *testing.T) {
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	_, u := synthProvider(t, py.Path, synthDists)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "req.txt"), []byte("--prefer-binary\n-i "+u+"\ndk-sd\n"), 0o644)
	in := inputFromFile(t, filepath.Join(dir, "req.txt"))
	if !in.PreferBinary {
		t.Fatal("InputFromFile dropped --prefer-binary")
	}
	src := in.Sources
	src.CacheDir = t.TempDir()
	src.Netrc = "-"
	l, res, err := Lock(context.Background(), Request{Target: tg, Roots: in.Roots, PreferBinary: in.PreferBinary, Sources: src})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryEq(res); got != "dk-sd==1.5" {
		t.Errorf("resolution %s, want dk-sd==1.5", got)
	}
	if lp := l.Find("dk-sd"); lp == nil || lp.Version != "1.5" || len(lp.Wheels) != 1 {
		t.Errorf("locked: %+v", lp)
	}
}
