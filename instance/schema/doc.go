// Package schema gives each deploykit instance its own PostgreSQL role and
// database on a shared server, and applies the application's versioned SQL
// migrations to it.
//
// # Provisioning
//
// Provision, over an administrator's connection (a role with CREATEROLE and
// CREATEDB, or a superuser), makes sure that for one instance
//
//   - the server is PostgreSQL 12 or newer (MinServerVersion);
//   - a LOGIN role exists (NOSUPERUSER NOCREATEDB NOCREATEROLE
//     NOREPLICATION NOBYPASSRLS, a member of no other role), marked as the
//     instance's by a comment, with a random password kept in the
//     instance's secrets file (mode 0600, written atomically before the role
//     is created, set on the server as a SCRAM verifier, never logged);
//   - a database exists, owned by that role, marked the same way;
//   - CONNECT and TEMPORARY on it are revoked from PUBLIC and granted to
//     the role alone, so no other instance's role can even connect;
//   - its public schema is owned by the role, and (before PostgreSQL 15's
//     new default) PUBLIC may not create in it.
//
// Everything that could conflict — a role of that name that is not the
// instance's (no marker comment, or unexpected attributes or memberships),
// a database of that name owned by another role, an administrator lacking
// privileges — is checked before anything is changed, and reported as an
// error wrapping ErrConflict or ErrAdminPrivileges: nothing is left half
// provisioned. A second Provision changes nothing. Remove drops the
// database and role (terminating their sessions first), only when the
// caller repeats the database name in RemoveOptions.Confirm.
//
// The names come from instance/account (role = database = Unix user), so
// on the embedded cluster an instance's processes log in by peer
// authentication over the Unix socket; other servers are reached over TCP
// with the password (ConnInfo).
//
// # Migrations
//
// A migrations directory holds files named VERSION_NAME.sql (ParseFilename:
// "0001_create_users.sql"; VERSION is decimal, unique by value; files not
// ending in .sql are ignored). Migrate applies the pending ones in version
// order, each in its own transaction together with its row in the
// deploykit_migrations table (version, name, SHA-256 checksum, applied_at),
// so a failing migration leaves neither its changes nor its row. A
// session-level advisory lock serialises concurrent Migrate calls on one
// database: the second waits, then finds nothing left to do. An applied
// migration whose file changed (checksum) or vanished stops Migrate before
// anything is applied. Status reports the state; MigrateOptions.DryRun
// reports what would be applied. A migration must not contain transaction
// control (BEGIN/COMMIT) or statements that cannot run in a transaction.
//
// Application migration hooks (e.g. manage.py migrate) run as the
// instance's Unix user with the instance's environment: RunHook.
package schema
