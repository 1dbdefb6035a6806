package venv

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// member is one file of a test wheel.
type member struct {
	data string
	exec bool
}

// wheelSpec describes a wheel built by buildWheel; RECORD is computed
// unless record is set.
type wheelSpec struct {
	name, version, tag string // tag defaults to py3-none-any
	files              map[string]member
	purelib            *bool
	record             *string           // verbatim RECORD, or nil to compute
	recordOverride     map[string]string // path -> hash to put in RECORD instead
	rawNames           []string          // extra members added verbatim (unsafe names)
}

// buildWheel writes a real wheel file (a zip, as wheel/flit write them).
func buildWheel(t testing.TB, dir string, s wheelSpec) string {
	t.Helper()
	if s.tag == "" {
		s.tag = "py3-none-any"
	}
	pure := true
	if s.purelib != nil {
		pure = *s.purelib
	}
	distName := strings.ReplaceAll(s.name, "-", "_")
	info := distName + "-" + s.version + ".dist-info"
	files := map[string]member{}
	for k, v := range s.files {
		files[k] = v
	}
	if _, ok := files[info+"/METADATA"]; !ok {
		files[info+"/METADATA"] = member{data: "Metadata-Version: 2.1\nName: " + s.name + "\nVersion: " + s.version + "\n"}
	}
	if _, ok := files[info+"/WHEEL"]; !ok {
		files[info+"/WHEEL"] = member{data: "Wheel-Version: 1.0\nGenerator: deploykit-test\nRoot-Is-Purelib: " + map[bool]string{true: "true", false: "false"}[pure] + "\nTag: " + s.tag + "\n"}
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	var rec strings.Builder
	for _, n := range names {
		h := recordHashOf([]byte(files[n].data))
		if o, ok := s.recordOverride[n]; ok {
			h = o
		}
		rec.WriteString(n + "," + h + "," + strconv.Itoa(len(files[n].data)) + "\n")
	}
	rec.WriteString(info + "/RECORD,,\n")
	record := rec.String()
	if s.record != nil {
		record = *s.record
	}
	p := filepath.Join(dir, distName+"-"+s.version+"-"+s.tag+".whl")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, m member) {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		mode := os.FileMode(0o644)
		if m.exec {
			mode = 0o755
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(m.data))
	}
	for _, n := range names {
		add(n, files[n])
	}
	for _, n := range s.rawNames {
		add(n, member{data: "x"})
	}
	add(info+"/RECORD", member{data: record})
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// py311 is the interpreter the differential tests run pip with: pyenv's
// 3.11 (which has pip), whose ABI the wheelhouse's cp311 wheels match.
func py311(t testing.TB) *Interpreter {
	t.Helper()
	p := testenv.PythonMinor(t, "3.11")
	py, err := Inspect(context.Background(), p.Path, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return py
}

// bundledPip returns the pip wheel ensurepip bundles with py.
func bundledPip(t testing.TB, py *Interpreter) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(py.Paths["stdlib"], "ensurepip", "_bundled", "pip-*.whl"))
	if len(m) == 0 {
		testenv.Skip(t, "%s has no bundled pip wheel", py.Path)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(pythonEnv(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTestVenv(t testing.TB, py *Interpreter) *Venv {
	t.Helper()
	v, err := Create(context.Background(), filepath.Join(t.TempDir(), "venv"), py, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// snapshot maps every file and symlink under dir to its content (links:
// "-> target"), skipping what the filter rejects.
func snapshot(t testing.TB, dir string, skip func(rel string) bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(rel) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		case info.IsDir():
			out[rel+"/"] = ""
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(t testing.TB, what string, want, got map[string]string) {
	t.Helper()
	n := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, k)
		case g != w:
			t.Errorf("%s: %s differs:\nwant %q\ngot  %q", what, k, trunc(w), trunc(g))
		default:
			continue
		}
		if n++; n > 20 {
			t.Fatal("too many differences")
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s is extra", what, k)
			if n++; n > 20 {
				t.Fatal("too many differences")
			}
		}
	}
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
