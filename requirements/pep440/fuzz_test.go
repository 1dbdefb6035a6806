package pep440

import (
	"errors"
	"testing"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "v1.0-Alpha.2_DEV", "1!2.3.4rc5.post6.dev7+ubuntu.8", "1.0+a+", "1.123456789012345678901234567890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		norm := v.String()
		w, err := Parse(norm)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, norm, err)
		}
		if w.String() != norm || w.Compare(v) != 0 || v.Compare(w) != 0 {
			t.Fatalf("round trip %q -> %q -> %q", s, norm, w)
		}
		if v.Public()+map[bool]string{true: "+" + v.Local(), false: ""}[v.HasLocal()] != norm {
			t.Fatalf("%q: public %q local %q", norm, v.Public(), v.Local())
		}
	})
}

func FuzzParseSpecifiers(f *testing.F) {
	for _, s := range []string{">=1.0,<2", "~=1.4.5a1", "==1.*,!=1.3.*", "===foo", " == 1.0+local ", ">1.0.post1,<=3!2"} {
		f.Add(s, "1.0")
	}
	probes := []Version{MustParse("0"), MustParse("1.0"), MustParse("1.0a1"), MustParse("1.0.post1"), MustParse("1.0+local"), MustParse("2.0.dev1"), MustParse("3!1")}
	f.Fuzz(func(t *testing.T, s, version string) {
		ss, err := ParseSpecifiers(s)
		if err != nil {
			return
		}
		norm := ss.String()
		again, err := ParseSpecifiers(norm)
		if err != nil {
			t.Fatalf("ParseSpecifiers(%q) = %q, which does not parse: %v", s, norm, err)
		}
		if again.String() != norm || !again.Equal(ss) {
			t.Fatalf("round trip %q -> %q -> %q", s, norm, again)
		}
		if v, err := Parse(version); err == nil {
			probes = append(probes[:7], v)
		}
		for _, v := range probes {
			for _, p := range []PrereleasePolicy{PrereleaseDefault, PrereleaseAllow, PrereleaseDeny} {
				if ss.ContainsWith(v, p) != again.ContainsWith(v, p) {
					t.Fatalf("%q and %q disagree on %s", s, norm, v)
				}
			}
		}
		ss.Filter(probes, PrereleaseDefault)
		ss.ContainsString(version, PrereleaseDefault)
		// Set relations agree with themselves and with IsUnsatisfiable.
		if sub, err := ss.IsSubset(again); err == nil {
			if !sub {
				t.Fatalf("%q is not a subset of itself", s)
			}
			dis, _ := ss.IsDisjoint(ss)
			if !ss.IsEmpty() && dis != ss.IsUnsatisfiable() {
				t.Fatalf("%q: disjoint from itself %v, unsatisfiable %v", s, dis, ss.IsUnsatisfiable())
			}
			both, err := ss.And(again)
			if err != nil {
				t.Fatal(err)
			}
			if sub, _ := both.IsSubset(ss); !sub {
				t.Fatalf("%q & itself is not a subset of it", s)
			}
		} else if !errors.Is(err, ErrArbitraryRelation) {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
