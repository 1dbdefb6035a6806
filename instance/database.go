package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/instance/schema"
	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// dbServer is the PostgreSQL server instances get their databases on:
// Options.DatabaseURL, or the embedded cluster under ROOT/postgres.
type dbServer struct {
	admin    *pgx.ConnConfig
	adminURL string
	cluster  *pgcluster.Cluster // nil for an external server
}

// server returns the database server, creating and starting the embedded
// cluster on first use.
func (m *Manager) server(ctx context.Context) (*dbServer, error) {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if m.db != nil {
		return m.db, nil
	}
	if m.opts.DatabaseURL != "" {
		cfg, err := pgx.ParseConfig(m.opts.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("instance: database URL: %w", err)
		}
		m.db = &dbServer{admin: cfg, adminURL: m.opts.DatabaseURL}
		return m.db, nil
	}
	c, err := pgcluster.New(pgcluster.Options{Dir: m.layout.PostgresDir(), Logger: m.log})
	if err != nil {
		return nil, err
	}
	if err := m.superviseCluster(ctx, c); err != nil {
		return nil, fmt.Errorf("instance: embedded PostgreSQL cluster: %w", err)
	}
	cfg, err := c.AdminConfig()
	if err != nil {
		return nil, err
	}
	m.db = &dbServer{admin: cfg, adminURL: c.AdminURL(), cluster: c}
	return m.db, nil
}

// Shutdown stops the embedded PostgreSQL cluster and the embedded
// RabbitMQ node, if this root has them and they run (and removes them
// from the service controller: their units under systemd, their entries
// in the built-in supervisor). Instances' services are not stopped.
func (m *Manager) Shutdown(ctx context.Context) error {
	return errors.Join(m.shutdownBroker(ctx), m.shutdownDatabase(ctx))
}

func (m *Manager) shutdownDatabase(ctx context.Context) error {
	if m.opts.DatabaseURL != "" {
		return nil
	}
	m.dbMu.Lock()
	m.db = nil
	m.dbMu.Unlock()
	// The supervisor is asked only when it has the cluster: asking would
	// start its daemon.
	if m.ServicesMode() == "systemd" || m.clusterSupervised() {
		ctrl, err := m.controller()
		if err != nil {
			return err
		}
		if err := ctrl.Uninstall(ctx, clusterInstance); err != nil && !errors.Is(err, services.ErrNotFound) {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(m.layout.PostgresDir(), "data")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c, err := pgcluster.New(pgcluster.Options{Dir: m.layout.PostgresDir(), Logger: m.log})
	if err != nil {
		return err
	}
	return c.Stop(ctx)
}

// clusterInstance and clusterComponent name the embedded cluster for the
// service controller; '_' cannot occur in instance names, so it collides
// with none. Under systemd its unit is deploykit-pg_embedded-postgres.service.
const (
	clusterInstance  = "pg_embedded"
	clusterComponent = "postgres"
)

// clusterRefs is what an instance's services need running first: the
// embedded cluster, when its database is there.
func (m *Manager) clusterRefs(st *State) []services.Ref {
	if st.DatabaseServer == "embedded" || (st.DatabaseServer == "" && m.opts.DatabaseURL == "") {
		return []services.Ref{{Instance: clusterInstance, Component: clusterComponent}}
	}
	return nil
}

// superviseCluster runs the embedded cluster's postmaster under the
// service controller, restarted if it dies and, under systemd, started at
// boot before the instances (their units want it and start after it). It
// initialises the cluster first and, once the server accepts
// connections, hardens it as pgcluster's Start does (Cluster.Ready). A
// server already running is left running, with two exceptions: under systemd, a server without its unit was
// started by pg_ctl (as deploykit did before the cluster had a unit), and
// nothing would start it at boot; it is stopped and started again as the
// unit, a restart of a second or two, once. And a server started before
// the cluster's settings changed is restarted once for those that need it
// (clusterReady).
func (m *Manager) superviseCluster(ctx context.Context, c *pgcluster.Cluster) error {
	if err := c.Init(ctx); err != nil {
		return err
	}
	ctrl, err := m.controller()
	if err != nil {
		return err
	}
	if st, err := c.Status(ctx); err == nil && st.Running {
		if m.ServicesMode() != "systemd" || m.clusterSupervised() {
			return m.clusterReady(ctx, c, ctrl, m.clusterSupervised())
		}
		if _, err := ctrl.Status(ctx, clusterInstance); err == nil {
			return m.clusterReady(ctx, c, ctrl, true) // the unit runs it
		} else if !errors.Is(err, services.ErrNotFound) {
			return err
		}
		m.emit(Event{Kind: EventInfo, Instance: "postgres", Message: "moving the embedded PostgreSQL cluster, started outside systemd, under " +
			systemd.ServiceName(clusterInstance, clusterComponent) + ": restarting it"})
		if err := c.Stop(ctx); err != nil {
			return err
		}
	}
	comp, err := clusterUnit(ctx, c)
	if err != nil {
		return err
	}
	under := "the built-in supervisor"
	if m.ServicesMode() == "systemd" {
		under = "systemd (" + systemd.ServiceName(clusterInstance, clusterComponent) + ")"
	}
	m.emit(Event{Kind: EventInfo, Instance: "postgres", Message: "starting the embedded PostgreSQL cluster in " + m.layout.PostgresDir() + " under " + under})
	if err := ctrl.Install(ctx, clusterInstance, []services.Component{comp}); err != nil {
		return err
	}
	if err := ctrl.Start(ctx, clusterInstance); err != nil {
		return err
	}
	return c.Ready(ctx)
}

// clusterSupervised reports whether the built-in supervisor has the
// embedded cluster.
func (m *Manager) clusterSupervised() bool {
	return exists(filepath.Join(m.layout.SupervisorDir(), clusterInstance, "spec.json"))
}

// clusterUnit is the embedded cluster's postmaster as a component of
// the service controller.
func clusterUnit(ctx context.Context, c *pgcluster.Cluster) (services.Component, error) {
	bins, err := c.Binaries(ctx)
	if err != nil {
		return services.Component{}, err
	}
	user, uid, gid, err := c.SystemUser(ctx)
	if err != nil {
		return services.Component{}, err
	}
	comp := services.Component{
		Name:        clusterComponent,
		Instance:    clusterInstance,
		Command:     []string{filepath.Join(bins.Dir, "postgres"), "-D", c.DataDir()},
		Env:         map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "HOME": c.Dir()},
		WorkingDir:  c.Dir(),
		Restart:     services.RestartPolicy{When: services.RestartAlways},
		StopSignal:  syscall.SIGINT, // fast shutdown: SIGTERM would wait for every client
		StopTimeout: time.Minute,
		Ready:       services.Readiness{Kind: services.ReadyTCP, Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())), Timeout: time.Minute},
	}
	if uid >= 0 {
		comp.User, comp.Group, comp.UID, comp.GID = user, user, uid, gid
	}
	// systemd's sandbox: the cluster writes only its own directory (data,
	// socket, lock files), and PostgreSQL's JIT maps code it writes.
	comp.Relax = services.Relaxations{WritablePaths: []string{c.Dir()}, AllowWriteExecute: true}
	return comp, nil
}

// ErrOtherServer is returned when an instance's database is on another
// server than the one the Manager was opened with (a --database-url
// given at create and forgotten later, or the reverse).
var ErrOtherServer = errors.New("the instance's database is on another server")

// serverID names the database server Options select: "embedded", or the
// host and port of Options.DatabaseURL (never its credentials).
func (m *Manager) serverID() (string, error) {
	if m.opts.DatabaseURL == "" {
		return "embedded", nil
	}
	cfg, err := pgx.ParseConfig(m.opts.DatabaseURL)
	if err != nil {
		return "", fmt.Errorf("instance: database URL: %w", err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil
}

// serverFor returns the server holding st's database, refusing a Manager
// opened for another one: the checks happen before anything is started or
// changed, so a remove without the right --database-url cannot leave an
// orphaned database behind.
func (m *Manager) serverFor(ctx context.Context, st *State) (*dbServer, error) {
	id, err := m.serverID()
	if err != nil {
		return nil, err
	}
	if st.DatabaseServer == "" {
		st.DatabaseServer = id
	} else if st.DatabaseServer != id {
		return nil, fmt.Errorf("instance %s: %w: it is on %s, this command uses %s (pass the --database-url it was created with)", st.Name, ErrOtherServer, st.DatabaseServer, id)
	}
	return m.server(ctx)
}

func (l Layout) passwordFile(name string) string {
	return filepath.Join(l.SecretsDir(name), "db-password")
}

func names(st *State) (account.Names, error) { return account.NamesFor("", st.Name) }

// ensureDatabase provisions the instance's role and database (when the
// spec has one) and writes its DATABASE_URL into the secrets env file.
func (m *Manager) ensureDatabase(ctx context.Context, st *State, spec *Spec) error {
	if spec.Database == nil {
		return nil
	}
	n, err := names(st)
	if err != nil {
		return err
	}
	st.Database, st.Role = n.Database, n.Role
	srv, err := m.serverFor(ctx, st)
	if err != nil {
		return err
	}
	acct, err := m.account(ctx, st)
	if err != nil {
		return err
	}
	res, err := schema.Provision(ctx, srv.admin, schema.Spec{Names: n, SecretsFile: m.layout.passwordFile(st.Name), Owner: acct, Logger: m.log})
	if err != nil {
		return err
	}
	ci, err := m.appConnInfo(srv, acct, n, res.Password)
	if err != nil {
		return err
	}
	return m.setEnv(st.Name, acct, map[string]string{"DATABASE_URL": ci.URL()})
}

// appConnInfo is how the instance's processes reach their database: by
// peer authentication over the embedded cluster's socket when they run as
// their own Unix user, else by password over TCP.
func (m *Manager) appConnInfo(srv *dbServer, acct *account.Account, n account.Names, password string) (schema.ConnInfo, error) {
	peer := srv.cluster != nil && acct.Privileged
	return schema.InstanceConnInfo(srv.admin, n, password, peer)
}

// roleConfig connects as the instance's role (password over TCP): for
// migrations, so what they create is owned by the role.
func (m *Manager) roleConfig(ctx context.Context, st *State) (*pgx.ConnConfig, error) {
	ci, err := m.roleConnInfo(ctx, st)
	if err != nil {
		return nil, err
	}
	return ci.Config()
}

// roleConnInfo is the instance role's login by password over TCP.
func (m *Manager) roleConnInfo(ctx context.Context, st *State) (schema.ConnInfo, error) {
	n, err := names(st)
	if err != nil {
		return schema.ConnInfo{}, err
	}
	srv, err := m.serverFor(ctx, st)
	if err != nil {
		return schema.ConnInfo{}, err
	}
	pw, err := schema.ReadSecret(m.layout.passwordFile(st.Name))
	if err != nil {
		return schema.ConnInfo{}, err
	}
	return schema.InstanceConnInfo(srv.admin, n, pw, false)
}

func (m *Manager) dropDatabase(ctx context.Context, st *State) error {
	if st.Database == "" {
		return nil
	}
	n, err := names(st)
	if err != nil {
		return err
	}
	if m.onEmbedded(st.DatabaseServer, m.opts.DatabaseURL) && never(filepath.Join(m.layout.PostgresDir(), "data", "PG_VERSION")) {
		// No cluster, no database: setting one up to drop nothing would
		// fail as the create that could not set it up did (no
		// PostgreSQL, a full disk), and leave it impossible to undo.
		return removeIfExists(m.layout.passwordFile(st.Name))
	}
	srv, err := m.serverFor(ctx, st)
	if err != nil {
		return err
	}
	if err := schema.Remove(ctx, srv.admin, n, schema.RemoveOptions{Confirm: n.Database, SecretsFile: m.layout.passwordFile(st.Name), Logger: m.log}); err != nil {
		return err
	}
	if !exists(m.layout.EnvFile(st.Name)) {
		return nil
	}
	acct, _ := m.account(ctx, st)
	return m.setEnv(st.Name, acct, map[string]string{"DATABASE_URL": ""})
}

// onEmbedded reports whether a record's server (recorded, "" when not
// yet) is the root's embedded one, given the URL Options name ("" for
// the embedded default).
func (m *Manager) onEmbedded(recorded, optionURL string) bool {
	return optionURL == "" && (recorded == "" || recorded == "embedded")
}

// never reports whether p was never made: it, or a directory above it,
// does not exist (ENOTDIR included). Other errors, such as a denied
// permission, say nothing and report false.
func never(p string) bool {
	_, err := os.Stat(p)
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// databaseUndo is the undo of an upgrade's database step: a database the
// upgrade made (the instance had none before) is dropped again. The
// record goes back to one without a database, and remove drops only what
// the record names, so nothing else would ever drop it.
func (m *Manager) databaseUndo(ctx context.Context, old *State, spec *Spec) error {
	if old.Database != "" || spec.Database == nil {
		return nil
	}
	n, err := names(old)
	if err != nil {
		return err
	}
	gained := *old
	gained.Database, gained.Role = n.Database, n.Role
	return m.dropDatabase(ctx, &gained)
}

// migrate applies the spec's SQL migrations (each in its own transaction)
// and then runs the migrate hook with release id's venv, as the instance.
func (m *Manager) migrate(ctx context.Context, st *State, spec *Spec, id string) error {
	if spec.Database != nil && spec.Database.Migrations != "" {
		dir := m.layout.ReleaseMigrations(st.Name, id)
		migs, err := schema.LoadDir(dir)
		if err != nil {
			return err
		}
		cfg, err := m.roleConfig(ctx, st)
		if err != nil {
			return err
		}
		res, err := schema.Migrate(ctx, cfg, migs, schema.MigrateOptions{Logger: m.log, Progress: func(mg schema.Migration) {
			m.emit(Event{Instance: st.Name, Kind: EventInfo, Step: "migrate", Message: "applying migration " + filepath.Base(mg.File)})
		}})
		if err != nil {
			return err
		}
		m.log.Info("migrations applied", "instance", st.Name, "count", len(res.Applied))
	}
	if len(spec.Hooks.Migrate) == 0 {
		return nil
	}
	cmd, err := m.command(ctx, st, spec, id, spec.Hooks.Migrate)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tail := out.String()
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		return fmt.Errorf("migrate hook %s: %w\n%s", strings.Join(spec.Hooks.Migrate, " "), err, strings.TrimSpace(tail))
	}
	return nil
}

// ReleaseMigrations is the copy of the spec's migrations a release keeps,
// so a rollback or a recovery sees the files the release was built with.
func (l Layout) ReleaseMigrations(name, id string) string {
	return filepath.Join(l.ReleaseDir(name, id), "migrations")
}

// copyMigrations copies the spec's migrations directory into the release.
func copyMigrations(spec *Spec, dst string) error {
	if spec.Database == nil || spec.Database.Migrations == "" {
		return nil
	}
	src := spec.Path(spec.Database.Migrations)
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dbState is kept on the Manager: the embedded cluster is started once.
type dbState struct {
	dbMu sync.Mutex
	db   *dbServer
}
