package pep440_test

import (
	"fmt"
	"slices"

	"github.com/deploykit/deploykit/requirements/pep440"
)

func ExampleParse() {
	v, err := pep440.Parse("V1.0-Alpha.2_DEV")
	if err != nil {
		panic(err)
	}
	fmt.Println(v, v.IsPrerelease(), v.BaseVersion())
	// Output: 1.0a2.dev0 true 1.0
}

func ExampleVersion_Compare() {
	var vs []pep440.Version
	for _, s := range []string{"1.0.post1", "1.0", "1.0rc1", "1.0.dev3", "1!0.1", "1.0+ubuntu1"} {
		vs = append(vs, pep440.MustParse(s))
	}
	slices.SortFunc(vs, pep440.Version.Compare)
	fmt.Println(vs)
	// Output: [1.0.dev3 1.0rc1 1.0 1.0+ubuntu1 1.0.post1 1!0.1]
}

func ExampleParseSpecifiers() {
	s, err := pep440.ParseSpecifiers(">= 4.2, <5 ,!=4.2.3")
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	fmt.Println(s.Contains(pep440.MustParse("4.2.7")), s.Contains(pep440.MustParse("4.2.3")))
	// Output:
	// !=4.2.3,<5,>=4.2
	// true false
}

func ExampleSpecifiers_Filter() {
	s := pep440.MustParseSpecifiers(">=1.0")
	var vs []pep440.Version
	for _, v := range []string{"0.9", "1.0", "1.1b1", "1.1"} {
		vs = append(vs, pep440.MustParse(v))
	}
	fmt.Println(s.Filter(vs, pep440.PrereleaseDefault))
	fmt.Println(s.Filter(vs, pep440.PrereleaseAllow))
	// Nothing final matches: the pre-releases are returned.
	fmt.Println(pep440.MustParseSpecifiers(">1.0").Filter(vs[:3], pep440.PrereleaseDefault))
	// Output:
	// [1.0 1.1]
	// [1.0 1.1b1 1.1]
	// [1.1b1]
}
