package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/pgcluster"
)

// MinServerVersion is the oldest PostgreSQL server supported.
const MinServerVersion = ">= 12.0"

// Sentinel errors; test with errors.Is.
var (
	// ErrConnect: the server could not be reached or refused the login
	// (see *ConnectError).
	ErrConnect = errors.New("schema: cannot connect to PostgreSQL")
	// ErrAuth: the server refused the credentials (wrapped with ErrConnect).
	ErrAuth = errors.New("schema: authentication failed")
	// ErrUnsupportedVersion: the server is older than MinServerVersion.
	ErrUnsupportedVersion = errors.New("schema: unsupported PostgreSQL version")
	// ErrAdminPrivileges: the admin role may not create roles or databases.
	ErrAdminPrivileges = errors.New("schema: admin role lacks CREATEROLE/CREATEDB")
	// ErrConflict: a role or database of the instance's name exists and is
	// not the instance's.
	ErrConflict = errors.New("schema: existing role or database is not the instance's")
	// ErrNotConfirmed: Remove without the confirmation.
	ErrNotConfirmed = errors.New("schema: removal not confirmed")
	// ErrBadSecret: the secrets file holds no usable password.
	ErrBadSecret = errors.New("schema: unusable password in the secrets file")
)

// ConnectError reports a failed connection; Target never holds a password.
type ConnectError struct {
	Target string // user@host:port/database
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("schema: connecting to %s: %v", e.Target, e.Err)
}

func (e *ConnectError) Unwrap() []error {
	errs := []error{ErrConnect, e.Err}
	var pe *pgconn.PgError
	if errors.As(e.Err, &pe) && (pe.Code == "28P01" || pe.Code == "28000") {
		errs = append(errs, ErrAuth)
	}
	return errs
}

func target(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &ConnectError{Target: target(cfg), Err: err}
	}
	return conn, nil
}

// withDatabase copies cfg for another database.
func withDatabase(cfg *pgx.ConnConfig, db string) *pgx.ConnConfig {
	c := cfg.Copy()
	c.Database = db
	return c
}

// Spec says what to provision for one instance.
type Spec struct {
	// Names of the instance (account.NamesFor): Role and Database are used.
	Names account.Names
	// SecretsFile keeps the role's password (created 0600 when missing).
	SecretsFile string
	// Owner, when privileged, gets the secrets file (the instance's
	// processes read it); nil or unprivileged leaves it the caller's.
	Owner *account.Account
	// Logger; nil discards. Passwords are never logged.
	Logger *slog.Logger
}

// Result describes a provisioned instance database.
type Result struct {
	Role, Database string
	Password       string // from the secrets file; keep it out of logs
	ServerVersion  *semver.Version
	Created        bool // the role or the database was created by this call
}

// String omits the password.
func (r *Result) String() string {
	return fmt.Sprintf("role %s, database %s (PostgreSQL %s)", r.Role, r.Database, r.ServerVersion)
}

func marker(names account.Names) string { return "deploykit instance " + names.Instance }

func quote(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CheckServer checks the server version against MinServerVersion.
func CheckServer(ctx context.Context, conn *pgx.Conn) (*semver.Version, error) {
	v, err := pgcluster.ServerVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	c, _ := semver.NewConstraint(MinServerVersion)
	if !c.Check(v) {
		return v, fmt.Errorf("%w: server is %s, need %s", ErrUnsupportedVersion, v, MinServerVersion)
	}
	return v, nil
}

type roleState struct {
	exists                                                  bool
	super, login, createrole, createdb, replication, bypass bool
	comment                                                 string
	memberships                                             int
}

func readRole(ctx context.Context, conn *pgx.Conn, role string) (roleState, error) {
	var st roleState
	var comment *string
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
		shobj_description(oid, 'pg_authid'),
		(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
		FROM pg_roles r WHERE rolname = $1`, role).Scan(
		&st.super, &st.login, &st.createrole, &st.createdb, &st.replication, &st.bypass, &comment, &st.memberships)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("schema: reading role %s: %w", role, err)
	}
	st.exists = true
	if comment != nil {
		st.comment = *comment
	}
	return st, nil
}

// checkRole explains why an existing role is not the instance's, or nil.
func checkRole(st roleState, names account.Names) error {
	if !st.exists {
		return nil
	}
	var why []string
	if st.comment != marker(names) {
		why = append(why, fmt.Sprintf("its comment is %q, not %q", st.comment, marker(names)))
	}
	if st.super {
		why = append(why, "it is a superuser")
	}
	if st.createrole || st.createdb || st.replication || st.bypass {
		why = append(why, "it has CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS")
	}
	if st.memberships > 0 {
		why = append(why, fmt.Sprintf("it is a member of %d other role(s)", st.memberships))
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: role %s exists and %s", ErrConflict, names.Role, strings.Join(why, "; "))
}

type dbState struct {
	exists  bool
	owner   string
	comment string
}

func readDatabase(ctx context.Context, conn *pgx.Conn, db string) (dbState, error) {
	var st dbState
	var comment *string
	err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database')
		FROM pg_database WHERE datname = $1`, db).Scan(&st.owner, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("schema: reading database %s: %w", db, err)
	}
	st.exists = true
	if comment != nil {
		st.comment = *comment
	}
	return st, nil
}

func checkDatabase(st dbState, names account.Names) error {
	if st.exists && st.owner != names.Role {
		return fmt.Errorf("%w: database %s exists and is owned by %s, not %s", ErrConflict, names.Database, st.owner, names.Role)
	}
	return nil
}

type adminState struct {
	name                        string
	super, createrole, createdb bool
}

func readAdmin(ctx context.Context, conn *pgx.Conn) (adminState, error) {
	var a adminState
	err := conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`).
		Scan(&a.name, &a.super, &a.createrole, &a.createdb)
	if err != nil {
		return a, fmt.Errorf("schema: reading the admin role: %w", err)
	}
	if !a.super && !(a.createrole && a.createdb) {
		return a, fmt.Errorf("%w: role %s", ErrAdminPrivileges, a.name)
	}
	return a, nil
}

// Provision makes the instance's role and database exist as described in
// the package doc. Conflicts are found before anything changes.
func Provision(ctx context.Context, admin *pgx.ConnConfig, spec Spec) (*Result, error) {
	names := spec.Names
	if err := account.ValidateName(names.Instance); err != nil {
		return nil, err
	}
	if names.Role == "" || names.Database == "" {
		return nil, fmt.Errorf("schema: instance %s: empty role or database name", names.Instance)
	}
	if spec.SecretsFile == "" {
		return nil, errors.New("schema: Spec.SecretsFile is required")
	}
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	version, err := CheckServer(ctx, conn)
	if err != nil {
		return nil, err
	}
	adm, err := readAdmin(ctx, conn)
	if err != nil {
		return nil, err
	}
	role, err := readRole(ctx, conn, names.Role)
	if err != nil {
		return nil, err
	}
	db, err := readDatabase(ctx, conn, names.Database)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(checkRole(role, names), checkDatabase(db, names)); err != nil {
		return nil, err
	}

	// The password is on disk before the role exists: a crash in between
	// leaves a secret without a role (harmless, reused) and never a role
	// whose password nobody knows.
	password, err := ensureSecret(spec.SecretsFile, spec.Owner)
	if err != nil {
		return nil, err
	}
	res := &Result{Role: names.Role, Database: names.Database, Password: password, ServerVersion: version}

	if !role.exists {
		verifier, err := pgcluster.SCRAMVerifier(password)
		if err != nil {
			return nil, err
		}
		log.Info("schema: creating role", "role", names.Role)
		if _, err := conn.Exec(ctx, "CREATE ROLE "+quote(names.Role)+
			" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD "+quoteLiteral(verifier)); err != nil {
			return nil, fmt.Errorf("schema: creating role %s: %w", names.Role, err)
		}
		if _, err := conn.Exec(ctx, "COMMENT ON ROLE "+quote(names.Role)+" IS "+quoteLiteral(marker(names))); err != nil {
			return nil, fmt.Errorf("schema: marking role %s: %w", names.Role, err)
		}
		res.Created = true
	} else {
		if err := syncPassword(ctx, conn, adm, names.Role, password); err != nil {
			return nil, err
		}
		if !role.login {
			if _, err := conn.Exec(ctx, "ALTER ROLE "+quote(names.Role)+" LOGIN"); err != nil {
				return nil, fmt.Errorf("schema: role %s: %w", names.Role, err)
			}
		}
	}
	if !adm.super {
		// CREATE DATABASE … OWNER needs the creator to be able to SET ROLE
		// to the owner (a member of it; PostgreSQL 16 grants that to the
		// creator of a role already).
		var member bool
		if err := conn.QueryRow(ctx, "SELECT pg_has_role(current_user, $1, 'MEMBER')", names.Role).Scan(&member); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		if !member {
			if _, err := conn.Exec(ctx, "GRANT "+quote(names.Role)+" TO "+quote(adm.name)); err != nil {
				return nil, fmt.Errorf("schema: granting %s to %s: %w", names.Role, adm.name, err)
			}
		}
	}
	if !db.exists {
		log.Info("schema: creating database", "database", names.Database)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+quote(names.Database)+" OWNER "+quote(names.Role)+
			" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
			return nil, fmt.Errorf("schema: creating database %s: %w", names.Database, err)
		}
		res.Created = true
	}
	if db.comment != marker(names) {
		if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+quote(names.Database)+" IS "+quoteLiteral(marker(names))); err != nil {
			return nil, fmt.Errorf("schema: marking database %s: %w", names.Database, err)
		}
	}
	for _, q := range []string{
		"REVOKE ALL ON DATABASE " + quote(names.Database) + " FROM PUBLIC",
		"GRANT CONNECT, TEMPORARY ON DATABASE " + quote(names.Database) + " TO " + quote(names.Role),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("schema: %s: %w", q, err)
		}
	}
	if err := securePublicSchema(ctx, admin, names, version); err != nil {
		return nil, err
	}
	return res, nil
}

// securePublicSchema gives the public schema to the instance role. Since
// PostgreSQL 15 PUBLIC may not create in it by default; before, that
// grant is revoked here.
func securePublicSchema(ctx context.Context, admin *pgx.ConnConfig, names account.Names, version *semver.Version) error {
	conn, err := connect(ctx, withDatabase(admin, names.Database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var owner string
	err = conn.QueryRow(ctx, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'").Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // dropped by the application: nothing to secure
	}
	if err != nil {
		return fmt.Errorf("schema: database %s: %w", names.Database, err)
	}
	if owner != names.Role {
		if _, err := conn.Exec(ctx, "ALTER SCHEMA public OWNER TO "+quote(names.Role)); err != nil {
			return fmt.Errorf("schema: database %s: public schema owner: %w", names.Database, err)
		}
	}
	if version.Major() < 15 {
		if _, err := conn.Exec(ctx, "REVOKE CREATE ON SCHEMA public FROM PUBLIC"); err != nil {
			return fmt.Errorf("schema: database %s: %w", names.Database, err)
		}
	}
	return nil
}

// syncPassword sets the role's password to the secret unless the server
// already stores a verifier of it (readable by superusers only): a second
// Provision then changes nothing.
func syncPassword(ctx context.Context, conn *pgx.Conn, adm adminState, role, password string) error {
	if adm.super {
		var stored *string
		if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
			return fmt.Errorf("schema: role %s: %w", role, err)
		}
		if stored != nil && pgcluster.SCRAMVerifierMatches(*stored, password) {
			return nil
		}
	}
	verifier, err := pgcluster.SCRAMVerifier(password)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE "+quote(role)+" PASSWORD "+quoteLiteral(verifier)); err != nil {
		return fmt.Errorf("schema: setting the password of role %s: %w", role, err)
	}
	return nil
}

// ensureSecret returns the password in path, creating it (0600, owned by
// owner when privileged) when the file does not exist.
func ensureSecret(path string, owner *account.Account) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		p := strings.TrimSpace(string(b))
		if len(p) < 16 {
			return "", fmt.Errorf("%w: %s: shorter than 16 characters", ErrBadSecret, path)
		}
		if _, err := pgcluster.SCRAMVerifier(p); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrBadSecret, path, err)
		}
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("schema: %w", err)
	}
	p, err := pgcluster.RandomPassword()
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, []byte(p+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("schema: writing the secrets file: %w", err)
	}
	if owner != nil && owner.Privileged {
		if err := os.Chown(path, owner.UID, owner.GID); err != nil {
			return "", fmt.Errorf("schema: %w", err)
		}
	}
	return p, nil
}

// ReadSecret returns the password kept in a secrets file.
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("schema: %w", err)
	}
	p := strings.TrimSpace(string(b))
	if p == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrBadSecret, path)
	}
	return p, nil
}

// RemoveOptions confirm and direct a removal.
type RemoveOptions struct {
	// Confirm must repeat the database name: dropping a database is not
	// undoable, and this keeps a zero value from ever doing it.
	Confirm string
	// SecretsFile is removed too when set.
	SecretsFile string
	Logger      *slog.Logger
}

// Remove drops the instance's database and role, terminating their
// sessions first. Missing ones are fine; a role or database that is not
// the instance's is refused (ErrConflict).
func Remove(ctx context.Context, admin *pgx.ConnConfig, names account.Names, opts RemoveOptions) error {
	if names.Database == "" || names.Role == "" {
		return fmt.Errorf("schema: instance names %+v: empty role or database", names)
	}
	if opts.Confirm != names.Database {
		return fmt.Errorf("%w: set RemoveOptions.Confirm to %q to drop it", ErrNotConfirmed, names.Database)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	version, err := CheckServer(ctx, conn)
	if err != nil {
		return err
	}
	role, err := readRole(ctx, conn, names.Role)
	if err != nil {
		return err
	}
	db, err := readDatabase(ctx, conn, names.Database)
	if err != nil {
		return err
	}
	if role.exists && role.comment != marker(names) {
		return fmt.Errorf("%w: role %s is not marked as instance %s's; not dropping it", ErrConflict, names.Role, names.Instance)
	}
	if err := checkDatabase(db, names); err != nil {
		return err
	}
	if db.exists {
		log.Info("schema: dropping database", "database", names.Database)
		// No new sessions from the role, then end the running ones.
		if role.exists {
			if _, err := conn.Exec(ctx, "REVOKE CONNECT ON DATABASE "+quote(names.Database)+" FROM "+quote(names.Role)); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
		}
		if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", names.Database); err != nil {
			return fmt.Errorf("schema: terminating sessions of %s: %w", names.Database, err)
		}
		drop := "DROP DATABASE IF EXISTS " + quote(names.Database)
		if version.Major() >= 13 {
			drop += " WITH (FORCE)"
		}
		if _, err := conn.Exec(ctx, drop); err != nil {
			return fmt.Errorf("schema: dropping database %s: %w", names.Database, err)
		}
	}
	if role.exists {
		log.Info("schema: dropping role", "role", names.Role)
		if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", names.Role); err != nil {
			return fmt.Errorf("schema: terminating sessions of %s: %w", names.Role, err)
		}
		// Grants to the role in the admin's database go with it.
		if _, err := conn.Exec(ctx, "DROP OWNED BY "+quote(names.Role)); err != nil {
			return fmt.Errorf("schema: role %s: %w", names.Role, err)
		}
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+quote(names.Role)); err != nil {
			return fmt.Errorf("schema: dropping role %s: %w", names.Role, err)
		}
	}
	if opts.SecretsFile != "" {
		if err := os.Remove(opts.SecretsFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("schema: %w", err)
		}
	}
	return nil
}
