package venv_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/venv"
)

// Create a virtual environment from the system's Python 3 without running
// pip or the venv module.
func ExampleCreate() {
	ctx := context.Background()
	py, err := venv.FindPython(ctx, "/usr/bin/python3", venv.DiscoverOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	v, err := venv.Create(ctx, filepath.Join(dir, "env"), py, venv.CreateOptions{Prompt: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	rel, _ := filepath.Rel(v.Dir, v.Purelib)
	fmt.Println(rel == filepath.Join("lib", "python"+py.MajorMinor(), "site-packages"))
	// Output: true
}

// Pick the newest interpreter matching a constraint; the error explains
// every rejected candidate.
func ExampleFind() {
	py, err := venv.Find(context.Background(), ">=3.6, <4", venv.DiscoverOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(py.Major())
	// Output: 3
}

// Install wheels through the shared cache, as `deploykit install` does.
func ExampleVenv_Install() {
	ctx := context.Background()
	v, err := venv.Open(ctx, "/srv/deploykit/instances/demo/current/venv", venv.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	cache, err := venv.OpenCache("/srv/deploykit/cache", venv.CacheOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dists, err := v.Install(ctx, []venv.Wheel{{Path: "Django-4.2.7-py3-none-any.whl", Requested: true}},
		venv.InstallOptions{Cache: cache, OnEvent: func(e venv.Event) { fmt.Println(e.Kind, e.Name) }})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dists[0].Name, dists[0].Version)
}

// Make a venv hold exactly the distributions of a lock.
func ExampleVenv_Sync() {
	ctx := context.Background()
	v, err := venv.Open(ctx, "/srv/deploykit/instances/demo/current/venv", venv.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := v.Sync(ctx, []venv.Distribution{{
		Name: "django", Version: "4.2.7", Wheel: "/srv/deploykit/cache/downloads/Django-4.2.7-py3-none-any.whl",
		SHA256: "d1b42b2ab1b5e6d1f2ec3f4da3d1b5a0f7b5b5e2a2c2e5b4f2c6d4e0f1a2b3c4",
	}}, venv.InstallOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Installed), len(res.Removed))
}
