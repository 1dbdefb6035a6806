package resolve

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// directDists builds two local wheels of dk-d (3.0 and 3.1, on no index)
// and index projects that require dk-d by name or by URL; it returns the
// dists and the two wheels' URLs.
func directDists(t *testing.T) ([]synthDist, string, string) {
	local := t.TempDir()
	buildIndex(t, local, []synthDist{{name: "dk-d", version: "3.0"}, {name: "dk-d", version: "3.1"}})
	u30 := "file://" + filepath.Join(local, "files", "dk_d-3.0-py3-none-any.whl")
	u31 := "file://" + filepath.Join(local, "files", "dk_d-3.1-py3-none-any.whl")
	return []synthDist{
		{name: "dk-d", version: "1.0"},
		{name: "dk-d", version: "2.0"},
		{name: "dk-plain", version: "1.0", deps: []string{"dk-d>=1"}},
		{name: "dk-needs-url", version: "1.0", deps: []string{"dk-d @ " + u30}},
		{name: "dk-url2", version: "1.0", deps: []string{"dk-d @ " + u31}},
		{name: "dk-sw", version: "1.0"},
		{name: "dk-sw", version: "2.0", deps: []string{"dk-d @ " + u30}},
	}, u30, u31
}

var directScenarios = []scenario{
	// dk-d is met by name first (from the index), then by URL: the direct
	// reference wins.
	{name: "url-after-name", reqs: []string{"dk-plain", "dk-needs-url"}},
	{name: "url-before-name", reqs: []string{"dk-needs-url", "dk-plain"}},
	{name: "name-only", reqs: []string{"dk-plain"}},
	// The URL's version does not fit a requirement by name.
	{name: "url-vs-specifier", reqs: []string{"dk-d<3", "dk-needs-url"}},
	// dk-sw 2.0 needs the URL, which dk-d<3 rules out: back to dk-sw 1.0,
	// and dk-d from the index (the known URL is not offered to names).
	{name: "url-requirer-dropped", reqs: []string{"dk-sw", "dk-d<3", "dk-plain"}},
	// Two different URLs for one project.
	{name: "two-urls", reqs: []string{"dk-needs-url", "dk-url2"}},
}

func TestDirectReferenceDependency(t *testing.T) {
	py := testenv.PythonMinor(t, "3.11")
	tg := target(t, py.Path)
	dists, u30, u31 := directDists(t)
	p, _ := synthProvider(t, py.Path, dists)
	want := map[string]string{
		"url-after-name":       "dk-d==3.0 dk-needs-url==1.0 dk-plain==1.0",
		"url-before-name":      "dk-d==3.0 dk-needs-url==1.0 dk-plain==1.0",
		"name-only":            "dk-d==2.0 dk-plain==1.0",
		"url-requirer-dropped": "dk-d==2.0 dk-plain==1.0 dk-sw==1.0",
	}
	for _, sc := range directScenarios {
		res, err := Resolve(context.Background(), p, reqs(t, sc.reqs...), Options{Environment: tg.Environment})
		w, ok := want[sc.name]
		if !ok {
			var ns *NoSolutionError
			if !errors.As(err, &ns) {
				t.Fatalf("%s: want no solution, got %v (%v)", sc.name, err, res)
			}
			t.Logf("%s:\n%s", sc.name, ns.Explanation())
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if got := summaryEq(res); got != w {
			t.Errorf("%s: got %s, want %s", sc.name, got, w)
		}
		d := res.Find("dk-d")
		if direct := d.Candidate.Version.String() == "3.0"; d.Direct != direct || (d.Candidate.URL == u30) != direct {
			t.Errorf("%s: dk-d %s Direct=%v URL=%q", sc.name, d.Candidate.Version, d.Direct, d.Candidate.URL)
		}
	}

	// The lock records the URL's archive for dk-d, not an index file.
	res, err := Resolve(context.Background(), p, reqs(t, "dk-plain", "dk-needs-url"), Options{Environment: tg.Environment})
	if err != nil {
		t.Fatal(err)
	}
	l, err := res.Lock(context.Background(), p.Finder, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lp := l.Find("dk-d"); lp == nil || lp.Archive == nil || lp.Archive.Path != strings.TrimPrefix(u30, "file://") || len(lp.Wheels) != 0 || lp.Version != "3.0" {
		t.Errorf("locked dk-d: %+v", lp)
	}

	// Two URLs: the explanation names both requirers and both URLs.
	_, err = Resolve(context.Background(), p, reqs(t, "dk-needs-url", "dk-url2"), Options{Environment: tg.Environment})
	var ns *NoSolutionError
	if !errors.As(err, &ns) {
		t.Fatalf("two URLs: %v", err)
	}
	for _, s := range []string{"dk-needs-url 1.0 depends on dk-d @ " + u30, "dk-url2 1.0 depends on dk-d @ " + u31} {
		if !strings.Contains(ns.Explanation(), s) {
			t.Errorf("two URLs: the explanation does not say %q:\n%s", s, ns.Explanation())
		}
	}
	// A root URL and a dependency's other URL conflict the same way.
	_, err = Resolve(context.Background(), p, reqs(t, "dk-d @ "+u31, "dk-needs-url"), Options{Environment: tg.Environment})
	if !errors.As(err, &ns) || !strings.Contains(ns.Explanation(), u30) || !strings.Contains(ns.Explanation(), u31) {
		t.Errorf("root URL vs dependency URL: %v", err)
	}
	// The same URL from the roots and a dependency is one candidate.
	res, err = Resolve(context.Background(), p, reqs(t, "dk-d @ "+u30, "dk-needs-url", "dk-plain"), Options{Environment: tg.Environment})
	if err != nil || summaryEq(res) != "dk-d==3.0 dk-needs-url==1.0 dk-plain==1.0" || !res.Find("dk-d").Direct {
		t.Errorf("root and dependency with the same URL: %v %v", err, res)
	}
}

// TestDirectReferenceAgainstPip runs the same scenarios through pip 24.
func TestDirectReferenceAgainstPip(t *testing.T) {
	py := testenv.PythonMinor(t, "3.13")
	tg := target(t, py.Path)
	dists, _, _ := directDists(t)
	p, u := synthProvider(t, py.Path, dists)
	sem := make(chan struct{}, 3)
	for _, sc := range directScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			want, pipOK, pipOut := pipResolve(t, py.Path, sc, []string{u}, t.TempDir())
			res, err := Resolve(context.Background(), p, reqs(t, sc.reqs...), Options{Environment: tg.Environment})
			agreeWithPip(t, res, err, want, pipOK, pipOut)
		})
	}
}
