package venv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestCompilerBatchesAndSkipsBrokenModules(t *testing.T) {
	t.Parallel()
	py := py311(t)
	dir := t.TempDir()
	var jobs []compileJob
	for i := 0; i < 2*compileBatch+5; i++ {
		src := filepath.Join(dir, "m"+strconv.Itoa(i)+".py")
		body := "X = " + strconv.Itoa(i) + "\n"
		if i%7 == 3 {
			body = "print 'python 2'\n"
		}
		os.WriteFile(src, []byte(body), 0o644)
		jobs = append(jobs, compileJob{src: src, cfile: filepath.Join(dir, "__pycache__", "m"+strconv.Itoa(i)+".pyc"), dfile: "m.py"})
	}
	c := newCompiler(py, 2)
	defer c.Close()
	ok, err := c.compile(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	// The fast path writes what py_compile writes.
	ref := filepath.Join(dir, "ref.pyc")
	run(t, py.Path, "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile='m.py', doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)", jobs[0].src, ref)
	a, _ := os.ReadFile(ref)
	b, _ := os.ReadFile(jobs[0].cfile)
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("pyc differs from py_compile's (%d vs %d bytes)", len(b), len(a))
	}
	for i, j := range jobs {
		_, statErr := os.Stat(j.cfile)
		if want := i%7 != 3; ok[i] != want || (statErr == nil) != want {
			t.Errorf("module %d: ok %v, pyc exists %v, want %v", i, ok[i], statErr == nil, want)
		}
	}
}
