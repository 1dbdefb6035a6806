package lock_test

import (
	"fmt"
	"os"

	"github.com/deploykit/deploykit/requirements/lock"
)

func ExampleEncode() {
	l := &lock.Lock{
		CreatedBy: "deploykit",
		Packages: []lock.Package{{
			Name:    "six",
			Version: "1.16.0",
			Index:   "https://pypi.org/simple",
			Wheels: []lock.File{{
				URL:    "https://files.example/six-1.16.0-py2.py3-none-any.whl",
				Hashes: map[string]string{"sha256": "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"},
			}},
		}},
	}
	if err := lock.Encode(os.Stdout, l); err != nil {
		fmt.Println(err)
	}
	// Output:
	// lock-version = '1.0'
	// extras = []
	// dependency-groups = []
	// default-groups = []
	// created-by = 'deploykit'
	//
	// [[packages]]
	// name = 'six'
	// version = '1.16.0'
	// index = 'https://pypi.org/simple'
	//
	// [[packages.wheels]]
	// name = 'six-1.16.0-py2.py3-none-any.whl'
	// url = 'https://files.example/six-1.16.0-py2.py3-none-any.whl'
	// hashes = {sha256 = '8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254'}
}

func ExampleExportRequirements() {
	l, err := lock.Parse([]byte(`lock-version = '1.0'
created-by = 'another-tool'
[[packages]]
name = 'six'
version = '1.16.0'
marker = 'python_version >= "3"'
[[packages.wheels]]
url = 'https://files.example/six-1.16.0-py2.py3-none-any.whl'
hashes = {sha256 = '8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254'}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	lock.ExportRequirements(os.Stdout, l, lock.ExportOptions{})
	// Output:
	// six==1.16.0 ; python_version >= "3" \
	//     --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254
}
