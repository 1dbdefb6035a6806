package pep517_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/deploykit/deploykit/venv"
	"github.com/deploykit/deploykit/venv/pep517"
)

// Build a wheel from a tree whose backend lives in the tree itself.
func ExampleFrontend_BuildWheel() {
	python, err := exec.LookPath("python3")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	py, err := venv.Inspect(ctx, python, venv.InspectOptions{})
	if err != nil {
		panic(err)
	}
	src, _ := os.MkdirTemp("", "example-src-")
	defer os.RemoveAll(src)
	backend, _ := os.ReadFile("testdata/inbackend.py")
	os.WriteFile(filepath.Join(src, "pyproject.toml"), []byte(strings.Join([]string{
		"[build-system]", "requires = []", `build-backend = "inbackend"`, `backend-path = ["."]`,
	}, "\n")), 0o644)
	os.WriteFile(filepath.Join(src, "inbackend.py"), backend, 0o644)
	os.MkdirAll(filepath.Join(src, "src", "intree_demo"), 0o755)
	os.WriteFile(filepath.Join(src, "src", "intree_demo", "__init__.py"), []byte("VALUE = 1\n"), 0o644)

	fe, err := pep517.New(pep517.Options{Python: py})
	if err != nil {
		panic(err)
	}
	out, _ := os.MkdirTemp("", "example-out-")
	defer os.RemoveAll(out)
	whl, err := fe.BuildWheel(ctx, src, out, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(filepath.Base(whl))
	// Output: intree_demo-1.2.3-py3-none-any.whl
}
