// Command deploykit deploys Python web applications as isolated instances
// (see doc.go for the command set and exit codes).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/requirements"
)

// Exit codes (documented in doc.go and `deploykit --help`).
const (
	exitOK       = 0
	exitFailure  = 1 // the operation failed (and was rolled back when it could be)
	exitUsage    = 2 // bad flags, arguments or input files
	exitNotFound = 3 // no such instance, release, file or component
	exitConflict = 4 // the instance is locked by another operation, or already exists
)

// usageError marks errors that are the user's invocation.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app holds the global flags and what commands share.
type app struct {
	root        string
	services    string
	databaseURL string
	brokerURL   string
	listenAddr  string
	json        bool
	verbose     int
	stdout      io.Writer
	stderr      io.Writer
	progress    *progress
	stopSignals func() // undoes catchSignals
}

// uncaughtSignals marks, in a command's Annotations, a command that
// leaves SIGINT and SIGTERM to their default action (see catchSignals).
const uncaughtSignals = "deploykit.signals"

// catchSignals makes SIGINT and SIGTERM cancel cmd's context, so that an
// interrupted operation rolls back, unless cmd is marked uncaughtSignals:
// a command that is atomic by itself and short (venv: a rename puts the
// venv in place) is better killed outright than made to take the cost:
// catching signals makes the runtime start a thread that waits for them,
// 1.6-2.2 ms of CPU and 17-21 page faults of a 25 ms process.
func (a *app) catchSignals(cmd *cobra.Command) {
	if _, ok := cmd.Annotations[uncaughtSignals]; ok {
		return
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	cmd.SetContext(ctx)
	a.stopSignals = stop
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, stopSignals: func() {}}
	defer func() { a.stopSignals() }()
	root := a.rootCommand(args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(context.Background())
	if a.progress != nil {
		a.progress.finish()
	}
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code // `deploykit run`: the command's own status
	}
	code := exitCode(err)
	if isCobraUsage(err) {
		// cobra's own command, flag and argument errors: show the usage
		// hint. deploykit's own say what to do themselves.
		fmt.Fprintf(stderr, "deploykit: %v\nRun 'deploykit --help' for usage.\n", err)
	} else {
		fmt.Fprintf(stderr, "deploykit: %v\n", err)
	}
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), badInputFile(err), errors.Is(err, instance.ErrInvalidSpec), errors.Is(err, instance.ErrInvalidName), errors.Is(err, instance.ErrOtherServer), errors.Is(err, instance.ErrInvalidListenAddress), errors.Is(err, instance.ErrSameInstance), isCobraUsage(err):
		return exitUsage
	case errors.Is(err, instance.ErrLocked), errors.Is(err, instance.ErrExists):
		return exitConflict
	case errors.Is(err, instance.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return exitNotFound
	}
	return exitFailure
}

// rootCommand is the command tree for args: the root with the command
// args invoke, or with every command (see addCommands).
func (a *app) rootCommand(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "deploykit",
		Short: "Run Python web applications as isolated instances",
		Long: `deploykit runs named, isolated instances of a Python web application
(production, staging, a branch) side by side on one host: each with its own
release virtualenv, Unix user, PostgreSQL role and database, service units
and backups.

Exit codes: 0 success, 1 failure (rolled back when possible), 2 usage error
(bad flags, arguments, spec), 3 not found (instance, release, file),
4 conflict (the instance is locked by another operation, or already exists).`,
		Example: `  deploykit doctor
  deploykit create production --spec app.toml
  deploykit status production --json
  deploykit upgrade production
  deploykit backup production && deploykit clone production staging --yes`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.catchSignals(cmd)
			if a.root == "" {
				a.root = os.Getenv(instance.EnvRoot)
			}
			a.progress = newProgress(a.stderr, a.json)
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.root, "root", "", "deploykit root directory (default $DEPLOYKIT_ROOT, /srv/deploykit as root, else $XDG_DATA_HOME/deploykit)")
	pf.StringVar(&a.services, "services", "auto", "service controller: auto, systemd or supervise")
	pf.StringVar(&a.databaseURL, "database-url", os.Getenv("DEPLOYKIT_DATABASE_URL"), "PostgreSQL server URL with a role that may create roles and databases (default: embedded cluster under ROOT/postgres)")
	pf.StringVar(&a.brokerURL, "broker-url", os.Getenv("DEPLOYKIT_BROKER_URL"), "RabbitMQ management API URL with an administrator, http://USER:PASSWORD@HOST:15672/, for specs with [broker] (default: embedded node under ROOT/rabbitmq)")
	pf.StringVar(&a.listenAddr, "listen-address", os.Getenv(instance.EnvListenAddress), "IP address the instances' listening services are bound on (default $"+instance.EnvListenAddress+", else the root's recorded one, else 127.0.0.1); a new value is recorded for the whole root")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON")
	pf.CountVarP(&a.verbose, "verbose", "v", "log more (repeat for debug)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })

	a.addCommands(root, args)
	return root
}

// logger returns the slog logger the -v flags ask for.
func (a *app) logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case a.verbose >= 2:
		level = slog.LevelDebug
	case a.verbose == 1:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// manager opens the instance manager with the global flags.
func (a *app) manager(ctx context.Context) (*instance.Manager, error) {
	return instance.Open(ctx, instance.Options{
		Root:          a.root,
		Logger:        a.logger(),
		Events:        a.progress.event,
		DatabaseURL:   a.databaseURL,
		BrokerURL:     a.brokerURL,
		Services:      a.services,
		ListenAddress: a.listenAddr,
		CrashAt:       os.Getenv("DEPLOYKIT_TEST_CRASH_AT"),
	})
}

// printJSON writes v as indented JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// badInputFile: a requirements file (or line) that does not parse is
// the user's input at fault, as a bad spec is; one that is not there is
// not found.
func badInputFile(err error) bool {
	var pe *requirements.ParseError
	return errors.As(err, &pe) && !errors.Is(err, os.ErrNotExist)
}

func isCobraUsage(err error) bool {
	// cobra reports unknown commands, wrong argument counts and bad flags
	// as plain errors; they are recognised by their wording.
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
