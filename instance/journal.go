package instance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// The journal makes every multi-step operation on an instance crash-safe.
//
// An operation is a list of steps. Each step has a do and an optional undo,
// both idempotent (they may run again after a crash part-way through).
// One step is the commit point. The journal, instances/NAME/journal, is a
// JSON-lines file appended and fsynced before and after each step:
//
//	{"event":"op","op":"upgrade","params":{...}}
//	{"event":"begin","step":"build"}
//	{"event":"done","step":"build"}
//	...
//	{"event":"commit"}                     after the commit step is done
//	{"event":"rollback"}                   a step failed before the commit
//
// and removed when the operation ends. Whoever next takes the instance lock
// and finds a journal recovers: before the commit, every begun step is
// undone in reverse order (the instance is back in the old state); after
// it, every step not yet done is redone (the instance reaches the new
// state). Steps are rebuilt from the op name and params, so recovery needs
// nothing but the journal.

type journalRecord struct {
	Time   time.Time         `json:"time"`
	Event  string            `json:"event"`
	Op     string            `json:"op,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Step   string            `json:"step,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// step is one unit of an operation.
type step struct {
	name string
	do   func(ctx context.Context) error
	// undo reverses do, including a do that stopped half-way; nil when
	// there is nothing to reverse.
	undo func(ctx context.Context) error
	// commit marks the commit point: once this step is done the
	// operation rolls forward on recovery.
	commit bool
}

// operation is a planned operation: enough to run it or to recover it.
type operation struct {
	op     string
	params map[string]string
	steps  []step
}

// journalState is what a journal file says about an interrupted operation.
type journalState struct {
	Op         string
	Params     map[string]string
	Begun      []string // in order
	Done       map[string]bool
	Committed  bool
	RolledBack bool
}

func readJournal(path string) (*journalState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st := &journalState{Done: map[string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	first := true
	for sc.Scan() {
		var r journalRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A torn last line (killed mid-write) is the only way to get
			// here with a valid prefix; what came before stands.
			break
		}
		if first {
			if r.Event != "op" {
				return nil, fmt.Errorf("journal %s: does not start with an op record", path)
			}
			st.Op, st.Params = r.Op, r.Params
			first = false
			continue
		}
		switch r.Event {
		case "begin":
			st.Begun = append(st.Begun, r.Step)
		case "done":
			st.Done[r.Step] = true
		case "commit":
			st.Committed = true
		case "rollback":
			st.RolledBack = true
		}
	}
	if first {
		// Killed before the op record was durable: nothing happened.
		return nil, nil
	}
	return st, sc.Err()
}

type journal struct {
	path    string
	f       *os.File
	crashAt string
}

func createJournal(path string, op string, params map[string]string, crashAt string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &journal{path: path, f: f, crashAt: crashAt}
	if err := j.append(journalRecord{Event: "op", Op: op, Params: params}); err != nil {
		f.Close()
		return nil, err
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

func openJournal(path string, crashAt string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{path: path, f: f, crashAt: crashAt}, nil
}

func (j *journal) append(r journalRecord) error {
	r.Time = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// crash kills the process at a named point when the test hook asks for it
// (Options.CrashAt). SIGKILL, not exit: no deferred cleanup may run, just
// as in a real crash or power loss.
func (j *journal) crash(point string) {
	if j.crashAt != "" && j.crashAt == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered asynchronously
	}
}

// finish removes the journal: the operation is over, one way or the other.
func (j *journal) finish() error {
	j.f.Close()
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	// A rolled-back create removes the instance directory, journal and all.
	if err := atomicfile.SyncDir(filepath.Dir(j.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// CrashPoints lists the names Options.CrashAt accepts for an operation's
// steps: "STEP" kills before the step runs (its begin record written),
// "STEP:done" after it ran but before its done record.
func crashPoints(op *operation) []string {
	var out []string
	for _, s := range op.steps {
		out = append(out, s.name, s.name+":done")
	}
	return out
}

// StepError is a step of an operation that failed; the operation was
// rolled back (RolledBack) or, past its commit point, left to be finished.
type StepError struct {
	Op         string
	Instance   string // "" when the operation is not on one instance
	Step       string
	RolledBack bool
	Err        error
	// UndoErr holds failures while rolling back, if any.
	UndoErr error
}

func (e *StepError) Error() string {
	op := e.Op
	if e.Instance != "" {
		op += " " + e.Instance
	}
	// A package's error often starts with the step's own name ("broker:
	// cannot reach …" in step broker): say it once.
	msg := strings.TrimPrefix(e.Err.Error(), e.Step+": ")
	s := fmt.Sprintf("%s: %s: %s", op, e.Step, msg)
	if e.RolledBack {
		s += " (rolled back)"
	}
	if e.UndoErr != nil {
		if u := e.UndoErr.Error(); strings.Contains(u, msg) {
			s += "; undoing it failed the same way"
		} else {
			s += "; rollback: " + u
		}
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// runOperation executes op under the journal at path, with the hooks
// called around each step (progress events).
func runOperation(ctx context.Context, path string, op *operation, crashAt string, notify func(step string, done bool, err error)) error {
	j, err := createJournal(path, op.op, op.params, crashAt)
	if err != nil {
		return err
	}
	committed := false
	for i, s := range op.steps {
		if err := j.append(journalRecord{Event: "begin", Step: s.name}); err != nil {
			return err
		}
		j.crash(s.name)
		notify(s.name, false, nil)
		err := s.do(ctx)
		if err == nil {
			j.crash(s.name + ":done")
			err = j.append(journalRecord{Event: "done", Step: s.name})
		}
		if err != nil {
			notify(s.name, true, err)
			se := &StepError{Op: op.op, Step: s.name, Err: err}
			if committed {
				// Past the commit point the new state stands; the next
				// recovery finishes the remaining steps.
				return se
			}
			_ = j.append(journalRecord{Event: "rollback", Step: s.name, Error: err.Error()})
			j.crash("rollback")
			// Undo must not be cut short by the context that may have
			// caused the failure.
			se.UndoErr = undoSteps(context.WithoutCancel(ctx), op.steps[:i+1])
			se.RolledBack = se.UndoErr == nil
			if se.UndoErr == nil {
				if ferr := j.finish(); ferr != nil {
					se.UndoErr = ferr
				}
			}
			return se
		}
		notify(s.name, true, nil)
		if s.commit {
			if err := j.append(journalRecord{Event: "commit"}); err != nil {
				return err
			}
			committed = true
		}
	}
	return j.finish()
}

func undoSteps(ctx context.Context, steps []step) error {
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].undo == nil {
			continue
		}
		if err := steps[i].undo(ctx); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", steps[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// Recovery says what recover did with an interrupted operation.
type Recovery struct {
	Op         string   `json:"op"`
	RolledBack bool     `json:"rolled_back"` // else rolled forward
	Steps      []string `json:"steps"`       // steps undone or redone
}

func (r *Recovery) String() string {
	if r == nil {
		return ""
	}
	dir := "forward"
	if r.RolledBack {
		dir = "back"
	}
	return fmt.Sprintf("interrupted %s rolled %s (%s)", r.Op, dir, strings.Join(r.Steps, ", "))
}

// recoverOperation finishes an interrupted operation found in the journal
// at path. plan rebuilds the operation's steps from its op and params.
// It returns nil, nil when there is no journal.
func recoverOperation(ctx context.Context, path string, crashAt string, plan func(op string, params map[string]string) (*operation, error)) (*Recovery, error) {
	st, err := readJournal(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, os.Remove(path)
	}
	op, err := plan(st.Op, st.Params)
	if err != nil {
		return nil, fmt.Errorf("journal: cannot recover %s: %w", st.Op, err)
	}
	j, err := openJournal(path, crashAt)
	if err != nil {
		return nil, err
	}
	rec := &Recovery{Op: st.Op}
	if st.Committed {
		for _, s := range op.steps {
			if st.Done[s.name] {
				continue
			}
			// Steps before the commit point are all done when committed.
			if err := j.append(journalRecord{Event: "begin", Step: s.name}); err != nil {
				return nil, err
			}
			if err := s.do(ctx); err != nil {
				return rec, &StepError{Op: st.Op, Step: s.name, Err: fmt.Errorf("rolling forward: %w", err)}
			}
			if err := j.append(journalRecord{Event: "done", Step: s.name}); err != nil {
				return nil, err
			}
			rec.Steps = append(rec.Steps, s.name)
		}
	} else {
		rec.RolledBack = true
		begun := map[string]bool{}
		for _, b := range st.Begun {
			begun[b] = true
		}
		var undo []step
		for _, s := range op.steps {
			if begun[s.name] {
				undo = append(undo, s)
				if s.undo != nil {
					rec.Steps = append(rec.Steps, s.name)
				}
			}
		}
		if !st.RolledBack {
			if err := j.append(journalRecord{Event: "rollback"}); err != nil {
				return nil, err
			}
		}
		if err := undoSteps(ctx, undo); err != nil {
			return rec, &StepError{Op: st.Op, Step: "rollback", Err: err}
		}
	}
	return rec, j.finish()
}

// crash is the journal's test hook (Options.CrashAt) for a point inside a
// step.
func (m *Manager) crash(point string) {
	(&journal{crashAt: m.opts.CrashAt}).crash(point)
}
