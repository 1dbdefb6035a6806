package requirements

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// TestCurrentEnvironmentMatchesPackaging asks every installed interpreter
// for its marker environment and compares it with what packaging's own
// default_environment() (pip's vendored copy) reports there.
func TestCurrentEnvironmentMatchesPackaging(t *testing.T) {
	compared := 0
	for _, py := range testenv.Pythons(t) {
		env, err := CurrentEnvironment(context.Background(), py.Path)
		if err != nil {
			t.Errorf("%s: %v", py.Path, err)
			continue
		}
		if env["python_full_version"] != py.Version {
			t.Errorf("%s: python_full_version %q, want %q", py.Path, env["python_full_version"], py.Version)
		}
		out, err := exec.Command(py.Path, "-c",
			"import json; from pip._vendor.packaging.markers import default_environment as d; print(json.dumps(d()))").Output()
		if err != nil {
			continue // no pip here (Debian's python3): the version check above stands
		}
		var want Environment
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(env, want) {
			t.Errorf("%s:\n got %v\nwant %v", py.Path, env, want)
		}
		compared++
	}
	if compared == 0 {
		testenv.Skip(t, "no interpreter with pip to compare against")
	}
}

// TestCurrentEnvironmentRunsTheInterpreterOnce wraps a real interpreter in a
// script that logs each start: concurrent callers share one run, and
// replacing the interpreter file invalidates the cache.
func TestCurrentEnvironmentRunsTheInterpreterOnce(t *testing.T) {
	py := testenv.Pythons(t)[0]
	dir := t.TempDir()
	logf := filepath.Join(dir, "starts.log")
	wrapper := filepath.Join(dir, "python")
	script := "#!/bin/sh\necho start >> " + logf + "\nexec " + py.Path + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	starts := func() int {
		data, _ := os.ReadFile(logf)
		return strings.Count(string(data), "start")
	}
	var wg sync.WaitGroup
	envs := make([]Environment, 8)
	errs := make([]error, 8)
	for i := range envs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			envs[i], errs[i] = CurrentEnvironment(context.Background(), wrapper)
		}(i)
	}
	wg.Wait()
	for i := range envs {
		if errs[i] != nil || envs[i]["python_version"] != py.Minor {
			t.Fatalf("call %d: %v %v", i, envs[i], errs[i])
		}
	}
	if n := starts(); n != 1 {
		t.Errorf("interpreter started %d times, want 1", n)
	}
	envs[0]["python_version"] = "mutated"
	if again, _ := CurrentEnvironment(context.Background(), wrapper); again["python_version"] != py.Minor {
		t.Errorf("cache returned a shared map that callers can mutate")
	}
	// A changed interpreter (new mtime and size) is asked again.
	later := time.Now().Add(2 * time.Second)
	if err := os.WriteFile(wrapper, []byte(script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(wrapper, later, later)
	if _, err := CurrentEnvironment(context.Background(), wrapper); err != nil {
		t.Fatal(err)
	}
	if n := starts(); n != 2 {
		t.Errorf("after replacing the interpreter: %d starts, want 2", n)
	}
}

func TestCurrentEnvironmentErrors(t *testing.T) {
	if _, err := CurrentEnvironment(context.Background(), filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing interpreter: no error")
	}
	bad := filepath.Join(t.TempDir(), "false-python")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := CurrentEnvironment(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing interpreter: err = %v", err)
	}
}
