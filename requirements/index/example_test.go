package index_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/requirements/index"
)

func ExampleFinder_Files() {
	// A find-links directory with two files of one project.
	dir, _ := os.MkdirTemp("", "links-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "demo_app-1.0-py3-none-any.whl"), []byte("not read here"), 0o644)
	os.WriteFile(filepath.Join(dir, "demo-app-0.9.tar.gz"), []byte("not read here"), 0o644)

	f, err := index.New(index.Options{NoIndex: true, FindLinks: []string{dir}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	files, err := f.Files(context.Background(), "Demo.App")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, file := range files {
		fmt.Println(file.Project, file.Version, file.IsWheel())
	}
	// Unordered output:
	// demo-app 1.0 true
	// demo-app 0.9 false
}
