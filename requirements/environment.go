package requirements

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Environment maps PEP 508 marker variable names (python_version,
// sys_platform, …, and "extra") to their values.
type Environment map[string]string

// EnvironmentScript prints the marker environment, as a JSON object, the
// way packaging's default_environment() computes it. It runs on Python 3.6
// and later and imports nothing outside the standard library.
// CurrentEnvironment runs it; venv runs it inside its own interpreter
// inspection, so both read markers from the same code.
const EnvironmentScript = `import json, os, platform, sys
def fv(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
json.dump({
    "implementation_name": sys.implementation.name,
    "implementation_version": fv(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}, sys.stdout)
`

// envCache memoizes interpreter answers. It is process-wide because an
// interpreter's marker environment is a fact about the file on disk, keyed
// by its path, size and modification time so a replaced interpreter is
// asked again.
var envCache = struct {
	sync.Mutex
	m map[string]*envEntry
}{m: map[string]*envEntry{}}

type envEntry struct {
	done chan struct{}
	env  Environment
	err  error
}

// CurrentEnvironment returns the marker environment of the Python
// interpreter at python (a path, or a name looked up in PATH), by running
// it once; later calls for the same unchanged interpreter are answered
// from a cache. It is safe for concurrent use. The result is a fresh copy
// the caller may modify.
func CurrentEnvironment(ctx context.Context, python string) (Environment, error) {
	path := python
	if !strings.Contains(python, "/") {
		p, err := exec.LookPath(python)
		if err != nil {
			return nil, fmt.Errorf("marker environment: %w", err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("marker environment of %s: %w", python, err)
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", abs, st.Size(), st.ModTime().UnixNano())

	for {
		envCache.Lock()
		e, ok := envCache.m[key]
		if !ok {
			e = &envEntry{done: make(chan struct{})}
			envCache.m[key] = e
			envCache.Unlock()
			e.env, e.err = queryEnvironment(ctx, abs)
			if e.err != nil {
				// Failures (a cancelled context, a broken interpreter) are
				// not remembered: the next caller tries again.
				envCache.Lock()
				delete(envCache.m, key)
				envCache.Unlock()
			}
			close(e.done)
			if e.err != nil {
				return nil, e.err
			}
			return copyEnv(e.env), nil
		}
		envCache.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return copyEnv(e.env), nil
		}
		// The query we waited for failed; try ourselves.
	}
}

func copyEnv(e Environment) Environment {
	c := make(Environment, len(e))
	for k, v := range e {
		c[k] = v
	}
	return c
}

func queryEnvironment(ctx context.Context, python string) (Environment, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// -I: isolated mode, so PYTHONPATH or a stray sitecustomize cannot
	// change the answer (or print to stdout).
	cmd := exec.CommandContext(ctx, python, "-I", "-c", EnvironmentScript)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("marker environment of %s: %w", python, ctx.Err())
		}
		return nil, fmt.Errorf("marker environment of %s: %v: %s", python, err, strings.TrimSpace(stderr.String()))
	}
	env := Environment{}
	if err := json.Unmarshal(stdout.Bytes(), &env); err != nil {
		return nil, fmt.Errorf("marker environment of %s: bad output %q: %w", python, stdout.String(), err)
	}
	return env, nil
}
