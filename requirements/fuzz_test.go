package requirements

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseRequirement(f *testing.F) {
	for _, s := range benchRequirements {
		f.Add(s)
	}
	f.Add(`name [ a , b ] ( >= 1 , != 1.5.* ) ; ( os_name == "x" ) or extra == "Y"`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		str := r.String()
		r2, err := ParseRequirement(str)
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, str, err)
		}
		if r2.String() != str || !r2.Equal(r) {
			t.Fatalf("%q: round trip %q -> %q", s, str, r2.String())
		}
		if r.Marker != nil {
			r.Marker.Evaluate(linux311) // must not panic
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	f.Add(`python_version >= "3.8" and (sys_platform == "linux" or os_name != 'nt')`)
	f.Add(`"Foo" in extras or extra == "Bar_Baz"`)
	f.Add(`python_full_version === "3.11.7" and platform_release ~= "6.1"`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		str := m.String()
		m2, err := ParseMarker(str)
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", s, str, err)
		}
		if m2.String() != str {
			t.Fatalf("%q: round trip %q -> %q", s, str, m2.String())
		}
		a, errA := m.Evaluate(linux311)
		b, errB := m2.Evaluate(linux311)
		if a != b || (errA == nil) != (errB == nil) {
			t.Fatalf("%q and its String %q evaluate differently: %v/%v %v/%v", s, str, a, errA, b, errB)
		}
		m.EvaluateWith(Environment{}, EvalOptions{Context: ContextLockFile, Extras: []string{"x"}})
	})
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("Django>=4.2 --hash=sha256:00\n-r other.txt\n"))
	f.Add([]byte("# c\n-e git+https://h/r.git@v1#egg=x[y]\n--index-url=${IDX}\nfoo \\\n ==1\n"))
	f.Add([]byte("./pkg[a]\n--no-binary :all: --only-binary=:none:,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "r.txt"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("six\n-r r.txt\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		lookup := func(k string) (string, bool) { return "v-" + k, k != "UNSET" }
		file, err := ParseFile(context.Background(), "r.txt", FileOptions{WorkDir: dir, LookupEnv: lookup})
		if err != nil {
			return
		}
		if _, err := json.Marshal(file); err != nil {
			t.Fatal(err)
		}
		for _, e := range file.Entries {
			if e.Line < 1 || e.File == "" {
				t.Fatalf("entry without a position: %+v", e)
			}
			if e.Parsed == nil {
				continue
			}
			str := e.Parsed.String()
			r2, err := ParseRequirement(str)
			if err != nil || !r2.Equal(*e.Parsed) {
				t.Fatalf("entry %q: requirement %q does not round-trip: %v", e.Requirement, str, err)
			}
		}
	})
}
