// Package backup makes, checks and restores an instance's backup: its
// PostgreSQL database, its data directories and the identity of what was
// running (spec, release, lock), in one archive file (".dkb") that can be
// written to any io.Writer and read from any io.Reader.
//
// The container — zstd-compressed tar, a leading manifest, a SHA-256 in
// every member's header, a trailing seal — is specified in package
// backup/archive. This package fills it:
//
//	deploykit/manifest.json   archive.Manifest (instance, spec, release, lock, server version)
//	broker/definitions.json   Options.Broker's definitions, when given (archive format 2);
//	                          Summary.Broker on restore, ReadBrokerFile alone
//	files/NAME/...            each captured directory (Options.Dirs), in lexical order
//	db/catalog.json           tables (name, columns, lane, the names of their indexes,
//	                          constraints and foreign keys), sequence values,
//	                          extensions, grants, the number of lanes
//	db/schema/NNNNNN          pg_dump --format=custom --schema-only, in chunks
//	db/data/T/NNNNNN          rows of table T (index into the catalog) in the table's
//	                          COPY format (catalog "format": "" text, "binary" the
//	                          tuples of COPY binary format without its header and
//	                          trailer), whole rows only, at most ChunkSize bytes each
//	                          (unless one row is larger), pax record DEPLOYKIT.rows
//	deploykit/seal.json
//
// Rules this package adds to the container's (Restore and Check enforce them):
//
//   - db/catalog.json comes before every other db/ member, and all
//     db/schema/ chunks come, in order, before any db/data/ chunk.
//   - A db/data/T chunk names a table of the catalog and carries a
//     non-negative DEPLOYKIT.rows record.
//   - A table's lane is below the catalog's number of lanes (0, and
//     absent, in archives without lanes).
//   - A foreign key references a table of the catalog (its index).
//   - files/NAME members exist only for names listed in the manifest's dirs.
//
// # Database: one snapshot, parallel streams
//
// A backup opens a REPEATABLE READ transaction, locks every table in ACCESS
// SHARE mode (as pg_dump does, so no rewrite can pull rows from under the
// snapshot) and exports its snapshot (pg_export_snapshot). pg_dump dumps the
// schema under that snapshot (--snapshot), and Jobs connections that import
// it (SET TRANSACTION SNAPSHOT) stream table data with COPY TO, large tables
// split into block ranges (ctid ranges, PostgreSQL 14+) so one big table
// uses every connection. The database stays fully usable meanwhile. Each
// table belongs to one of Jobs lanes of about equal size, and the archive
// interleaves the lanes' chunks in proportion to their sizes (lanes.go),
// so that a restore can load every table through one connection.
//
// Restore never touches the target database until everything is in place:
// a fresh database under a temporary name, owned by the target role, gets
// the pre-data schema (pg_restore --no-owner --no-privileges
// --role=OWNER, so the target role owns every object whatever role owned
// it in the source), the rows through parallel COPY FROM, then post-data
// and sequence values. Post-data builds each table's indexes and
// constraints in bins of tables, one per job, largest tables first, side
// by side (postdata.go), then the rest (foreign keys across bins,
// triggers, …) with pg_restore -j.
// Each connection loads the tables of its lanes in one transaction, each
// table emptied (TRUNCATE) by that transaction before its rows come in
// with COPY FREEZE, one COPY per run of a table's chunks (copystream.go): at wal_level = minimal (deploykit's embedded cluster)
// the rows then cost no WAL, and everywhere they arrive frozen, so the
// index builds and the first VACUUM do not rewrite every page
// (freshload.go). Archives from before lanes load any chunk on any
// connection.
// While rows load and indexes build, the new tables have autovacuum off
// (else its VACUUM of a freshly loaded table holds up each index build on
// it for deadlock_timeout); each table's own storage options are put back,
// in their order, before the swap. Only
// after the whole archive verified (seal included) is the old database
// renamed away and the new one renamed in, in one transaction, and the old
// one dropped. The target keeps its own roles and passwords (roles are never
// dumped), its database-level settings and its database ACL. GRANTs on
// tables, views, sequences and schemas to third roles (say, a reporting
// role) are recorded in the catalog and re-applied for the roles that exist
// on the target server (roles are global to a server; missing ones are
// logged and skipped); grants to the source's owner become the target
// owner's by ownership. Column-level and function privileges are not
// carried.
//
// Sequence values are read right after the snapshot is taken; sequences
// are not transactional, so, as with pg_dump, a value may be ahead of the
// rows. Large objects are not carried (ErrLargeObjects).
//
// Tables whose columns are all of built-in types (with binary I/O) travel
// in COPY binary format, the rest in text: binary spares the server the
// parsing of text on restore (integer, timestamp and array columns above
// all), and built-in types' binary forms are stable across PostgreSQL
// versions and architectures; enums, domains, composites and extension
// types carry type OIDs or depend on an extension's version in binary, so
// they stay text.
//
// Why not plain pg_dump -Fc / pg_restore: pg_dump streams every table
// through one connection and compresses with zlib in one process, and
// pg_restore of a stream (no seekable file) runs one job. On the
// generated 1.7 GB database of scripts/bench/backup.sh (2 CPUs), run as
// users run it (the embedded cluster, the instance's role, the CLI), the
// parallel snapshot dump with zstd is about 2.6x faster than pg_dump -Fc
// and its archive about 4% smaller. Restore is about even with
// single-job pg_restore once both have their data on disk: pg_restore
// WAL-logs every row and leaves the table pages to a later checkpoint,
// while a restore here writes almost no WAL (wal_level = minimal) and
// fsyncs its tables before it returns, frozen, so no VACUUM rewrites them
// afterwards. Both CPUs are busy with the server's COPY and index builds,
// which no client can take off them; the README has the figures.
//
// # Files: copy, then verify
//
// Each regular file is copied to a spool (memory for small files, a
// temporary file otherwise) while hashed; afterwards the file is stat'ed
// again: if size, modification or change time, or inode differ, the file
// changed while being read and the copy is retried (Options.Retries); a file
// that never holds still fails the backup rather than being stored torn.
// Options.Quiesce lets the caller pause writers around the capture.
// Restore extracts each directory into a new directory beside the target,
// and swaps it in with one atomic rename (renameat2 RENAME_EXCHANGE)
// before the database swap, which is one transaction; if that fails the
// directories are exchanged back. The replaced content is removed only
// then, or kept for DropReplaced (RestoreOptions.KeepReplaced), until
// which Undo can put every target back after a crash (swapin.go).
//
// # Trust
//
// Hashes prove an archive is intact, not who made it. Its schema is SQL
// that pg_restore runs; give Database.OwnerConnString (a login as the
// target role) and it runs with that role's privileges only, never the
// admin's. Restoring file members never leaves the target directory (see
// the archive rules) and never creates device nodes or set-id files.
//
// Retention (which archives to keep) is package backup/retention.
package backup
