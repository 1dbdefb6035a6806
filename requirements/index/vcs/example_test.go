package vcs_test

import (
	"fmt"

	"github.com/deploykit/deploykit/requirements/index/vcs"
)

func ExampleParseURL() {
	r, err := vcs.ParseURL("git+https://git.example/app.git@release/2.1#egg=app&subdirectory=src")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Type, r.URL, r.Rev, r.Subdirectory)
	// Output:
	// git https://git.example/app.git release/2.1 src
}
