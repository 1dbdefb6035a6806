// Package pgcluster manages a private PostgreSQL cluster: the embedded
// default database server of deploykit (ROOT/postgres, see DESIGN.md "The
// instance") and, through internal/pgtest, the throwaway cluster of tests.
//
// A cluster lives in one directory, Options.Dir:
//
//	Dir/             0711, owned by the server's system user
//	Dir/data/        PGDATA (initdb), 0700
//	Dir/run/         the Unix socket directory, 0755 so instance users can connect
//	Dir/postgres.log server log (pg_ctl -l), 0600
//	Dir/admin.password the admin role's password for TCP, 0600, owned by the caller
//
// The cluster is initialised with initdb and controlled with pg_ctl, both
// found by FindBinDir (/usr/lib/postgresql/*/bin, pg_config --bindir, PATH;
// the newest wins). PostgreSQL refuses to run as root, so when the caller is
// root the server runs as the "postgres" system user (created when missing);
// otherwise it runs as the caller.
//
// Authentication (pg_hba.conf, written at Init):
//
//	local  all       ADMIN  peer map=deploykit_admin   root, postgres, and the caller map to ADMIN
//	local  sameuser  all    peer                       an OS user reaches the database of its own name (root only)
//	local  all       all    scram-sha-256
//	host   all       all    127.0.0.1/32, ::1/128  scram-sha-256
//
// so per-instance roles named like their Unix users (instance/account) log in
// over the socket without a password, and everything over TCP needs one.
// Passwords are set as SCRAM verifiers computed here (SCRAMVerifier), so the
// clear text never reaches the server or its log.
//
// At every start, CONNECT and TEMPORARY on the databases postgres and
// template1 are revoked from PUBLIC: a role made for an instance reaches
// its own database and no other.
//
// Port and socket directory are kept in data/deploykit.conf, included from
// postgresql.conf. A zero Options.Port picks a free port once, at Init, and
// keeps it; if another process took it meanwhile, Start picks a new one.
//
// Start is idempotent: a running cluster is left alone, and a postmaster.pid
// left by a crash whose PID now belongs to an unrelated process (PostgreSQL
// itself only recognises a dead PID) is removed before starting.
package pgcluster
