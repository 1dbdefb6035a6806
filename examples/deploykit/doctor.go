package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/instance/broker"
	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/rabbitnode"
	"github.com/deploykit/deploykit/venv"
)

// check is one line of `deploykit doctor`.
type check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

func (a *app) doctorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the host: interpreters, PostgreSQL, RabbitMQ, systemd, privileges, disk",
		Long: `doctor checks what deploykit needs on this host and says what to install:
Python interpreters (and their versions), PostgreSQL server binaries for the
embedded cluster or a reachable server (--database-url), rabbitmq-server for
the embedded broker node or a reachable broker (--broker-url), systemd or the
built-in supervisor, root (per-instance Unix users) or unprivileged mode,
version-control tools for VCS requirements, and free disk under the root.
It exits 1 when a required check fails.`,
		Example: `  deploykit doctor
  deploykit doctor --database-url postgres://admin@db.example/postgres --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			checks := a.doctor(cmd.Context())
			failed := 0
			for _, c := range checks {
				if c.Required && !c.OK {
					failed++
				}
			}
			if a.json {
				if err := a.printJSON(checks); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					mark := "ok  "
					if !c.OK {
						mark = "warn"
						if c.Required {
							mark = "FAIL"
						}
					}
					fmt.Fprintf(a.stdout, "[%s] %-12s %s\n", mark, c.Name, c.Detail)
					if !c.OK && c.Fix != "" {
						fmt.Fprintf(a.stdout, "       %-12s fix: %s\n", "", c.Fix)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("doctor: %d required check(s) failed", failed)
			}
			return nil
		},
	}
}

func (a *app) doctor(ctx context.Context) []check {
	var out []check
	root := a.root
	if root == "" {
		root, _ = instance.DefaultRoot()
	}

	// Interpreters.
	cands, err := venv.Discover(ctx, venv.DiscoverOptions{CacheDir: instance.InterpreterCacheDir(a.root)})
	var pys []string
	seen := map[string]bool{}
	for _, c := range cands {
		if c.Interpreter != nil && c.Interpreter.Major() == 3 && !seen[c.Interpreter.RealPath] {
			seen[c.Interpreter.RealPath] = true
			pys = append(pys, fmt.Sprintf("%s (%s)", c.Interpreter.Version, c.Path))
		}
	}
	py := check{Name: "python", Required: true, OK: len(pys) > 0}
	switch {
	case err != nil:
		py.Detail = err.Error()
	case len(pys) == 0:
		py.Detail = "no Python 3 interpreter found"
	default:
		py.Detail = strings.Join(pys, ", ")
	}
	py.Fix = "install Python 3 (apt-get install python3, or pyenv)"
	out = append(out, py)

	// PostgreSQL.
	if a.databaseURL != "" {
		c := check{Name: "postgresql", Required: true}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, a.databaseURL)
		if err == nil {
			var v string
			err = conn.QueryRow(cctx, "SHOW server_version").Scan(&v)
			var canCreate bool
			if err == nil {
				err = conn.QueryRow(cctx, "SELECT rolcreaterole AND rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&canCreate)
			}
			conn.Close(cctx)
			if err == nil {
				c.OK = canCreate
				c.Detail = "server " + v + " reachable at --database-url"
				if !canCreate {
					c.Detail += ", but its role may not create roles and databases"
					c.Fix = "ALTER ROLE … CREATEROLE CREATEDB, or use a superuser"
				}
			}
		}
		cancel()
		if err != nil {
			c.Detail = "server not reachable: " + err.Error()
			c.Fix = "check --database-url (host, port, role, password)"
		}
		out = append(out, c)
	} else {
		c := check{Name: "postgresql", Required: true}
		b, err := pgcluster.FindBinaries(ctx)
		if err != nil {
			c.Detail = "no PostgreSQL server binaries for the embedded cluster"
			c.Fix = "apt-get install postgresql (server binaries: initdb, pg_ctl), or pass --database-url"
		} else {
			c.OK = true
			c.Detail = fmt.Sprintf("server binaries %s in %s (embedded cluster under %s)", b.Version, b.Dir, filepath.Join(root, "postgres"))
		}
		out = append(out, c)
	}

	out = append(out, a.brokerCheck(ctx, root))

	// Service manager.
	sd := check{Name: "services", OK: true}
	comm, _ := os.ReadFile("/proc/1/comm")
	if strings.TrimSpace(string(comm)) == "systemd" {
		sd.Detail = "systemd is PID 1: instances run as systemd units (--services auto)"
		if _, err := exec.LookPath("systemctl"); err != nil {
			sd.OK, sd.Detail, sd.Fix = false, "systemd is PID 1 but systemctl is missing", "apt-get install systemd"
		}
	} else {
		sd.Detail = fmt.Sprintf("PID 1 is %q, not systemd: instances run under the built-in supervisor (--services auto)", strings.TrimSpace(string(comm)))
	}
	out = append(out, sd)

	// Privileges.
	pr := check{Name: "privileges", OK: true}
	if os.Geteuid() == 0 {
		pr.Detail = "root: each instance gets its own Unix user and group"
		if _, err := exec.LookPath("useradd"); err != nil {
			pr.OK, pr.Required, pr.Detail, pr.Fix = false, true, "root, but useradd is missing", "apt-get install passwd"
		}
	} else {
		pr.Detail = fmt.Sprintf("unprivileged (uid %d): instances run as you, without per-instance users", os.Geteuid())
	}
	out = append(out, pr)

	// VCS tools for requirements such as git+https://….
	var vcs, missing []string
	for _, t := range []struct{ cmd, pkg string }{{"git", "git"}, {"brz", "brz"}, {"hg", "mercurial"}} {
		if _, err := exec.LookPath(t.cmd); err == nil {
			vcs = append(vcs, t.cmd)
		} else {
			missing = append(missing, t.pkg)
		}
	}
	vc := check{Name: "vcs", OK: len(missing) == 0, Detail: "found: " + strings.Join(vcs, ", ")}
	if len(missing) > 0 {
		vc.Detail += "; missing: " + strings.Join(missing, ", ") + " (needed only for requirements from those VCS)"
		vc.Fix = "apt-get install " + strings.Join(missing, " ")
	}
	out = append(out, vc)

	// Disk.
	dk := check{Name: "disk", Required: true}
	dir := root
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" {
			break
		}
		dir = filepath.Dir(dir)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		dk.Detail = err.Error()
	} else {
		free := fs.Bavail * uint64(fs.Bsize)
		dk.OK = free > 1<<30
		dk.Detail = fmt.Sprintf("%.1f GiB free at %s (root %s)", float64(free)/(1<<30), dir, root)
		if !dk.OK {
			dk.Fix = "free disk space: releases, the cache and backups need at least 1 GiB"
		}
	}
	out = append(out, dk)
	return out
}

// brokerCheck says whether instances whose spec has [broker] can get a
// vhost: the --broker-url answers as an administrator, or rabbitmq-server
// is installed for the embedded node. Not required: only specs with a
// broker need it.
func (a *app) brokerCheck(ctx context.Context, root string) check {
	c := check{Name: "rabbitmq"}
	if a.brokerURL != "" {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		adm, err := broker.ParseAdminURL(a.brokerURL)
		var v string
		if err == nil {
			v, err = adm.Version(cctx)
		}
		if err != nil {
			c.Detail = "broker not usable: " + err.Error()
			c.Fix = "check --broker-url (http://ADMIN:PASSWORD@HOST:15672/, the management plugin enabled, an administrator)"
			return c
		}
		c.OK, c.Detail = true, "RabbitMQ "+v+" reachable at --broker-url ("+adm.String()+")"
		return c
	}
	b, err := rabbitnode.FindBinaries(ctx)
	if err != nil {
		c.Detail = "rabbitmq-server is not installed: specs with [broker] cannot get the embedded node"
		c.Fix = "apt-get install --no-install-recommends rabbitmq-server (its own service is not used), or pass --broker-url"
		return c
	}
	v := "?"
	if b.Version != nil {
		v = b.Version.String()
	}
	c.OK, c.Detail = true, fmt.Sprintf("RabbitMQ %s (%s) for the embedded node under %s, started when a spec with [broker] needs it", v, b.Server, filepath.Join(root, "rabbitmq"))
	return c
}
