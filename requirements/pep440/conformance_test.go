package pep440

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// The vectors in ../shared/conformance were computed by pypa/packaging
// 26.x; these tests read them in place (they are never copied here).

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(testenv.Conformance(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// policy maps packaging's prereleases=None/True/False.
func policy(b *bool) PrereleasePolicy {
	switch {
	case b == nil:
		return PrereleaseDefault
	case *b:
		return PrereleaseAllow
	}
	return PrereleaseDeny
}

func preString(p PrereleasePolicy) string {
	switch p {
	case PrereleaseAllow:
		return "true"
	case PrereleaseDeny:
		return "false"
	}
	return "null"
}

func TestConformanceVersions(t *testing.T) {
	var f struct {
		Valid []struct {
			Input, Normalized, Public string
			BaseVersion               string `json:"base_version"`
			Epoch                     uint64
			Release                   []uint64
			Pre                       []any
			Post, Dev                 *uint64
			Local                     *string
			IsPrerelease              bool `json:"is_prerelease"`
			IsPostrelease             bool `json:"is_postrelease"`
			IsDevrelease              bool `json:"is_devrelease"`
		}
		ValidLarge []struct{ Input, Normalized string } `json:"valid_large_numbers"`
		Invalid    []struct{ Input string }
	}
	loadJSON(t, "versions.json", &f)
	if len(f.Valid) == 0 || len(f.Invalid) == 0 || len(f.ValidLarge) == 0 {
		t.Fatal("versions.json has empty sections")
	}
	for _, c := range f.Valid {
		v, err := Parse(c.Input)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.Input, err)
			continue
		}
		local := ""
		if c.Local != nil {
			local = *c.Local
		}
		got := []any{v.String(), v.Public(), v.BaseVersion(), v.Local(), v.IsPrerelease(), v.IsPostrelease(), v.IsDevrelease(), v.Epoch(), fmt.Sprint(v.Release())}
		want := []any{c.Normalized, c.Public, c.BaseVersion, local, c.IsPrerelease, c.IsPostrelease, c.IsDevrelease, c.Epoch, fmt.Sprint(c.Release)}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Parse(%q):\n got %v\nwant %v", c.Input, got, want)
		}
		label, n, ok := v.Pre()
		if c.Pre == nil {
			if ok {
				t.Errorf("Parse(%q).Pre() = %s%d, want none", c.Input, label, n)
			}
		} else if !ok || label != c.Pre[0].(string) || float64(n) != c.Pre[1].(float64) {
			t.Errorf("Parse(%q).Pre() = %s%d %v, want %v", c.Input, label, n, ok, c.Pre)
		}
		if p, ok := v.Post(); ok != (c.Post != nil) || (ok && p != *c.Post) {
			t.Errorf("Parse(%q).Post() = %d %v, want %v", c.Input, p, ok, c.Post)
		}
		if d, ok := v.Dev(); ok != (c.Dev != nil) || (ok && d != *c.Dev) {
			t.Errorf("Parse(%q).Dev() = %d %v, want %v", c.Input, d, ok, c.Dev)
		}
		// Round trip: the normalized form parses to an equal version.
		w, err := Parse(v.String())
		if err != nil || w.Compare(v) != 0 || w.String() != v.String() {
			t.Errorf("round trip of %q: %v %v", c.Input, w, err)
		}
	}
	for _, c := range f.ValidLarge {
		v, err := Parse(c.Input)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.Input, err)
			continue
		}
		if v.String() != c.Normalized {
			t.Errorf("Parse(%q) = %q, want %q", c.Input, v, c.Normalized)
		}
		if w, err := Parse(v.String()); err != nil || w.Compare(v) != 0 {
			t.Errorf("round trip of %q: %v", c.Input, err)
		}
	}
	for _, c := range f.Invalid {
		if v, err := Parse(c.Input); err == nil {
			t.Errorf("Parse(%q) = %q, want error", c.Input, v)
		}
	}
}

func TestConformanceVersionOrder(t *testing.T) {
	var f struct {
		Ascending          []string
		AscendingGenerated []string `json:"ascending_generated"`
		EqualPairs         []struct {
			Left, Right    string
			SameNormalized bool `json:"same_normalized"`
		} `json:"equal_pairs"`
		Comparisons []struct {
			Left, Right string
			Cmp         int
		}
	}
	loadJSON(t, "version_order.json", &f)
	for _, list := range [][]string{f.Ascending, f.AscendingGenerated} {
		if len(list) == 0 {
			t.Fatal("empty ascending list")
		}
		vs := make([]Version, len(list))
		for i, s := range list {
			vs[i] = MustParse(s)
		}
		for i := range vs {
			for j := range vs {
				want := cmpInt(i, j)
				if got := vs[i].Compare(vs[j]); got != want {
					t.Errorf("Compare(%q, %q) = %d, want %d", list[i], list[j], got, want)
				}
			}
		}
		// Sorting a reversed copy restores the order.
		rev := slices.Clone(vs)
		slices.Reverse(rev)
		slices.SortFunc(rev, Version.Compare)
		for i := range rev {
			if rev[i].String() != vs[i].String() {
				t.Errorf("sorted[%d] = %s, want %s", i, rev[i], vs[i])
			}
		}
	}
	for _, c := range f.EqualPairs {
		l, r := MustParse(c.Left), MustParse(c.Right)
		if l.Compare(r) != 0 || r.Compare(l) != 0 || !l.Equal(r) {
			t.Errorf("%q and %q should compare equal", c.Left, c.Right)
		}
		if (l.String() == r.String()) != c.SameNormalized {
			t.Errorf("%q/%q: same normalized form = %v, want %v", c.Left, c.Right, l.String() == r.String(), c.SameNormalized)
		}
	}
	for _, c := range f.Comparisons {
		if got := MustParse(c.Left).Compare(MustParse(c.Right)); got != c.Cmp {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.Left, c.Right, got, c.Cmp)
		}
	}
}

type specFile struct {
	ValidSpecifiers []struct {
		Input, Str, Operator, Version string
		Prereleases                   *bool
	} `json:"valid_specifiers"`
	ValidSets []struct {
		Input, Normalized string
		Length            int
		Items             []string
		Prereleases       *bool
	} `json:"valid_specifier_sets"`
	Invalid []struct {
		Input        string
		InvalidAsSet bool `json:"invalid_as_specifier_set"`
	} `json:"invalid_specifiers"`
	Contains []struct {
		Kind, Specifier string
		SpecPre         *bool `json:"spec_prereleases"`
		Prereleases     *bool
		Installed       *bool
		Version         string
		VersionParsed   bool `json:"version_parsed"`
		Expected        bool
	}
	Matrix struct {
		Items []string
		Rows  []struct {
			Specifier   string
			SpecPre     *bool `json:"spec_prereleases"`
			Prereleases *bool
			Installed   *bool
			Results     []bool
		}
	} `json:"contains_matrix"`
	Filter []struct {
		Kind, Specifier string
		SpecPre         *bool `json:"spec_prereleases"`
		Prereleases     *bool
		Versions        []string
		VersionsParsed  []bool `json:"versions_parsed"`
		ExpectedIndices []int  `json:"expected_indices"`
	}
	Unsatisfiable []struct {
		Specifier string
		SpecPre   *bool `json:"spec_prereleases"`
		Expected  bool
	} `json:"is_unsatisfiable"`
	Equality []struct {
		Kind, Left, Right string
		Equal             bool
	}
	Relations []struct {
		Left, Right string
		LeftPre     *bool `json:"left_prereleases"`
		RightPre    *bool `json:"right_prereleases"`
		Relation    string
		Expected    *bool
		Error       *string
	} `json:"set_relations"`
	Combine []struct {
		Left, Right         string
		LeftPre             *bool `json:"left_prereleases"`
		RightPre            *bool `json:"right_prereleases"`
		Expected            string
		ExpectedPrereleases *bool `json:"expected_prereleases"`
		Error               *string
	}
}

func loadSpecs(t *testing.T) *specFile {
	var f specFile
	loadJSON(t, "specifiers.json", &f)
	return &f
}

func TestConformanceSpecifierParsing(t *testing.T) {
	f := loadSpecs(t)
	if len(f.ValidSpecifiers) == 0 || len(f.ValidSets) == 0 || len(f.Invalid) == 0 {
		t.Fatal("specifiers.json has empty sections")
	}
	for _, c := range f.ValidSpecifiers {
		sp, err := ParseSpecifier(c.Input)
		if err != nil {
			t.Errorf("ParseSpecifier(%q): %v", c.Input, err)
			continue
		}
		if sp.String() != c.Str || sp.Operator() != c.Operator || sp.Version() != c.Version {
			t.Errorf("ParseSpecifier(%q) = %q (%q %q), want %q", c.Input, sp, sp.Operator(), sp.Version(), c.Str)
		}
		hint := sp.PrereleaseHint()
		if preString(hint) != preString(policy(c.Prereleases)) {
			t.Errorf("ParseSpecifier(%q).PrereleaseHint() = %v, want %v", c.Input, hint, preString(policy(c.Prereleases)))
		}
		again, err := ParseSpecifier(sp.String())
		if err != nil || !again.Equal(sp) || again.String() != sp.String() {
			t.Errorf("round trip of %q: %v %v", c.Input, again, err)
		}
	}
	for _, c := range f.ValidSets {
		ss, err := ParseSpecifiers(c.Input)
		if err != nil {
			t.Errorf("ParseSpecifiers(%q): %v", c.Input, err)
			continue
		}
		var items []string
		for _, it := range ss.Items() {
			items = append(items, it.String())
		}
		if ss.String() != c.Normalized || ss.Len() != c.Length || strings.Join(items, "|") != strings.Join(c.Items, "|") {
			t.Errorf("ParseSpecifiers(%q) = %q len %d items %q, want %q len %d items %q", c.Input, ss, ss.Len(), items, c.Normalized, c.Length, c.Items)
		}
		if preString(ss.PrereleaseHint()) != preString(policy(c.Prereleases)) {
			t.Errorf("ParseSpecifiers(%q).PrereleaseHint() = %v, want %v", c.Input, ss.PrereleaseHint(), c.Prereleases)
		}
		again, err := ParseSpecifiers(ss.String())
		if err != nil || !again.Equal(ss) || again.String() != ss.String() {
			t.Errorf("round trip of %q: %v %v", c.Input, again, err)
		}
	}
	for _, c := range f.Invalid {
		if sp, err := ParseSpecifier(c.Input); err == nil {
			t.Errorf("ParseSpecifier(%q) = %q, want error", c.Input, sp)
		}
		_, err := ParseSpecifiers(c.Input)
		if (err != nil) != c.InvalidAsSet {
			t.Errorf("ParseSpecifiers(%q) error = %v, want error %v", c.Input, err, c.InvalidAsSet)
		}
	}
}

// setContains applies packaging's SpecifierSet.contains(item, prereleases,
// installed): installed=True turns a pre-release into prereleases=True.
func setContains(ss Specifiers, item string, parsed bool, p PrereleasePolicy, installed *bool) bool {
	v, err := Parse(item)
	if err == nil && installed != nil && *installed && v.IsPrerelease() {
		p = PrereleaseAllow
	}
	if parsed {
		return ss.ContainsWith(v, p)
	}
	return ss.ContainsString(item, p)
}

func TestConformanceContains(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Contains) == 0 {
		t.Fatal("no contains cases")
	}
	for _, c := range f.Contains {
		var got bool
		if c.Kind == "Specifier" {
			sp, ok := specWith(t, c.Specifier, c.SpecPre)
			if !ok {
				continue
			}
			if c.VersionParsed {
				got = sp.ContainsWith(MustParse(c.Version), policy(c.Prereleases))
			} else {
				got = sp.ContainsString(c.Version, policy(c.Prereleases))
			}
		} else {
			ss, ok := setWith(t, c.Specifier, c.SpecPre)
			if !ok {
				continue
			}
			got = setContains(ss, c.Version, c.VersionParsed, policy(c.Prereleases), c.Installed)
		}
		if got != c.Expected {
			t.Errorf("%s(%q, prereleases=%s).contains(%q, prereleases=%s, installed=%v, parsed=%v) = %v, want %v",
				c.Kind, c.Specifier, preString(policy(c.SpecPre)), c.Version, preString(policy(c.Prereleases)), c.Installed, c.VersionParsed, got, c.Expected)
		}
	}
}

func TestConformanceContainsMatrix(t *testing.T) {
	f := loadSpecs(t)
	m := f.Matrix
	if len(m.Rows) == 0 || len(m.Items) == 0 {
		t.Fatal("empty contains_matrix")
	}
	for _, r := range m.Rows {
		ss, ok := setWith(t, r.Specifier, r.SpecPre)
		if !ok {
			continue
		}
		for i, it := range m.Items {
			if got := setContains(ss, it, false, policy(r.Prereleases), r.Installed); got != r.Results[i] {
				t.Errorf("SpecifierSet(%q, prereleases=%s).contains(%q, prereleases=%s, installed=%v) = %v, want %v",
					r.Specifier, preString(policy(r.SpecPre)), it, preString(policy(r.Prereleases)), r.Installed, got, r.Results[i])
			}
		}
	}
}

func TestConformanceFilter(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Filter) == 0 {
		t.Fatal("no filter cases")
	}
	for _, c := range f.Filter {
		allParsed := len(c.VersionsParsed) > 0
		mixed := false
		items := make([]item, len(c.Versions))
		var vs []Version
		for i, s := range c.Versions {
			v, ok := parseOK(s)
			parsed := len(c.VersionsParsed) > i && c.VersionsParsed[i]
			items[i] = item{raw: s, v: v, ok: ok, isVersion: parsed}
			if !parsed {
				allParsed = false
			} else {
				mixed = true
			}
			if ok {
				vs = append(vs, v)
			}
		}
		var f filterer
		if c.Kind == "Specifier" {
			sp, ok := specWith(t, c.Specifier, c.SpecPre)
			if !ok {
				continue
			}
			f = &sp
		} else {
			ss, ok := setWith(t, c.Specifier, c.SpecPre)
			if !ok {
				continue
			}
			f = &ss
		}
		p := policy(c.Prereleases)
		got := f.filter(items, p)
		// The public API: Filter when every version parses, FilterStrings
		// otherwise.
		var viaAPI []string
		if allParsed {
			for _, v := range f.Filter(vs, p) {
				viaAPI = append(viaAPI, v.String())
			}
		} else {
			viaAPI = f.FilterStrings(c.Versions, p)
		}
		if mixed && !allParsed {
			viaAPI = nil // both kinds in one list: only the indices can be checked
		}
		var want []string
		for _, i := range c.ExpectedIndices {
			if mixed && !allParsed {
				break
			}
			if allParsed {
				want = append(want, MustParse(c.Versions[i]).String())
			} else {
				want = append(want, c.Versions[i])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.ExpectedIndices) || strings.Join(viaAPI, "|") != strings.Join(want, "|") {
			t.Errorf("%s(%q, prereleases=%s).filter(%q, prereleases=%s) = %v / %q, want %v",
				c.Kind, c.Specifier, preString(policy(c.SpecPre)), c.Versions, preString(p), got, viaAPI, c.ExpectedIndices)
		}
	}
}

// specWith and setWith parse a case's specifier and give it the case's
// prerelease policy; a parse error is the case's failure.
func specWith(t *testing.T, s string, pre *bool) (Specifier, bool) {
	t.Helper()
	sp, err := ParseSpecifier(s)
	if err != nil {
		t.Errorf("ParseSpecifier(%q): %v", s, err)
		return sp, false
	}
	return sp.WithPrereleases(policy(pre)), true
}

func setWith(t *testing.T, s string, pre *bool) (Specifiers, bool) {
	t.Helper()
	ss, err := ParseSpecifiers(s)
	if err != nil {
		t.Errorf("ParseSpecifiers(%q): %v", s, err)
		return ss, false
	}
	return ss.WithPrereleases(policy(pre)), true
}

// filterer is what Specifier and Specifiers share for filtering.
type filterer interface {
	filter(items []item, p PrereleasePolicy) []int
	Filter(vs []Version, p PrereleasePolicy) []Version
	FilterStrings(vs []string, p PrereleasePolicy) []string
}

func TestConformanceUnsatisfiable(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Unsatisfiable) == 0 {
		t.Fatal("no is_unsatisfiable cases")
	}
	for _, c := range f.Unsatisfiable {
		ss, ok := setWith(t, c.Specifier, c.SpecPre)
		if !ok {
			continue
		}
		if got := ss.IsUnsatisfiable(); got != c.Expected {
			t.Errorf("SpecifierSet(%q, prereleases=%s).is_unsatisfiable() = %v, want %v", c.Specifier, preString(policy(c.SpecPre)), got, c.Expected)
		}
	}
}

func TestConformanceEquality(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Equality) == 0 {
		t.Fatal("no equality cases")
	}
	for _, c := range f.Equality {
		var got bool
		if c.Kind == "Specifier" {
			got = MustParseSpecifier(c.Left).Equal(MustParseSpecifier(c.Right))
		} else {
			got = MustParseSpecifiers(c.Left).Equal(MustParseSpecifiers(c.Right))
		}
		if got != c.Equal {
			t.Errorf("%s(%q) == %q: %v, want %v", c.Kind, c.Left, c.Right, got, c.Equal)
		}
	}
}

func TestConformanceCombine(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Combine) == 0 {
		t.Fatal("no combine cases")
	}
	for _, c := range f.Combine {
		l := MustParseSpecifiers(c.Left).WithPrereleases(policy(c.LeftPre))
		r := MustParseSpecifiers(c.Right).WithPrereleases(policy(c.RightPre))
		got, err := l.And(r)
		if c.Error != nil {
			if err == nil {
				t.Errorf("%q & %q: no error, want %s", c.Left, c.Right, *c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q & %q: %v", c.Left, c.Right, err)
			continue
		}
		if got.String() != c.Expected || preString(got.PrereleaseHint()) != preString(policy(c.ExpectedPrereleases)) {
			t.Errorf("%q & %q = %q (%s), want %q (%s)", c.Left, c.Right, got, preString(got.PrereleaseHint()), c.Expected, preString(policy(c.ExpectedPrereleases)))
		}
	}
}

func TestConformanceSetRelations(t *testing.T) {
	f := loadSpecs(t)
	if len(f.Relations) == 0 {
		t.Fatal("no set_relations cases")
	}
	for _, c := range f.Relations {
		l := MustParseSpecifiers(c.Left).WithPrereleases(policy(c.LeftPre))
		r := MustParseSpecifiers(c.Right).WithPrereleases(policy(c.RightPre))
		var got bool
		var err error
		switch c.Relation {
		case "is_subset":
			got, err = l.IsSubset(r)
		case "is_superset":
			got, err = l.IsSuperset(r)
		case "is_disjoint":
			got, err = l.IsDisjoint(r)
		default:
			t.Fatalf("unknown relation %q", c.Relation)
		}
		if c.Error != nil {
			if err == nil {
				t.Errorf("%q %s %q: no error, want %s", c.Left, c.Relation, c.Right, *c.Error)
			}
			continue
		}
		if err != nil || got != *c.Expected {
			t.Errorf("%q %s %q = %v, %v; want %v", c.Left, c.Relation, c.Right, got, err, *c.Expected)
		}
	}
}
