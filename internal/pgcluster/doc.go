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
// # Settings
//
// PostgreSQL's defaults suit a small shared machine of long ago: 128 MB of
// shared buffers, a checkpoint every 5 minutes or 1 GB of WAL, WAL written
// for replicas nobody runs. deploykit.conf also holds settings sized for
// the host (Tuning, HostOf: memory, the cgroup's limit if lower, and the
// size of the file system) and for bulk loads, such as a restore:
//
//	shared_buffers        an eighth of memory, 128MB to 4GB: the instances' applications share the host
//	effective_cache_size  half of memory (the planner's estimate of the OS cache)
//	maintenance_work_mem  a thirty-second of memory, 64MB to 1GB: index builds and VACUUM sort in memory
//	wal_level = minimal   nothing here replicates or archives WAL; a table created or emptied
//	max_wal_senders = 0   in the transaction that fills it writes no WAL for its rows (COPY,
//	                      a restore: backup's lane mode), and index builds write none either
//	max_wal_size          a thirty-second of the disk, 1GB to 4GB, and min_wal_size a quarter of it:
//	                      a bulk load checkpoints by size, not every few hundred megabytes
//	checkpoint_timeout    15min, and checkpoint_completion_target 0.9: fewer checkpoints, so
//	                      fewer full-page images in the WAL after each
//
// On a 24 GB, 250 GB host that is shared_buffers = 3GB, maintenance_work_mem =
// 768MB, max_wal_size = 4GB. The cost of wal_level = minimal: no streaming
// replica, pg_basebackup or point-in-time recovery from this cluster
// (deploykit's backups are logical and do not need them).
//
// The administrator's settings win. A parameter set in postgresql.conf
// (other than the lines initdb writes there) or with ALTER SYSTEM
// (postgresql.auto.conf) is left out of deploykit.conf, and so are
// wal_level and max_wal_senders when the administrator set up replication
// or archiving (wal_level, max_wal_senders, archive_mode, archive_command
// or archive_library set), or the cluster has replication slots or is a
// standby: a server at wal_level = minimal would refuse to start. Options.Settings
// override the tuning too (the tests' clusters shrink shared_buffers).
//
// The settings are chosen at Init and written again by every Init and
// Start, so a cluster made by an older deploykit gets them at its next
// start; Reconfigure reloads a running server, which applies most of
// them at once, and names those that wait for a restart (shared_buffers,
// wal_level, max_wal_senders), which the caller makes once (package
// instance does, through the service controller running the server).
//
// Start is idempotent: a running cluster is left alone, and a postmaster.pid
// left by a crash whose PID now belongs to an unrelated process (PostgreSQL
// itself only recognises a dead PID) is removed before starting.
package pgcluster
