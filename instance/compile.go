package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/venv"
)

// Byte-compiling a release's modules is most of a build from a cold cache
// (CPython's compiler, seconds of CPU for a Django application), and
// nothing before the switch needs it but the migrate step, which runs the
// release's Python. So the build step installs the release without
// compiling and starts compiling in the background; the steps after it
// that do not need the venv (database provisioning and starting the
// embedded cluster, the broker's vhost and starting its node, in upgrade
// as in create) run meanwhile; the compile step waits for it, then
// secures the release tree. The order of steps stays the journal's:
//
//	create:  … account, build, database, broker, compile, migrate, switch, …
//	upgrade: build, database, broker, compile, migrate, switch, …
//
// so a release is never migrated, switched to or started before its
// compilation finished (or failed, which fails the step and rolls the
// operation back). A crash while compiling is a crash before the commit:
// recovery undoes the build step, which removes the release directory;
// the compiled modules are in the shared cache only once complete
// (venv.Cache). A failure or a cancelled context in a step that runs
// meanwhile stops the compiler before the build step's undo removes
// what it was writing into.
//
// When the compile step is done, an EventInfo (Step "compile") reports
// the compiling time (Elapsed), the time the operation waited for it
// (Waited) and so how much of it the other steps hid.

// CrashAtCompiling is the Options.CrashAt point inside the background
// compilation: the process kills itself as the compiler reports on its
// first wheel, while the steps after build run.
const CrashAtCompiling = "compile:running"

// releaseCompile is one release's background byte-compilation.
type releaseCompile struct {
	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}

	// Set before done is closed.
	err     error
	elapsed time.Duration
	modules int
}

// startCompile starts compiling the modules of dists, installed in v
// without compiling, in the background.
func (m *Manager) startCompile(ctx context.Context, rc *releaseCompile, st *State, v *venv.Venv, dists []venv.Distribution, cache *venv.Cache) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	bctx, cancel := context.WithCancel(ctx)
	rc.started, rc.cancel, rc.done = true, cancel, make(chan struct{})
	crash := m.opts.CrashAt == CrashAtCompiling
	go func() {
		defer close(rc.done)
		t0 := time.Now()
		_, err := v.Compile(bctx, dists, venv.InstallOptions{Cache: cache, Logger: m.log, OnEvent: func(e venv.Event) {
			if crash {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			if e.Kind == venv.EventCompiled {
				rc.modules += e.Files
			}
		}})
		rc.elapsed, rc.err = time.Since(t0), err
		m.log.Debug("release compiled", "instance", st.Name, "modules", rc.modules, "elapsed", rc.elapsed, "err", err)
	}()
}

// stop cancels a running compilation and waits for it to end; the build
// step's undo calls it before removing the release.
func (rc *releaseCompile) stop() {
	rc.mu.Lock()
	started := rc.started
	rc.mu.Unlock()
	if started {
		rc.cancel()
		<-rc.done
	}
}

// finishCompile is the compile step: it waits for the release's
// compilation, reports what the wait cost, and secures the release tree
// (ownership and modes for the instance user), now complete.
func (m *Manager) finishCompile(ctx context.Context, rc *releaseCompile, st *State, op, id string) error {
	rc.mu.Lock()
	started := rc.started
	rc.mu.Unlock()
	if !started {
		return errors.New("compile: the build step did not start compiling")
	}
	t0 := time.Now()
	select {
	case <-rc.done:
	case <-ctx.Done():
		rc.stop()
		return ctx.Err()
	}
	waited := time.Since(t0)
	if rc.err != nil {
		return fmt.Errorf("byte-compiling release %s: %w", id, rc.err)
	}
	hidden := max(rc.elapsed-waited, 0)
	m.log.Info("release compiled", "instance", st.Name, "release", id, "modules", rc.modules,
		"compile", rc.elapsed.Round(time.Millisecond), "waited", waited.Round(time.Millisecond), "hidden", hidden.Round(time.Millisecond))
	m.emit(Event{Instance: st.Name, Op: op, Kind: EventInfo, Step: "compile", Elapsed: rc.elapsed, Waited: waited,
		Message: fmt.Sprintf("byte-compiled %d modules in %.1fs, %.1fs of it while the steps after the build ran (waited %.1fs)",
			rc.modules, rc.elapsed.Seconds(), hidden.Seconds(), waited.Seconds())})
	if st.UID == 0 {
		return nil
	}
	// Only the new release: older ones were secured when built.
	acct, err := m.account(ctx, st)
	if err != nil {
		return err
	}
	return acct.Secure(ctx, account.Tree{Code: []string{m.layout.ReleaseDir(st.Name, id)}})
}
