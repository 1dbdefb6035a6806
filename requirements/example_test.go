package requirements_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/requirements"
)

func ExampleParseRequirement() {
	r, err := requirements.ParseRequirement(`Django[Argon2] >= 4.2, < 5 ; python_version >= "3.8"`)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.NormalizedName(), r.Extras, r.Specifiers, r.Marker)
	fmt.Println(r)
	// Output:
	// django [argon2] <5,>=4.2 python_version >= "3.8"
	// Django[Argon2]<5,>=4.2; python_version >= "3.8"
}

func ExampleMarker_Evaluate() {
	m, err := requirements.ParseMarker(`sys_platform == "linux" and python_version < '3.11' or extra == "Dev"`)
	if err != nil {
		panic(err)
	}
	env := requirements.Environment{"sys_platform": "linux", "python_version": "3.12"}
	ok, _ := m.Evaluate(env)
	fmt.Println(m, ok)
	env["extra"] = "dev"
	ok, _ = m.Evaluate(env)
	fmt.Println(ok)
	// Output:
	// sys_platform == "linux" and python_version < "3.11" or extra == "dev" false
	// true
}

func ExampleParseFile() {
	dir, _ := os.MkdirTemp("", "reqs")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(`
--index-url https://pypi.example.com/simple
-r base.txt
gunicorn==21.2.0 \
    --hash=sha256:3213aa5e8c24949e792bcacfc176fef362e7aac80b76c56f6b5122bf350722f0
`), 0o644)
	os.WriteFile(filepath.Join(dir, "base.txt"), []byte("Django>=4.2  # LTS\n"), 0o644)

	f, err := requirements.ParseFile(context.Background(), "requirements.txt", requirements.FileOptions{WorkDir: dir})
	if err != nil {
		panic(err)
	}
	fmt.Println(f.IndexURL)
	for _, e := range f.Entries {
		fmt.Printf("%s:%d %s %s %d hash(es)\n", e.File, e.Line, e.Name, e.Specifier, len(e.Hashes))
	}
	// Output:
	// https://pypi.example.com/simple
	// base.txt:1 django >=4.2 0 hash(es)
	// requirements.txt:4 gunicorn ==21.2.0 1 hash(es)
}
