package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/services"
)

func (a *app) shutdownCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "shutdown",
		Short: "Stop the root's embedded PostgreSQL cluster and RabbitMQ node",
		Long: `shutdown stops the embedded PostgreSQL cluster under ROOT/postgres and the
embedded RabbitMQ node under ROOT/rabbitmq (and takes them off the
built-in supervisor, or removes their systemd units). Instances keep
running but lose their database and broker until the next deploykit
operation starts them again. With --database-url or --broker-url the
server named is left alone.`,
		Example: "  deploykit shutdown --root /tmp/demo",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				return m.Shutdown(ctx)
			})
		},
	}
}

// withManager opens the manager and runs f with it.
func (a *app) withManager(cmd *cobra.Command, f func(ctx context.Context, m *instance.Manager) error) error {
	m, err := a.manager(cmd.Context())
	if err != nil {
		return err
	}
	return f(cmd.Context(), m)
}

func loadSpec(path string) (*instance.Spec, error) {
	if path == "" {
		return nil, nil
	}
	// A spec file that is not there exits 3 (not found), as a missing
	// archive or release does; one that names missing files is invalid (2).
	return instance.LoadSpec(path)
}

func (a *app) printState(m *instance.Manager, verb string, st *instance.State) error {
	if a.json {
		return a.printJSON(st)
	}
	fmt.Fprintf(a.stdout, "%s %s: release %s", verb, st.Name, st.Current)
	// Ports stay allocated to a service a release dropped (a rollback or
	// a later upgrade may bring it back): name only the current release's.
	listening := map[string]bool{}
	if b, err := os.ReadFile(m.Layout().ReleaseSpec(st.Name, st.Current)); err == nil {
		if spec, err := instance.ParseSpec(b, ""); err == nil {
			for _, svc := range spec.ListeningServices() {
				listening[svc] = true
			}
		} else {
			listening = nil
		}
	} else {
		listening = nil
	}
	for _, svc := range sortedPorts(st.Ports) {
		if listening != nil && !listening[svc] {
			continue
		}
		fmt.Fprintf(a.stdout, ", %s on %s", svc, hostPort(st, svc))
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// hostPort is where a service of st listens.
func hostPort(st *instance.State, svc string) string {
	addr := st.ListenAddress
	if addr == "" {
		addr = instance.DefaultListenAddress
	}
	return net.JoinHostPort(addr, strconv.Itoa(st.Ports[svc]))
}

func sortedPorts(p map[string]int) []string {
	var ks []string
	for k := range p {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func (a *app) createCommand() *cobra.Command {
	var specPath string
	cmd := &cobra.Command{
		Use:   "create NAME --spec app.toml",
		Short: "Create an instance: release, user, database, migrations, services",
		Long: `create makes a new instance NAME of the application spec: its directories,
Unix user, PostgreSQL role and database, the first release (requirements
resolved, locked into pylock.toml, installed into a venv from the shared
cache), migrations, and its services, started and health-checked. On any
failure everything is undone.`,
		Example: `  deploykit create production --spec app.toml
  deploykit create staging --spec app.toml --root /srv/deploykit`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if specPath == "" {
				return usagef("create: --spec is required")
			}
			spec, err := loadSpec(specPath)
			if err != nil {
				return err
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				st, err := m.Create(ctx, args[0], spec)
				if err != nil {
					return err
				}
				return a.printState(m, "created", st)
			})
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "application spec (app.toml)")
	return cmd
}

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the instances under the root",
		Example: "  deploykit list\n  deploykit list --json --root /srv/deploykit",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				list, err := m.List(ctx)
				if err != nil {
					return err
				}
				if a.json {
					if list == nil {
						return a.printJSON([]any{})
					}
					return a.printJSON(list)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tAPP\tRELEASE\tPORTS\tCREATED\tPENDING")
				for _, s := range list {
					ports := make([]string, len(s.Ports))
					for i, p := range s.Ports {
						ports[i] = fmt.Sprint(p)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.App, s.Current, strings.Join(ports, ","), s.Created.Format("2006-01-02 15:04"), s.Pending)
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show an instance: releases, ports, user, database, services",
		Long: `status shows an instance's record and the state of its services. If an
operation on it was interrupted (a crash, a kill), status first finishes it
— rolled back or forward — so what it shows is a consistent state.`,
		Example: "  deploykit status production\n  deploykit status production --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				s, err := m.Status(ctx, args[0])
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(s)
				}
				w := a.stdout
				fmt.Fprintf(w, "instance  %s (app %s)\nhome      %s\nrelease   %s\n", s.Name, s.App, s.Home, s.Current)
				if s.User != "" {
					fmt.Fprintf(w, "user      %s (uid %d)\n", s.User, s.UID)
				}
				if s.Database != "" {
					fmt.Fprintf(w, "database  %s (role %s)\n", s.Database, s.Role)
				}
				for _, svc := range sortedPorts(s.Ports) {
					fmt.Fprintf(w, "port      %s %s\n", svc, hostPort(s.State, svc))
				}
				if s.Recovered != nil {
					fmt.Fprintf(w, "recovered %s\n", s.Recovered)
				}
				if s.Busy != "" {
					fmt.Fprintf(w, "busy      %s\n", s.Busy)
				}
				fmt.Fprintf(w, "releases:\n")
				for _, r := range s.Releases {
					mark := " "
					if r.ID == s.Current {
						mark = "*"
					}
					extra := ""
					if len(r.Changes) > 0 {
						extra = " " + strings.Join(r.Changes, ", ")
					}
					fmt.Fprintf(w, "  %s %-4s %-8s %s %d packages%s\n", mark, r.ID, r.Kind, r.Created.Local().Format("2006-01-02 15:04:05"), r.Packages, extra)
				}
				fmt.Fprintf(w, "services (%s):\n", s.Mode)
				for _, c := range s.Services {
					fmt.Fprintf(w, "  %-10s %-10s %-10s pid %d restarts %d %s\n", c.Component, c.State, c.Sub, c.PID, c.Restarts, c.Error)
				}
				return nil
			})
		},
	}
}

func (a *app) controlCommand(verb, short, past string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " NAME [COMPONENT...]",
		Short:   short,
		Example: fmt.Sprintf("  deploykit %s production\n  deploykit %s production web", verb, verb),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				var err error
				switch verb {
				case "start":
					err = m.Start(ctx, args[0], args[1:]...)
				case "stop":
					err = m.Stop(ctx, args[0], args[1:]...)
				default:
					err = m.Restart(ctx, args[0], args[1:]...)
				}
				if err != nil {
					return err
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "%s %s\n", past, strings.Join(args, " "))
				}
				return nil
			})
		},
	}
}

func (a *app) upgradeCommand() *cobra.Command {
	var specPath string
	cmd := &cobra.Command{
		Use:   "upgrade NAME [--spec app.toml]",
		Short: "Build a new release, migrate, switch, restart; roll back on failure",
		Long: `upgrade builds a new release of the instance (requirements re-resolved,
preferring the versions of the current lock), runs the migrations, switches
'current' to it atomically, restarts the services (sockets are handed over,
no request is dropped) and health-checks them. If any step fails, the
instance is switched back and keeps serving the old release.
Without --spec, the spec file the instance was last deployed from is used.`,
		Example: "  deploykit upgrade production\n  deploykit upgrade staging --spec ./app.toml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				spec, err := loadSpec(specPath)
				if err != nil {
					return err
				}
				if spec == nil {
					st, err := m.Status(ctx, args[0])
					if err != nil {
						return err
					}
					if st.SpecFile != "" {
						if spec, err = loadSpec(st.SpecFile); err != nil {
							return err
						}
					}
				}
				st, err := m.Upgrade(ctx, args[0], spec)
				if err != nil {
					return err
				}
				return a.printState(m, "upgraded", st)
			})
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "application spec (default: the one the instance was deployed from)")
	return cmd
}

func (a *app) hotfixCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "hotfix NAME REQUIREMENT...",
		Short: "New release = the current lock with only these requirements changed",
		Long: `hotfix makes a new release from the current release's lock, changing only
the named requirements (a version, or a branch of your code), so nothing
else moves; then migrates, switches, restarts and health-checks as upgrade
does, rolling back on failure.`,
		Example: `  deploykit hotfix production "demoapp==1.0.1"
  deploykit hotfix staging "demo @ git+https://git.example.com/demo@fix-123"`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				st, err := m.Hotfix(ctx, args[0], args[1:])
				if err != nil {
					return err
				}
				return a.printState(m, "hotfixed", st)
			})
		},
	}
}

func (a *app) rollbackCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:     "rollback NAME [--to RELEASE]",
		Short:   "Switch back to an earlier release without rebuilding",
		Example: "  deploykit rollback production\n  deploykit rollback production --to r3",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				st, err := m.Rollback(ctx, args[0], to)
				if err != nil {
					return err
				}
				return a.printState(m, "rolled back", st)
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "release to switch to (default: the one before the current)")
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run NAME -- CMD [ARGS...]",
		Short: "Run a command in the instance's environment, as its user",
		Long: `run executes CMD with the instance's environment (its venv first on PATH,
DATABASE_URL, PORT, DEPLOYKIT_INSTANCE, the spec's [env]) as the instance's
user, in its home directory. The exit status is CMD's.`,
		Example: `  deploykit run production -- python -m django shell
  deploykit run staging -- psql "$DATABASE_URL"`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				code, err := m.Run(ctx, args[0], args[1:], instance.RunIO{Stdin: os.Stdin, Stdout: a.stdout, Stderr: a.stderr})
				if err != nil {
					return err
				}
				if code != 0 {
					return exitError{code}
				}
				return nil
			})
		},
	}
}

// exitError passes a child's exit status through.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func (a *app) backupCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup NAME [-o FILE]",
		Short: "Back up an instance: database, data directories, release identity",
		Long: `backup writes an archive (.dkb: tar + zstd, SHA-256 of every member,
sealed) of the instance's database, its data directory and what was
running (spec, release, lock). Default output: ROOT/backups/NAME/TIMESTAMP.dkb.`,
		Example: "  deploykit backup production\n  deploykit backup production -o /mnt/backups/prod.dkb --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				res, err := m.Backup(ctx, args[0], out)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(res)
				}
				fmt.Fprintf(a.stdout, "backup %s: %s (%d tables, %d rows, %d files)\n", args[0], res.Path, res.Tables, res.Rows, res.Files)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "archive file to write")
	return cmd
}

func (a *app) verifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "verify FILE",
		Short:   "Check a backup archive end to end (hashes, seal, structure)",
		Example: "  deploykit verify /srv/deploykit/backups/production/20260101T000000Z.dkb",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				res, err := m.Verify(ctx, args[0])
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(res)
				}
				fmt.Fprintf(a.stdout, "ok %s: instance %s release %s\n", args[0], res.Instance, res.Release)
				return nil
			})
		},
	}
}

func needYes(yes bool, what string) error {
	if !yes {
		return usagef("%s replaces data; pass --yes to confirm", what)
	}
	return nil
}

func (a *app) restoreCommand() *cobra.Command {
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "restore NAME FILE --yes [--force]",
		Short: "Replace an instance's database and data with a backup's",
		Long: `restore replaces NAME's database and data directory with those in FILE
(which may come from another instance: "restore last night's production
into staging"). The instance keeps its own release, user, role and
password. The archive loads into a temporary database and a staging
directory while the instance still serves, and is verified as it loads;
only once all of it has verified does the instance stop for the swap (and
start again). A bad archive replaces nothing and stops nothing. An archive
taken of another instance is refused unless --force.`,
		Example: `  deploykit restore production /srv/deploykit/backups/production/20260101T000000Z.dkb --yes
  deploykit restore staging /srv/deploykit/backups/production/20260101T000000Z.dkb --yes --force`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needYes(yes, "restore"); err != nil {
				return err
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				if err := m.Restore(ctx, args[0], args[1], instance.RestoreOptions{Force: force}); err != nil {
					if errors.Is(err, archive.ErrOtherInstance) {
						return usageError{fmt.Errorf("%w (pass --force to restore it anyway)", err)}
					}
					return err
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "restored %s from %s\n", args[0], args[1])
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm replacing the instance's data")
	cmd.Flags().BoolVar(&force, "force", false, "restore an archive taken of another instance")
	return cmd
}

func (a *app) cloneCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "clone SRC DST --yes",
		Short:   "Copy SRC's database and data into DST (backup + restore)",
		Example: "  deploykit clone production staging --yes",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needYes(yes, "clone"); err != nil {
				return err
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				if err := m.Clone(ctx, args[0], args[1]); err != nil {
					return err
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "cloned %s into %s\n", args[0], args[1])
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm replacing DST's data")
	return cmd
}

func (a *app) unitsCommand() *cobra.Command {
	var specPath, outDir string
	cmd := &cobra.Command{
		Use:   "units NAME [--spec app.toml] [-o DIR]",
		Short: "Print (or write) the systemd units of an instance",
		Long: `units renders the hardened systemd units (target, sockets, services) of
an instance — also of one not created yet, from --spec. With -o they are
written into DIR; otherwise printed.`,
		Example: "  deploykit units production\n  deploykit units preview --spec app.toml -o /tmp/units",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := loadSpec(specPath)
			if err != nil {
				return err
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				units, err := m.Units(ctx, args[0], spec)
				if err != nil {
					return err
				}
				if outDir != "" {
					if err := os.MkdirAll(outDir, 0o755); err != nil {
						return err
					}
					for _, u := range units {
						if err := os.WriteFile(filepath.Join(outDir, u.Name), u.Content, 0o644); err != nil {
							return err
						}
					}
				}
				if a.json {
					type unit struct{ Name, Content string }
					var out []unit
					for _, u := range units {
						out = append(out, unit{u.Name, string(u.Content)})
					}
					return a.printJSON(out)
				}
				for _, u := range units {
					if outDir != "" {
						fmt.Fprintln(a.stdout, filepath.Join(outDir, u.Name))
						continue
					}
					fmt.Fprintf(a.stdout, "# %s\n%s\n", u.Name, u.Content)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "render from this spec instead of the current release's")
	cmd.Flags().StringVarP(&outDir, "output", "o", "", "write the unit files into this directory")
	return cmd
}

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:     "logs NAME [COMPONENT]",
		Short:   "Show a component's log",
		Example: "  deploykit logs production web\n  deploykit logs production web -f -n 50",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			comp := ""
			if len(args) == 2 {
				comp = args[1]
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				r, err := m.Logs(ctx, args[0], comp, services.LogOptions{Follow: follow, Lines: lines})
				if err != nil {
					return err
				}
				defer r.Close()
				_, err = io.Copy(a.stdout, r)
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().IntVarP(&lines, "lines", "n", 0, "only the last N lines")
	return cmd
}

func (a *app) removeCommand() *cobra.Command {
	var yes, deleteBackups bool
	cmd := &cobra.Command{
		Use:   "remove NAME --yes",
		Short: "Remove an instance: services, database, role, user, files",
		Long: `remove stops the instance and deletes its services, database, role, Unix
user and directories. Its backups (ROOT/backups/NAME) are kept unless
--delete-backups is given.`,
		Example: "  deploykit remove staging --yes",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("remove deletes the instance %s; pass --yes to confirm", args[0])
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				start := time.Now()
				if err := m.Remove(ctx, args[0], instance.RemoveOptions{DeleteBackups: deleteBackups}); err != nil {
					return err
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "removed %s (%s)\n", args[0], time.Since(start).Round(time.Millisecond))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm removal")
	cmd.Flags().BoolVar(&deleteBackups, "delete-backups", false, "also delete the instance's backups")
	return cmd
}
