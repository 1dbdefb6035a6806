package dist_test

import (
	"fmt"

	"github.com/deploykit/deploykit/requirements/dist"
)

func ExampleParseWheelFilename() {
	w, err := dist.ParseWheelFilename("Django-4.2.11-1a-py3-none-any.whl", false)
	if err != nil {
		panic(err)
	}
	fmt.Println(w.Name, w.Version, w.Build, w.Tags)
	// Output: django 4.2.11 1a [py3-none-any]
}

func ExampleSupportedTags() {
	no := false
	facts := dist.TagFacts{
		Implementation: "cpython", VersionMajor: 3, VersionMinor: 11, PyVersionNodot: "311",
		Platform: "linux-x86_64", System: "Linux", PyDebug: &no, Glibc: "2.36",
		ELF: &dist.ELFHeader{Class: 2, Data: 1, Machine: 62},
	}
	tags := dist.SupportedTags(facts)
	fmt.Println(len(tags), tags[0], tags[len(tags)-1])
	set := dist.NewTagSet(tags)
	a, _ := dist.ParseWheelFilename("lxml-5.2.1-cp311-cp311-manylinux_2_28_x86_64.whl", false)
	b, _ := dist.ParseWheelFilename("lxml-5.2.1-py3-none-any.whl", false)
	fmt.Println(set.Best([]dist.WheelName{b, a}))
	// Output:
	// 914 cp311-cp311-manylinux_2_36_x86_64 py30-none-any
	// 1
}
