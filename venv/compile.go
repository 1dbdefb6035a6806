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

// compileScript byte-compiles the modules named on stdin, one
// "src\0cfile\0dfile\n" line each, answering "ok" or "err ..." per line.
// Failures are expected (pip also skips modules that do not compile, e.g.
// Python 2 leftovers). Valid Python 3.6.
const compileScript = `
import os, sys, py_compile, warnings
warnings.filterwarnings("ignore")
kw = {}
if sys.argv[1] == "hash" and hasattr(py_compile, "PycInvalidationMode"):
    kw["invalidation_mode"] = py_compile.PycInvalidationMode.CHECKED_HASH
inp, out = sys.stdin.buffer, sys.stdout
while True:
    line = inp.readline()
    if not line:
        break
    src, cfile, dfile = [os.fsdecode(p) for p in line.rstrip(b"\n").split(b"\0")]
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True, **kw)
        out.write("ok\n")
    except Exception as e:
        out.write("err %s\n" % str(e).replace("\n", " "))
    out.flush()
`

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
	job  compileJob
	done func(ok bool, err error)
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
				req.done(false, fmt.Errorf("venv: starting %s to compile: %w", c.py.Path, err))
				continue
			}
		}
		j := req.job
		if strings.ContainsAny(j.src+j.cfile+j.dfile, "\x00\n") {
			req.done(false, nil)
			continue
		}
		_, err := io.WriteString(in, j.src+"\x00"+j.cfile+"\x00"+j.dfile+"\n")
		var line string
		if err == nil {
			line, err = out.ReadString('\n')
		}
		if err != nil {
			in.Close()
			cmd.Wait()
			cmd = nil
			req.done(false, fmt.Errorf("venv: compiling with %s: %w", c.py.Path, err))
			continue
		}
		req.done(strings.HasPrefix(line, "ok"), nil)
	}
}

// compile runs the jobs over the pool and reports which succeeded. An
// error means the pool itself failed (the interpreter died), not a module.
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
	wg.Add(len(jobs))
	for i, j := range jobs {
		req := compileReq{job: j, done: func(good bool, err error) {
			ok[i] = good
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
			wg.Add(-(len(jobs) - i))
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
