package resolve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// memIndex is an in-memory Provider: "name version" -> release.
type memIndex struct {
	pkgs  map[string]map[string]*memRelease
	calls atomic.Int64
}

type memRelease struct {
	deps           []string
	requiresPython string // metadata
	indexRP        string // data-requires-python
	extras         []string
	yanked         bool
}

func newMem() *memIndex { return &memIndex{pkgs: map[string]map[string]*memRelease{}} }

// add registers name==version with its Requires-Dist lines.
func (m *memIndex) add(name, version string, deps ...string) *memRelease {
	n := requirements.NormalizeName(name)
	if m.pkgs[n] == nil {
		m.pkgs[n] = map[string]*memRelease{}
	}
	r := &memRelease{deps: deps}
	m.pkgs[n][version] = r
	return r
}

func (m *memIndex) Versions(ctx context.Context, name string) ([]Candidate, error) {
	m.calls.Add(1)
	var out []Candidate
	for v, r := range m.pkgs[name] {
		out = append(out, Candidate{Name: name, Version: pep440.MustParse(v), Yanked: r.yanked, RequiresPython: r.indexRP})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version.String() < out[j].Version.String() })
	return out, nil
}

func (m *memIndex) Metadata(ctx context.Context, c Candidate) (*Metadata, error) {
	m.calls.Add(1)
	r := m.pkgs[c.Name][c.Version.String()]
	if r == nil {
		for v, rr := range m.pkgs[c.Name] {
			if pep440.MustParse(v).Compare(c.Version) == 0 {
				r = rr
			}
		}
	}
	md := &Metadata{ProvidesExtra: r.extras}
	for _, d := range r.deps {
		req, err := requirements.ParseRequirement(d)
		if err != nil {
			return nil, err
		}
		md.RequiresDist = append(md.RequiresDist, req)
	}
	if r.requiresPython != "" {
		md.RequiresPython = pep440.MustParseSpecifiers(r.requiresPython)
	}
	return md, nil
}

func testEnv() requirements.Environment {
	return requirements.Environment{
		"implementation_name":            "cpython",
		"implementation_version":         "3.11.7",
		"os_name":                        "posix",
		"platform_machine":               "x86_64",
		"platform_python_implementation": "CPython",
		"platform_release":               "6.1.0",
		"platform_system":                "Linux",
		"platform_version":               "#1 SMP",
		"python_full_version":            "3.11.7",
		"python_version":                 "3.11",
		"sys_platform":                   "linux",
	}
}

func reqs(t testing.TB, ss ...string) []requirements.Requirement {
	t.Helper()
	var out []requirements.Requirement
	for _, s := range ss {
		r, err := requirements.ParseRequirement(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func summary(r *Resolution) string {
	var parts []string
	for _, p := range r.Packages {
		s := p.Name + "==" + p.Candidate.Version.String()
		if len(p.Extras) > 0 {
			s += "[" + strings.Join(p.Extras, ",") + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func resolveOK(t *testing.T, m *memIndex, opts Options, roots ...string) *Resolution {
	t.Helper()
	if opts.Environment == nil {
		opts.Environment = testEnv()
	}
	r, err := Resolve(context.Background(), m, reqs(t, roots...), opts)
	if err != nil {
		t.Fatalf("Resolve(%v): %v", roots, err)
	}
	return r
}

func resolveFail(t *testing.T, m *memIndex, opts Options, roots ...string) *NoSolutionError {
	t.Helper()
	if opts.Environment == nil {
		opts.Environment = testEnv()
	}
	r, err := Resolve(context.Background(), m, reqs(t, roots...), opts)
	if err == nil {
		t.Fatalf("Resolve(%v) = %s, want no solution", roots, summary(r))
	}
	ns, ok := err.(*NoSolutionError)
	if !ok {
		t.Fatalf("Resolve(%v): %v, want *NoSolutionError", roots, err)
	}
	return ns
}

func expect(t *testing.T, r *Resolution, want string) {
	t.Helper()
	if got := summary(r); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func (m *memIndex) String() string { return fmt.Sprint(len(m.pkgs), " packages") }
