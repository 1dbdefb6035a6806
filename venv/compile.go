package venv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// compileScript byte-compiles batches of modules named on stdin: lines
// "src\0cfile\0dfile\n", a batch ended by an empty line, answered by one
// line of "1" (compiled) or "0" (did not compile) per module. Failures are
// expected (pip also skips modules that do not compile, e.g. Python 2
// leftovers). Batches keep the pipe round trips (and, on a loaded host,
// the scheduling delays) per batch rather than per module. Valid Python 3.6.
const compileScript = `
import os, sys, warnings
warnings.filterwarnings("ignore")
import py_compile
kw = {}
if sys.argv[1] == "hash" and hasattr(py_compile, "PycInvalidationMode"):
    kw["invalidation_mode"] = py_compile.PycInvalidationMode.CHECKED_HASH
try:
    import importlib._bootstrap_external as be, importlib.util as iu
    fast = "invalidation_mode" in kw and hasattr(be, "_code_to_hash_pyc") and hasattr(iu, "source_hash")
except Exception:
    fast = False
made = set()

def comp(src, cfile, dfile):
    if not fast:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True, **kw)
        return
    # What py_compile.compile does for checked-hash pycs, minus its
    # per-module loader object, makedirs attempt and temp-file rename
    # (the output is a fresh file in the cache's build directory).
    with open(src, "rb") as f:
        data = f.read()
    code = compile(data, dfile, "exec", dont_inherit=True)
    pyc = be._code_to_hash_pyc(code, iu.source_hash(data), True)
    d = os.path.dirname(cfile)
    if d not in made:
        os.makedirs(d, exist_ok=True)
        made.add(d)
    with open(cfile, "wb") as f:
        f.write(pyc)

inp, out = sys.stdin.buffer, sys.stdout
res = []
while True:
    line = inp.readline()
    if not line:
        break
    line = line.rstrip(b"\n")
    if not line:
        out.write("".join(res) + "\n")
        out.flush()
        res = []
        continue
    src, cfile, dfile = [os.fsdecode(p) for p in line.split(b"\0")]
    try:
        comp(src, cfile, dfile)
        res.append("1")
    except Exception:
        res.append("0")
`

// compileBatch is how many modules go to a worker at once.
const compileBatch = 32

type compileJob struct {
	key, out          string // bookkeeping for the caller
	src, cfile, dfile string
}

// compiler is a pool of long-running interpreter processes compiling
// modules in parallel: one process per worker, started on first use, so
// byte-compiling a thousand modules costs n interpreter start-ups, not a
// thousand.
type compiler struct {
	py   *Interpreter
	n    int
	mu   sync.Mutex
	jobs chan compileReq
	wg   sync.WaitGroup
	ctx  context.Context
	stop context.CancelFunc
}

type compileReq struct {
	batch []compileJob
	done  func(ok []bool, err error)
}

func newCompiler(py *Interpreter, n int) *compiler {
	if n < 1 {
		n = 1
	}
	return &compiler{py: py, n: n}
}

func (c *compiler) start() chan compileReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs != nil {
		return c.jobs
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.jobs = make(chan compileReq)
	for i := 0; i < c.n; i++ {
		c.wg.Add(1)
		go c.worker(c.jobs)
	}
	return c.jobs
}

func (c *compiler) worker(jobs <-chan compileReq) {
	defer c.wg.Done()
	var (
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	)
	defer func() {
		if cmd != nil {
			in.Close()
			cmd.Wait()
		}
	}()
	for req := range jobs {
		if cmd == nil {
			cmd = exec.CommandContext(c.ctx, c.py.Path, "-I", "-S", "-c", compileScript, pycMode(c.py))
			cmd.Env = pythonEnv()
			var err error
			if in, err = cmd.StdinPipe(); err == nil {
				var r io.ReadCloser
				if r, err = cmd.StdoutPipe(); err == nil {
					out = bufio.NewReader(r)
					err = cmd.Start()
				}
			}
			if err != nil {
				cmd = nil
				req.done(nil, fmt.Errorf("venv: starting %s to compile: %w", c.py.Path, err))
				continue
			}
		}
		var b strings.Builder
		var sent []int
		for i, j := range req.batch {
			if strings.ContainsAny(j.src+j.cfile+j.dfile, "\x00\n") {
				continue // not expressible in the protocol: left uncompiled
			}
			sent = append(sent, i)
			b.WriteString(j.src + "\x00" + j.cfile + "\x00" + j.dfile + "\n")
		}
		b.WriteString("\n")
		_, err := io.WriteString(in, b.String())
		var line string
		if err == nil {
			line, err = out.ReadString('\n')
		}
		line = strings.TrimSuffix(line, "\n")
		if err == nil && len(line) != len(sent) {
			err = fmt.Errorf("%d answers for %d modules", len(line), len(sent))
		}
		if err != nil {
			in.Close()
			cmd.Wait()
			cmd = nil
			req.done(nil, fmt.Errorf("venv: compiling with %s: %w", c.py.Path, err))
			continue
		}
		ok := make([]bool, len(req.batch))
		for k, i := range sent {
			ok[i] = line[k] == '1'
		}
		req.done(ok, nil)
	}
}

// compile runs the jobs over the pool, in batches, and reports which
// succeeded. An error means the pool itself failed (the interpreter died),
// not a module.
func (c *compiler) compile(ctx context.Context, jobs []compileJob) ([]bool, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	pool := c.start()
	ok := make([]bool, len(jobs))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for lo := 0; lo < len(jobs); lo += compileBatch {
		hi := min(lo+compileBatch, len(jobs))
		wg.Add(1)
		req := compileReq{batch: jobs[lo:hi], done: func(good []bool, err error) {
			copy(ok[lo:hi], good)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		}}
		select {
		case pool <- req:
		case <-ctx.Done():
			wg.Done()
			wg.Wait()
			return nil, ctx.Err()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return ok, errors.Join(errs...)
	}
	return ok, nil
}

// Close stops the worker processes.
func (c *compiler) Close() {
	c.mu.Lock()
	jobs := c.jobs
	c.jobs = nil
	c.mu.Unlock()
	if jobs == nil {
		return
	}
	close(jobs)
	c.wg.Wait()
	c.stop()
}
