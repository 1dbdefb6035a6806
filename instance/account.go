package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/deploykit/deploykit/instance/account"
)

func (m *Manager) accounts() (*account.Manager, error) {
	return account.New(account.Options{Logger: m.log})
}

// identity fills in the names derived from the instance name: user,
// group, role and database are all one name (see instance/account).
func (m *Manager) identity(st *State, spec *Spec) {
	names, err := account.NamesFor("", st.Name)
	if err != nil {
		return // ValidateName ran before; NamesFor cannot disagree
	}
	st.User = names.User
	if spec.Database != nil {
		st.Database, st.Role = names.Database, names.Role
	}
	if spec.Broker != nil {
		st.Broker, st.BrokerUser = names.Role, names.Role
	}
}

// ensureAccount creates the instance's user and group (or finds them) and
// records the ids.
func (m *Manager) ensureAccount(ctx context.Context, st *State) error {
	am, err := m.accounts()
	if err != nil {
		return err
	}
	acct, err := am.Ensure(ctx, st.Name, m.layout.InstanceDir(st.Name))
	if err != nil {
		return err
	}
	if !acct.Privileged {
		// Unprivileged: everything runs as the caller.
		st.User, st.UID, st.GID = "", 0, 0
		m.emit(Event{Instance: st.Name, Kind: EventInfo, Message: am.Warning()})
	} else {
		st.UID, st.GID = acct.UID, acct.GID
	}
	return m.secure(ctx, st, acct)
}

func (m *Manager) account(ctx context.Context, st *State) (*account.Account, error) {
	am, err := m.accounts()
	if err != nil {
		return nil, err
	}
	return am.Lookup(ctx, st.Name)
}

// secure sets ownership and modes of the instance tree: code read-only to
// the instance, data/run/log its own, secrets 0700/0600.
func (m *Manager) secure(ctx context.Context, st *State, acct *account.Account) error {
	if acct == nil {
		var err error
		if acct, err = m.account(ctx, st); err != nil {
			return err
		}
	}
	l := m.layout
	return acct.Secure(ctx, account.Tree{
		Dir:      l.InstanceDir(st.Name),
		Code:     []string{l.ReleasesDir(st.Name)},
		Writable: []string{l.DataDir(st.Name), l.RunDir(st.Name), l.LogDir(st.Name)},
		Secrets:  l.SecretsDir(st.Name),
	})
}

// removeAccount deletes the instance's user and group — only if they are
// this root's: user names are per host, and a user of the same name whose
// home is another root's instance directory belongs to that root (a
// create that failed because of it must not remove it when undone).
func (m *Manager) removeAccount(ctx context.Context, st *State) error {
	am, err := m.accounts()
	if err != nil {
		return err
	}
	acct, err := am.Lookup(ctx, st.Name)
	if errors.Is(err, account.ErrNotFound) {
		return nil
	}
	if err == nil && acct.Privileged && filepath.Clean(acct.Home) != m.layout.InstanceDir(st.Name) {
		m.log.Warn("not removing a user of another root", "instance", st.Name, "user", acct.User, "home", acct.Home)
		return nil
	}
	return am.Remove(ctx, st.Name)
}

// RunIO are the standard streams of Run.
type RunIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs argv in the instance's environment (its current release's
// venv first on PATH, DATABASE_URL, PORT, DEPLOYKIT_INSTANCE, [env]) as
// the instance's user, in its home directory, and returns its exit
// status. It does not take the instance lock: a shell or a management
// command may run alongside operations.
func (m *Manager) Run(ctx context.Context, name string, argv []string, stdio RunIO) (int, error) {
	st, err := readState(m.layout, name)
	if err != nil {
		return 0, err
	}
	spec, err := m.releaseSpec(name, st.Current)
	if err != nil {
		return 0, err
	}
	cmd, err := m.command(ctx, st, spec, st.Current, argv)
	if err != nil {
		return 0, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		// exec's error ("fork/exec PATH: …") names the program already.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return 0, fmt.Errorf("instance %s: run %s: %w", name, argv[0], err)
	}
	return 0, nil
}

// command prepares argv to run as the instance with its environment,
// for release id.
func (m *Manager) command(ctx context.Context, st *State, spec *Spec, id string, argv []string) (*exec.Cmd, error) {
	acct, err := m.account(ctx, st)
	if err != nil {
		return nil, err
	}
	vars := m.vars(st, spec, id, "")
	args, err := vars.ExpandAll(argv)
	if err != nil {
		return nil, err
	}
	if args[0], err = resolveProgram(vars.Venv, args[0]); err != nil {
		return nil, err
	}
	envm, err := m.environment(st, spec, id, "")
	if err != nil {
		return nil, err
	}
	secret, err := readEnvFile(m.layout.EnvFile(st.Name))
	if err != nil {
		return nil, err
	}
	for k, v := range secret {
		envm[k] = v
	}
	keys := make([]string, 0, len(envm))
	for k := range envm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+envm[k])
	}
	return acct.Command(ctx, args, env, m.layout.InstanceDir(st.Name))
}

// readEnvFile reads KEY=VALUE lines (# comments); a missing file is empty.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range splitLines(string(b)) {
		if line == "" || line[0] == '#' {
			continue
		}
		for i := 0; i < len(line); i++ {
			if line[i] == '=' {
				out[line[:i]] = line[i+1:]
				break
			}
		}
	}
	return out, nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
