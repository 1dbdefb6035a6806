package pep440

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchVersions is a deterministic mix of realistic version strings.
func benchVersions(n int) []string {
	r := rand.New(rand.NewPCG(440, 1))
	out := make([]string, n)
	for i := range out {
		v := fmt.Sprintf("%d.%d.%d", r.IntN(30), r.IntN(40), r.IntN(60))
		switch k := r.IntN(100); {
		case k < 8:
			v += []string{"a", "b", "rc"}[r.IntN(3)] + fmt.Sprint(r.IntN(5))
		case k < 11:
			v += fmt.Sprintf(".dev%d", r.IntN(20))
		case k < 14:
			v += fmt.Sprintf(".post%d", r.IntN(4))
		case k < 16:
			v += "+cu121"
		}
		out[i] = v
	}
	return out
}

func BenchmarkParse(b *testing.B) {
	vs := benchVersions(1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(vs[i%len(vs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	x, y := MustParse("1.2.3rc1"), MustParse("1.2.3")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		x.Compare(y)
	}
}

func BenchmarkParseAndSort100k(b *testing.B) {
	strs := benchVersions(100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vs := make([]Version, len(strs))
		for j, s := range strs {
			vs[j], _ = Parse(s)
		}
		Sort(vs)
	}
}

func BenchmarkContains(b *testing.B) {
	s := MustParseSpecifiers(">=1.4,!=1.5.*,<3")
	v := MustParse("2.7.1")
	for i := 0; i < b.N; i++ {
		s.Contains(v)
	}
}
