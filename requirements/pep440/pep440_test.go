package pep440

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseNormalizes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.0", "1.0"},
		{" v1.0 ", "1.0"},
		{"1.0-1", "1.0.post1"},
		{"1.0_rev-3", "1.0.post3"},
		{"1.0r", "1.0.post0"},
		{"1.0PREVIEW2", "1.0rc2"},
		{"1.0c1", "1.0rc1"},
		{"1.0.Alpha", "1.0a0"},
		{"1.0beta.dev", "1.0b0.dev0"},
		{"0!1.0", "1.0"},
		{"007.010", "7.10"},
		{"1.0+Ubuntu-1.01", "1.0+ubuntu.1.1"},
		{"1.0\u3000", "1.0"},
		{"\x1c1.0", "1.0"},
		{"1.2.123456789012345678901234567890", "1.2.123456789012345678901234567890"},
		{"1.0.post.dev", "1.0.post0.dev0"},
	} {
		v, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if v.String() != c.want {
			t.Errorf("Parse(%q) = %q, want %q", c.in, v, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", " ", "1.", ".1", "1..2", "1.0+", "1.0+a+", "1.0-", "a1", "1.0a1a1", "1.0.post1.post2", "１.0", "1.0 a1", "1!", "!1", "1.0ǅ"} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
			continue
		}
		var pe *ParseError
		if !errors.Is(err, ErrInvalidVersion) || !errors.As(err, &pe) || pe.Input != in {
			t.Errorf("Parse(%q) error %v is not a *ParseError wrapping ErrInvalidVersion", in, err)
		}
	}
}

func TestCompareLargeSegmentsExactly(t *testing.T) {
	asc := []string{
		"1.18446744073709551615",
		"1.18446744073709551616",
		"1.99999999999999999999",
		"1.100000000000000000000",
		"1.123456789012345678901234567890",
		"1.123456789012345678901234567891",
		"2",
		"18446744073709551616!0",
	}
	for i := range asc {
		for j := range asc {
			if got := MustParse(asc[i]).Compare(MustParse(asc[j])); got != cmpInt(i, j) {
				t.Errorf("Compare(%s, %s) = %d", asc[i], asc[j], got)
			}
		}
	}
	// Leading zeros do not change a big number.
	if MustParse("1.000123456789012345678901234567890").Compare(MustParse("1.123456789012345678901234567890")) != 0 {
		t.Error("leading zeros changed a big segment")
	}
	// Specifier arithmetic on big numbers (next prefix of ~=) stays exact.
	s := MustParseSpecifiers("~=1.99999999999999999999999999999.0")
	if !s.Contains(MustParse("1.99999999999999999999999999999.5")) || s.Contains(MustParse("1.100000000000000000000000000000")) {
		t.Error("~= with a 29-digit segment")
	}
}

func TestCompareDoesNotAllocate(t *testing.T) {
	a := MustParse("1!2.3.4rc5.post6.dev7+ubuntu.8")
	b := MustParse("1!2.3.4rc5.post6.dev7+ubuntu.9")
	c := MustParse("1.2.123456789012345678901234567890")
	d := MustParse("1.2.123456789012345678901234567891")
	var sink int
	n := testing.AllocsPerRun(1000, func() {
		sink += a.Compare(b) + c.Compare(d) + b.Compare(a)
	})
	if n != 0 {
		t.Errorf("Compare allocates %v times per run", n)
	}
	_ = sink
}

func TestSpecifierMatching(t *testing.T) {
	for _, c := range []struct {
		spec, version string
		p             PrereleasePolicy
		want          bool
	}{
		{"==1.0", "1.0+local", PrereleaseDefault, true},
		{"==1.0+local", "1.0", PrereleaseDefault, false},
		{"<1.0", "1.0rc1", PrereleaseDefault, false},
		{"<1.0", "0.9rc1", PrereleaseDefault, true},
		{"<1.0", "0.9rc1", PrereleaseDeny, false},
		{">1.0", "1.0.post1", PrereleaseDefault, false},
		{">1.0.post1", "1.0.post2", PrereleaseDefault, true},
		{">1.0", "1.0.1", PrereleaseDefault, true},
		{"~=2.2", "2.9", PrereleaseDefault, true},
		{"~=2.2", "3.0", PrereleaseDefault, false},
		{"~=2.2.0", "2.3", PrereleaseDefault, false},
		{"==2.*", "2.0rc1", PrereleaseDefault, true},
		{"!=2.*", "3.0", PrereleaseDefault, true},
		{">=1.0,<2.0", "1.5", PrereleaseDefault, true},
		{">=1.0,<2.0", "2.0b1", PrereleaseDefault, false},
		{"", "2.0b1", PrereleaseDeny, false},
		{"===1.0", "1.0", PrereleaseDefault, true},
		{"===1.0", "1.0.0", PrereleaseDefault, false},
	} {
		s, err := ParseSpecifiers(c.spec)
		if err != nil {
			t.Fatalf("ParseSpecifiers(%q): %v", c.spec, err)
		}
		if got := s.ContainsWith(MustParse(c.version), c.p); got != c.want {
			t.Errorf("%q contains %q (%v) = %v, want %v", c.spec, c.version, c.p, got, c.want)
		}
	}
}

func TestParseSpecifiersErrorsSayWhere(t *testing.T) {
	_, err := ParseSpecifiers(">=1.0, <2.0+local")
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidSpecifier) {
		t.Fatalf("error %v is not a *ParseError wrapping ErrInvalidSpecifier", err)
	}
	if pe.Offset != 11 || !strings.Contains(pe.Error(), "local") {
		t.Errorf("error %q at offset %d, want offset 11 mentioning local versions", pe, pe.Offset)
	}
}

func TestUnsatisfiableAndAnd(t *testing.T) {
	a := MustParseSpecifiers(">=2")
	b := MustParseSpecifiers("<1.5")
	both, err := a.And(b)
	if err != nil {
		t.Fatal(err)
	}
	if !both.IsUnsatisfiable() || both.String() != "<1.5,>=2" {
		t.Errorf("%q: unsatisfiable = %v", both, both.IsUnsatisfiable())
	}
	if _, err := a.WithPrereleases(PrereleaseAllow).And(b.WithPrereleases(PrereleaseDeny)); !errors.Is(err, ErrPrereleaseConflict) {
		t.Errorf("conflicting policies: %v", err)
	}
	if MustParseSpecifiers(">=1,<3").IsUnsatisfiable() {
		t.Error(">=1,<3 is satisfiable")
	}
}

func TestVersionTextRoundTrip(t *testing.T) {
	var v Version
	if err := v.UnmarshalText([]byte("1.0-post2")); err != nil {
		t.Fatal(err)
	}
	b, _ := v.MarshalText()
	if string(b) != "1.0.post2" {
		t.Errorf("MarshalText = %s", b)
	}
	var zero Version
	if zero.String() != "0" || zero.Compare(MustParse("0.0")) != 0 {
		t.Errorf("zero Version = %q", zero)
	}
	if got := MustParse("1.2.3").Release(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("Release = %v", got)
	}
}

func TestSortIsStableAndOrdered(t *testing.T) {
	strs := benchVersions(5000)
	strs = append(strs, "1.0", "1.0.0", "1!0", "1.18446744073709551616", "1.18446744073709551615", "1.0.0.0")
	vs := make([]Version, len(strs))
	for i, s := range strs {
		vs[i] = MustParse(s)
	}
	want := slices.Clone(vs)
	slices.SortStableFunc(want, Version.Compare)
	Sort(vs)
	for i := range vs {
		if vs[i].String() != want[i].String() {
			t.Fatalf("Sort()[%d] = %s, want %s", i, vs[i], want[i])
		}
	}
}

func TestSortKeyAgreesWithCompare(t *testing.T) {
	var strs []string
	for _, s := range benchVersions(300) {
		strs = append(strs, s)
	}
	strs = append(strs, "1.0", "1.0.0", "1!0", "15!1", "16!1", "17!0", "1.1048575", "1.1048576", "1.1048577.1",
		"1.2.3.4", "1.2.3.4.5", "1.2.3.16777215", "1.2.3.16777216.1", "1.0a255", "1.0a256", "1.0a300.post1",
		"1.0.post1023", "1.0.post1024.dev1", "1.0.0.0", "1", "1.0.post0", "1.0.post", "1.0a", "1.0a0", "14!1", "15!1.0", "1.0.dev1023", "1.0.dev1024", "1.0.post1.dev5", "1.0+local", "1.0rc1.post2.dev3")
	vs := make([]Version, len(strs))
	for i, s := range strs {
		vs[i] = MustParse(s)
	}
	for i := range vs {
		for j := range vs {
			a, b := makeSortKey(&vs[i], i), makeSortKey(&vs[j], j)
			kc := 0
			switch {
			case a.w0 != b.w0:
				kc = cmpBool(a.w0 > b.w0, false)*2 - 1
			case a.w1 != b.w1:
				kc = cmpBool(a.w1 > b.w1, false)*2 - 1
			}
			c := vs[i].Compare(vs[j])
			if kc != 0 && kc != c {
				t.Fatalf("key order of %s vs %s = %d, Compare = %d", vs[i], vs[j], kc, c)
			}
			if kc == 0 && a.exact && b.exact && c != 0 {
				t.Fatalf("exact keys of %s and %s are equal, Compare = %d", vs[i], vs[j], c)
			}
		}
	}
}

// TestLargeNumbersInSpecifiers: answers computed with packaging 26.
func TestLargeNumbersInSpecifiers(t *testing.T) {
	for _, c := range []struct {
		spec, version string
		want          bool
	}{
		{">1.0.post18446744073709551615", "1.0.post18446744073709551616", true},
		{">1.0.post18446744073709551615", "1.0.post18446744073709551615", false},
		{">1.0.dev99999999999999999999", "1.0.dev100000000000000000000", true},
		{">1.0.dev99999999999999999999", "1.0.dev99999999999999999999", false},
		{"~=1.99999999999999999999.0", "1.99999999999999999999.7", true},
		{"~=1.99999999999999999999.0", "1.100000000000000000000", false},
		{"==18446744073709551616.*", "18446744073709551616.5", true},
		{"!=18446744073709551616.*", "18446744073709551617", true},
		{"<18446744073709551616", "18446744073709551616rc1", false},
		{">1.0a18446744073709551615", "1.0a18446744073709551616", true},
		{"<=99999999999999999999999!1", "99999999999999999999999!1+x", true},
		{">=1.0rc18446744073709551616", "1.0rc18446744073709551615", false},
	} {
		if got := MustParseSpecifiers(c.spec).ContainsString(c.version, PrereleaseDefault); got != c.want {
			t.Errorf("%q contains %q = %v, want %v", c.spec, c.version, got, c.want)
		}
	}
	v := MustParse("1!2.18446744073709551616rc99999999999999999999.post18446744073709551617.dev0+123456789012345678901")
	if v.String() != "1!2.18446744073709551616rc99999999999999999999.post18446744073709551617.dev0+123456789012345678901" || !v.HasLargeNumbers() {
		t.Errorf("big version prints %q", v)
	}
	if got := v.ReleaseStrings(); strings.Join(got, ".") != "2.18446744073709551616" {
		t.Errorf("ReleaseStrings = %q", got)
	}
}
