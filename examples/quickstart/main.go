// Command quickstart deploys deploykit's demo web application as two
// instances, production and staging, end to end, and prints each step
// with its time:
//
//	go run ./examples/quickstart [--root DIR] [--keep] [--database-url URL]
//
// It needs Go, Python 3 and PostgreSQL's server binaries (initdb, pg_ctl:
// the embedded cluster is created under ROOT/postgres), and works offline:
// the demo's packages are wheels built here, in Go, from the sources in
// examples/quickstart/demoapp, and its requirements file installs them
// with --no-index --find-links.
//
// The demo app is stdlib-only Python (http.server with socket activation).
// It talks to its PostgreSQL database through a tiny protocol client of
// its own (demoapp/pg.py: startup, SCRAM/MD5/peer auth, simple queries):
// no driver wheel such as psycopg2 is available offline on a fresh
// machine, and shelling out to psql would tie it to the client's PATH.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/instance"
)

//go:embed demoapp/demoapp/*.py demoapp/greeting/*.py
var sources embed.FS

func main() {
	// The built-in supervisor re-executes this program as its daemon.
	if handled, err := instance.SupervisorMain(context.Background(), os.Args[1:], nil); handled {
		if err != nil {
			os.Exit(1)
		}
		return
	}
	root := flag.String("root", "", "deploykit root (default: a temporary directory, removed at the end unless --keep)")
	keep := flag.Bool("keep", false, "leave the instances running and the root in place")
	dbURL := flag.String("database-url", "", "use this PostgreSQL server instead of the embedded cluster")
	svc := flag.String("services", "auto", "service controller: auto, systemd or supervise")
	verbose := flag.Bool("v", false, "log what deploykit does")
	names := flag.String("names", "production,staging", "the two instances' names (Unix users and roles are per host: pick others if these exist)")
	flag.Parse()
	prod, stage, ok := strings.Cut(*names, ",")
	if !ok {
		fmt.Fprintln(os.Stderr, "quickstart: --names takes two names: PRODUCTION,STAGING")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{root: *root, keep: *keep, dbURL: *dbURL, services: *svc, verbose: *verbose, prod: prod, stage: stage}, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "quickstart: %v\n", err)
		os.Exit(1)
	}
}

// demo is the quickstart's state: where things are and how to time steps.
type demo struct {
	out   io.Writer
	m     *instance.Manager
	start time.Time
}

func (d *demo) step(what string, f func() (string, error)) error {
	t := time.Now()
	fmt.Fprintf(d.out, "==> %s\n", what)
	msg, err := f()
	if err != nil {
		fmt.Fprintf(d.out, "    FAILED after %s: %v\n", time.Since(t).Round(time.Millisecond), err)
		return fmt.Errorf("%s: %w", what, err)
	}
	if msg != "" {
		for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
			fmt.Fprintf(d.out, "    %s\n", l)
		}
	}
	fmt.Fprintf(d.out, "    done in %s\n", time.Since(t).Round(time.Millisecond))
	return nil
}

// config is the quickstart's command line.
type config struct {
	root, dbURL, services string
	keep, verbose         bool
	prod, stage           string // instance names
}

func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	begin := time.Now()
	root, keep := cfg.root, cfg.keep
	production, staging := cfg.prod, cfg.stage
	mode := instance.ServicesMode(cfg.services)
	if root == "" {
		// systemd gives every unit a private /tmp and /var/tmp (PrivateTmp=),
		// so under systemd the temporary root lives in /var/lib.
		base := ""
		if mode == "systemd" {
			base = "/var/lib"
		}
		tmp, err := os.MkdirTemp(base, "deploykit-quickstart-")
		if err != nil {
			return err
		}
		// Instance users must be able to reach the root.
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		root = tmp
		if !keep {
			defer os.RemoveAll(tmp)
		}
	}
	root, _ = filepath.Abs(root)
	fmt.Fprintf(out, "deploykit quickstart under %s (services: %s)\n", root, mode)
	appDir := filepath.Join(root, "app")
	if err := writeApp(appDir); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := instance.Open(ctx, instance.Options{
		Root:        root,
		Logger:      logger,
		DatabaseURL: cfg.dbURL,
		Services:    cfg.services,
		Events: func(e instance.Event) {
			if e.Kind == instance.EventStepDone {
				fmt.Fprintf(out, "      %-9s %-8s %s\n", e.Instance, e.Step, e.Elapsed.Round(time.Millisecond))
			}
		},
	})
	if err != nil {
		return err
	}
	d := &demo{out: out, m: m, start: begin}
	created := []string{}
	if !keep {
		defer func() {
			cerr := d.step("clean up: remove both instances, stop the embedded cluster", func() (string, error) {
				var errs []error
				for _, n := range created {
					errs = append(errs, m.Remove(context.WithoutCancel(ctx), n, instance.RemoveOptions{DeleteBackups: true}))
				}
				errs = append(errs, m.Shutdown(context.WithoutCancel(ctx)))
				return "", errors.Join(errs...)
			})
			if err == nil {
				err = cerr
			}
		}()
	}

	spec, err := instance.LoadSpec(filepath.Join(appDir, "app.toml"))
	if err != nil {
		return err
	}
	for _, name := range []string{production, staging} {
		name := name
		if err := d.step("create "+name, func() (string, error) {
			st, err := m.Create(ctx, name, spec)
			if err != nil {
				return "", err
			}
			created = append(created, name)
			return fmt.Sprintf("release %s, web on 127.0.0.1:%d, user %s, database %s", st.Current, st.Ports["web"], st.User, st.Database), nil
		}); err != nil {
			return err
		}
	}
	url := func(name string) (string, error) {
		st, err := m.Status(ctx, name)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("http://127.0.0.1:%d/", st.Ports["web"]), nil
	}
	get := func(name string) (string, error) {
		u, err := url(name)
		if err != nil {
			return "", err
		}
		resp, err := http.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
		}
		return fmt.Sprintf("GET %s → %s", u, strings.TrimSpace(string(b))), err
	}
	if err := d.step("both instances answer HTTP", func() (string, error) {
		a, err := get(production)
		if err != nil {
			return "", err
		}
		b, err := get(staging)
		return a + "\n" + b, err
	}); err != nil {
		return err
	}
	if err := d.step("write data to production", func() (string, error) {
		u, err := url(production)
		if err != nil {
			return "", err
		}
		resp, err := http.Post(u, "text/plain", strings.NewReader("written to "+production+" at "+time.Now().Format(time.RFC3339)))
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return "", fmt.Errorf("POST %s: %s", u, resp.Status)
		}
		return get(production)
	}); err != nil {
		return err
	}
	var backupPath string
	if err := d.step("back up production", func() (string, error) {
		res, err := m.Backup(ctx, production, "")
		if err != nil {
			return "", err
		}
		backupPath = res.Path
		return fmt.Sprintf("%s (%d tables, %d rows, %d files)", res.Path, res.Tables, res.Rows, res.Files), nil
	}); err != nil {
		return err
	}
	if err := d.step("restore production's backup into staging", func() (string, error) {
		if err := m.Restore(ctx, staging, backupPath, instance.RestoreOptions{Force: true}); err != nil {
			return "", err
		}
		s, err := get(staging)
		if err == nil && !strings.Contains(s, "written to "+production) {
			err = fmt.Errorf("staging does not show production's data: %s", s)
		}
		return s, err
	}); err != nil {
		return err
	}
	if err := d.step("hotfix staging: demoapp==1.0.1, nothing else moves", func() (string, error) {
		st, err := m.Hotfix(ctx, staging, []string{"demoapp==1.0.1"})
		if err != nil {
			return "", err
		}
		s, err := get(staging)
		if err == nil && !strings.Contains(s, `"version": "1.0.1"`) {
			err = fmt.Errorf("staging does not run 1.0.1: %s", s)
		}
		return fmt.Sprintf("release %s\n%s", st.Current, s), err
	}); err != nil {
		return err
	}
	if err := d.step("roll staging back", func() (string, error) {
		st, err := m.Rollback(ctx, staging, "")
		if err != nil {
			return "", err
		}
		s, err := get(staging)
		if err == nil && !strings.Contains(s, `"version": "1.0.0"`) {
			err = fmt.Errorf("staging does not run 1.0.0 again: %s", s)
		}
		return fmt.Sprintf("release %s\n%s", st.Current, s), err
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "all steps passed in %s\n", time.Since(begin).Round(time.Millisecond))
	if keep {
		pu, _ := url(production)
		su, _ := url(staging)
		fmt.Fprintf(out, "left running: production %s, staging %s\n  deploykit --root %s status %s\n", pu, su, root, production)
	}
	return nil
}

// writeApp writes the demo application's spec, requirements file,
// migration and wheels (1.0.0, the hot fix 1.0.1, and its dependency).
func writeApp(dir string) error {
	wheels := filepath.Join(dir, "wheels")
	for _, d := range []string{wheels, filepath.Join(dir, "migrations")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	app, err := treeFiles(sources, "demoapp/demoapp", "demoapp")
	if err != nil {
		return err
	}
	for _, version := range []string{"1.0.0", "1.0.1"} {
		files := map[string][]byte{}
		for k, v := range app {
			files[k] = v
		}
		files["demoapp/__init__.py"] = []byte(strings.Replace(string(app["demoapp/__init__.py"]), `"1.0.0"`, `"`+version+`"`, 1))
		if _, err := buildWheel(wheels, wheelSpec{
			Name: "demoapp", Version: version, Summary: "deploykit's quickstart demo",
			Requires: []string{"greeting>=1.0"},
			Files:    files,
			Scripts:  map[string]string{"demoapp": "demoapp.server:main", "demoapp-migrate": "demoapp.migrate:main"},
		}); err != nil {
			return err
		}
	}
	greet, err := treeFiles(sources, "demoapp/greeting", "")
	if err != nil {
		return err
	}
	if _, err := buildWheel(wheels, wheelSpec{Name: "greeting", Version: "1.0.0", Summary: "a dependency", Files: greet}); err != nil {
		return err
	}
	for name, content := range map[string]string{
		"app.toml":                  appTOML,
		"requirements.txt":          "--no-index\n--find-links " + wheels + "\ndemoapp==1.0.0\n",
		"migrations/0001_notes.sql": "CREATE TABLE notes (\n    id serial PRIMARY KEY,\n    body text NOT NULL,\n    created timestamptz NOT NULL DEFAULT now()\n);\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const appTOML = `# The quickstart's demo application.
name = "demoapp"
python = ">=3.8"
requirements = ["requirements.txt"]

[env]
DEMO_GREETING = "deploykit quickstart"

[database]
migrations = "migrations"

[hooks]
migrate = ["demoapp-migrate"]

[services.web]
command = ["demoapp"]
listen = true
health = "/health"
`
