package resolve

import (
	"strings"
	"testing"

	"github.com/deploykit/deploykit/requirements/pep440"
)

// The scenarios of pub's solver.md ("^1.0.0" written as ">=1.0.0,<2").

func TestNoConflicts(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0", "bar>=1.0.0,<2")
	m.add("bar", "1.0.0")
	m.add("bar", "2.0.0")
	expect(t, resolveOK(t, m, Options{}, "foo>=1.0.0,<2"), "bar==1.0.0 foo==1.0.0")
}

func TestAvoidConflictDuringDecisionMaking(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0")
	m.add("foo", "1.1.0", "bar>=2.0.0,<3")
	m.add("bar", "1.0.0")
	m.add("bar", "1.1.0")
	m.add("bar", "2.0.0")
	expect(t, resolveOK(t, m, Options{}, "foo>=1.0.0,<2", "bar>=1.0.0,<2"), "bar==1.1.0 foo==1.0.0")
}

func TestConflictResolution(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0")
	m.add("foo", "2.0.0", "bar>=1.0.0,<2")
	m.add("bar", "1.0.0", "foo>=1.0.0,<2")
	expect(t, resolveOK(t, m, Options{}, "foo>=1.0.0"), "foo==1.0.0")
}

func TestConflictResolutionWithPartialSatisfier(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0")
	m.add("foo", "1.1.0", "left>=1.0.0,<2", "right>=1.0.0,<2")
	m.add("left", "1.0.0", "shared>=1.0.0")
	m.add("right", "1.0.0", "shared<2.0.0")
	m.add("shared", "2.0.0")
	m.add("shared", "1.0.0", "target>=1.0.0,<2")
	m.add("target", "2.0.0")
	m.add("target", "1.0.0")
	expect(t, resolveOK(t, m, Options{}, "foo>=1.0.0,<2", "target>=2.0.0,<3"), "foo==1.0.0 target==2.0.0")
}

func TestProgressEvents(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0")
	m.add("foo", "2.0.0", "bar>=1.0.0,<2")
	m.add("bar", "1.0.0", "foo>=1.0.0,<2")
	var decisions, conflicts int
	resolveOK(t, m, Options{Progress: func(e Event) {
		switch e.Kind {
		case EventDecision:
			decisions++
		case EventConflict:
			conflicts++
		}
	}}, "foo>=1.0.0")
	if decisions < 2 || conflicts < 1 {
		t.Errorf("decisions %d conflicts %d", decisions, conflicts)
	}
}

func TestCircularDependency(t *testing.T) {
	m := newMem()
	m.add("a", "1.0", "b")
	m.add("b", "1.0", "a>=1")
	expect(t, resolveOK(t, m, Options{}, "a"), "a==1.0 b==1.0")
}

func TestLinearErrorReporting(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0", "bar>=2.0.0,<3")
	m.add("bar", "2.0.0", "baz>=3.0.0,<4")
	m.add("baz", "1.0.0")
	m.add("baz", "3.0.0")
	e := resolveFail(t, m, Options{}, "foo>=1.0.0,<2", "baz>=1.0.0,<2")
	text := e.Explanation()
	for _, want := range []string{"foo 1.0.0 depends on bar<3,>=2.0.0", "bar 2.0.0 depends on baz<4,>=3.0.0", "baz<2,>=1.0.0", "version solving failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(e.Error(), "no set of versions") {
		t.Errorf("Error() = %q", e.Error())
	}
	t.Logf("\n%s", text)
}

func TestBranchingErrorReporting(t *testing.T) {
	m := newMem()
	m.add("foo", "1.0.0", "a>=1.0.0,<2", "b>=1.0.0,<2")
	m.add("foo", "1.1.0", "x>=1.0.0,<2", "y>=1.0.0,<2")
	m.add("a", "1.0.0", "b>=2.0.0,<3")
	m.add("b", "1.0.0")
	m.add("b", "2.0.0")
	m.add("x", "1.0.0", "y>=2.0.0,<3")
	m.add("y", "1.0.0")
	m.add("y", "2.0.0")
	e := resolveFail(t, m, Options{}, "foo>=1.0.0,<2")
	text := e.Explanation()
	for _, want := range []string{"a 1.0.0 depends on b<3,>=2.0.0", "x 1.0.0 depends on y<3,>=2.0.0", "foo"} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	t.Logf("\n%s", text)
}

func TestMissingPackageExplained(t *testing.T) {
	m := newMem()
	m.add("app", "1.0", "ghost>=1")
	e := resolveFail(t, m, Options{}, "app")
	if !strings.Contains(e.Explanation(), "ghost>=1, which no source provides") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
	m.add("ghost", "0.5")
	e = resolveFail(t, m, Options{}, "app")
	if !strings.Contains(e.Explanation(), "which matches no available version (available: 0.5)") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
}

func TestExtras(t *testing.T) {
	m := newMem()
	a := m.add("a", "1.0", `b; extra == "x"`, `c; extra == "y"`, `a[x,y]; extra == "all"`, "d")
	a.extras = []string{"x", "y", "all"}
	m.add("b", "1.0")
	m.add("c", "1.0")
	m.add("d", "1.0")
	expect(t, resolveOK(t, m, Options{}, "a"), "a==1.0 d==1.0")
	expect(t, resolveOK(t, m, Options{}, "a[x]"), "a==1.0[x] b==1.0 d==1.0")
	// Self-referential: a[all] -> a[x,y].
	expect(t, resolveOK(t, m, Options{}, "a[all]"), "a==1.0[all,x,y] b==1.0 c==1.0 d==1.0")
	// An unknown extra: a warning, the package is installed.
	r := resolveOK(t, m, Options{}, "a[nope]")
	expect(t, r, "a==1.0[nope] d==1.0")
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "a 1.0 does not provide the extra 'nope'") {
		t.Errorf("warnings: %v", r.Warnings)
	}
}

func TestExtraForcesSameVersion(t *testing.T) {
	m := newMem()
	m.add("a", "2.0").extras = nil // 2.0 dropped the extra
	m.add("a", "1.0", `b>=1; extra == "x"`).extras = []string{"x"}
	m.add("b", "1.0")
	m.add("c", "1.0", "a[x]<2")
	expect(t, resolveOK(t, m, Options{}, "a", "c"), "a==1.0[x] b==1.0 c==1.0")
}

func TestMarkersUseFullPythonVersion(t *testing.T) {
	m := newMem()
	m.add("app", "1.0", `old; python_full_version < "3.11.5"`, `new; python_full_version >= "3.11.5"`, `win; sys_platform == "win32"`)
	m.add("old", "1.0")
	m.add("new", "1.0")
	m.add("win", "1.0")
	expect(t, resolveOK(t, m, Options{}, "app"), "app==1.0 new==1.0")
	env := testEnv()
	env["python_full_version"] = "3.11.2"
	expect(t, resolveOK(t, m, Options{Environment: env}, "app"), "app==1.0 old==1.0")
	// Root markers too.
	expect(t, resolveOK(t, m, Options{}, `win; sys_platform == "linux"`, `old; sys_platform == "win32"`), "win==1.0")
}

func TestRequiresPython(t *testing.T) {
	m := newMem()
	m.add("lib", "3.0").requiresPython = ">=3.12"
	m.add("lib", "2.0").indexRP = ">=3.11.8"
	m.add("lib", "1.0").requiresPython = ">=3.8"
	expect(t, resolveOK(t, m, Options{}, "lib"), "lib==1.0")
	e := resolveFail(t, m, Options{}, "lib>=2")
	if !strings.Contains(e.Explanation(), "requires Python") || !strings.Contains(e.Explanation(), "3.11.7") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
	t.Logf("\n%s", e.Explanation())
}

func TestConstraints(t *testing.T) {
	m := newMem()
	m.add("a", "1.0", "b")
	m.add("b", "1.0")
	m.add("b", "2.0")
	m.add("c", "1.0")
	r := resolveOK(t, m, Options{Constraints: reqs(t, "b<2", "c==1.0")}, "a")
	expect(t, r, "a==1.0 b==1.0") // a constraint adds no package
	e := resolveFail(t, m, Options{Constraints: reqs(t, "b<1")}, "a")
	if !strings.Contains(e.Explanation(), "the constraint b<1 forbids") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
}

// Pre-releases as pip 24 decides them (packaging's SpecifierSet.filter on
// the merged specifier, prereleases=None unless --pre).
func TestPrereleases(t *testing.T) {
	m := newMem()
	m.add("a", "1.0")
	m.add("a", "2.0b1")
	m.add("onlypre", "1.0a1")
	m.add("onlypre", "1.0a2")
	m.add("x", "1.0", "a>=1.0")
	m.add("y", "1.0", "a>=2.0b1")
	m.add("z", "1.0", "onlypre>=0.1")
	cases := []struct {
		roots []string
		pre   bool
		want  string
		fail  bool
	}{
		{[]string{"a"}, false, "a==1.0", false},
		{[]string{"a"}, true, "a==2.0b1", false},
		{[]string{"a>=1.5"}, false, "", true},                 // names no pre-release: pip finds nothing
		{[]string{"a>=2.0b1"}, false, "a==2.0b1", false},      // inclusive operator naming a pre-release
		{[]string{"a>2.0a1"}, false, "", true},                // ">" is not inclusive: not allowed
		{[]string{"a!=3.0a1"}, false, "a==1.0", false},        // "!=" never allows
		{[]string{"a==2.0b1"}, false, "a==2.0b1", false},      // pinned
		{[]string{"a~=2.0b1"}, false, "a==2.0b1", false},      // ~=
		{[]string{"a<=2.0b1"}, false, "a==2.0b1", false},      // <= names it: newest allowed is the pre
		{[]string{"a==2.*"}, false, "", true},                 // wildcard of a final: no
		{[]string{"onlypre"}, false, "onlypre==1.0a2", false}, // empty specifier, no final release
		{[]string{"z"}, false, "", true},                      // non-empty specifier, no final: none
		{[]string{"z"}, true, "onlypre==1.0a2 z==1.0", false},
		// Merged: y's specifier names a pre-release, so a 2.0b1 is allowed
		// for everyone.
		{[]string{"x", "y"}, false, "a==2.0b1 x==1.0 y==1.0", false},
		{[]string{"x", "a<2"}, false, "a==1.0 x==1.0", false},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.roots, ",")+map[bool]string{true: " --pre"}[c.pre], func(t *testing.T) {
			if c.fail {
				e := resolveFail(t, m, Options{Pre: c.pre}, c.roots...)
				t.Log(e.Explanation())
				return
			}
			expect(t, resolveOK(t, m, Options{Pre: c.pre}, c.roots...), c.want)
		})
	}
}

func TestPrereleaseExplanation(t *testing.T) {
	m := newMem()
	m.add("a", "1.0")
	m.add("a", "2.0b1")
	e := resolveFail(t, m, Options{}, "a>=1.5")
	if !strings.Contains(e.Explanation(), "pre-release") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
}

func TestYanked(t *testing.T) {
	m := newMem()
	m.add("a", "1.0")
	m.add("a", "2.0").yanked = true
	m.add("b", "1.0").yanked = true
	expect(t, resolveOK(t, m, Options{}, "a"), "a==1.0")
	expect(t, resolveOK(t, m, Options{}, "a==2.0"), "a==2.0")
	expect(t, resolveOK(t, m, Options{}, "a===2.0"), "a==2.0")
	resolveFail(t, m, Options{}, "a>=2.0") // yanked, not pinned
	e := resolveFail(t, m, Options{}, "b")
	if !strings.Contains(e.Explanation(), "yanked") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
	expect(t, resolveOK(t, m, Options{}, "b==1.0"), "b==1.0")
	resolveFail(t, m, Options{}, "b==1.*")
}

func TestPreferencesAndUpgradePackage(t *testing.T) {
	m := newMem()
	for _, v := range []string{"1.0", "1.1", "2.0"} {
		m.add("a", v, "b")
		m.add("b", v)
	}
	prefs := map[string]pep440.Version{"a": pep440.MustParse("1.0"), "b": pep440.MustParse("1.1")}
	expect(t, resolveOK(t, m, Options{Preferences: prefs}, "a"), "a==1.0 b==1.1")
	expect(t, resolveOK(t, m, Options{Preferences: prefs, UpgradePackages: []string{"B"}}, "a"), "a==1.0 b==2.0")
	expect(t, resolveOK(t, m, Options{Preferences: prefs, Upgrade: true}, "a"), "a==2.0 b==2.0")
	// A preference that no longer fits is dropped.
	expect(t, resolveOK(t, m, Options{Preferences: prefs}, "a>=2"), "a==2.0 b==1.1")
}

func TestDependenciesReported(t *testing.T) {
	m := newMem()
	m.add("a", "1.0", "b", `c; extra == "x"`).extras = []string{"x"}
	m.add("b", "1.0")
	m.add("c", "1.0")
	r := resolveOK(t, m, Options{}, "a[x]")
	got := r.Find("A")
	if got == nil || strings.Join(got.Dependencies, ",") != "b,c" || strings.Join(got.Extras, ",") != "x" {
		t.Errorf("a: %+v", got)
	}
}

func TestFormatControlPrecedence(t *testing.T) {
	for _, c := range []struct {
		fc             FormatControl
		name           string
		wheels, sdists bool
	}{
		{FormatControl{}, "a", true, true},
		{FormatControl{NoBinary: []string{":all:"}}, "a", false, true},
		{FormatControl{OnlyBinary: []string{":all:"}, NoBinary: []string{":all:"}}, "a", true, false},
		{FormatControl{NoBinary: []string{":all:"}, OnlyBinary: []string{"A_B"}}, "a-b", true, false},
		{FormatControl{OnlyBinary: []string{":all:"}, NoBinary: []string{"a"}}, "A", false, true},
	} {
		w, s := c.fc.Allowed(c.name)
		if w != c.wheels || s != c.sdists {
			t.Errorf("%+v %s: wheels %v sdists %v", c.fc, c.name, w, s)
		}
	}
}

// TestPrereleaseNamedByLaterRequirer: pip merges the specifiers of every
// requirer before deciding whether a pre-release may be used, so a
// requirer decided later, or chosen after backtracking, that names a
// pre-release makes it usable.
func TestPrereleaseNamedByLaterRequirer(t *testing.T) {
	m := newMem()
	m.add("a", "1.0")
	m.add("a", "2.0b1")
	m.add("late", "1.0", "a>=2.0b1")
	m.add("late", "1.1", "a>=2.0b1")
	m.add("gt", "1.0", "a>1.5") // names no pre-release
	// zp 2.0 needs a pre-release of a without naming one; zp 1.0 leads,
	// through w 1.0, to a requirement that names it.
	m.add("zp", "1.0", "w<2")
	m.add("zp", "2.0", "a>1.5")
	m.add("w", "1.0", "a>=2.0b1")
	m.add("w", "2.0")
	// Yanked versions likewise: y 2.0 is yanked, pinned only by pin 1.0.
	m.add("y", "1.0")
	m.add("y", "2.0").yanked = true
	m.add("yp", "1.0", "y>1.5")
	m.add("yp", "2.0", "pin")
	m.add("pin", "1.0", "y==2.0")
	m.add("pin", "1.1", "y==2.0")
	for _, roots := range [][]string{{"gt", "late"}, {"late", "gt"}} {
		expect(t, resolveOK(t, m, Options{}, roots...), "a==2.0b1 gt==1.0 late==1.1")
	}
	r := resolveOK(t, m, Options{}, "zp", "w")
	if a := r.Find("a"); a == nil || a.Candidate.Version.String() != "2.0b1" || r.Find("w").Candidate.Version.String() != "1.0" {
		t.Errorf("zp, w: %s", summary(r))
	}
	r = resolveOK(t, m, Options{}, "yp<2", "pin")
	expect(t, r, "pin==1.1 y==2.0 yp==1.0")
	// Without a requirer naming one, the fact holds and is explained.
	e := resolveFail(t, m, Options{}, "gt")
	if !strings.Contains(e.Explanation(), "a 2.0b1 is a pre-release") {
		t.Errorf("explanation:\n%s", e.Explanation())
	}
}
