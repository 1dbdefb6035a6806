package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Swapping a restore in, and undoing it.
//
// A restore replaces two kinds of target, its directories and its
// database, and no single system call replaces both. So the swap is made
// of steps that can each be undone, and a restore's ID (RestoreOptions.ID,
// which a caller journals before it starts) names everything the restore
// makes, for Undo to find after a crash:
//
//   - Each directory is staged as .NAME.dk-restore-ID beside its target.
//     Once complete it is renamed .NAME.dk-swap-ID-INO, INO being its own
//     inode number, then exchanged with the target (renameat2
//     RENAME_EXCHANGE; a target that did not exist is made empty first, so
//     there is always something to exchange). After the exchange the
//     target has inode INO and the .dk-swap- path holds the replaced
//     content; before it, the other way round. Whether the exchange
//     happened is thus read from the target's inode, with no window where
//     a name says otherwise.
//   - Then the database: in one transaction, NAME is renamed
//     NAME_dkr_ID_old and the loaded NAME_dkr_ID renamed NAME. Whether the
//     swap happened is whether NAME_dkr_ID_old exists.
//
// Without KeepReplaced the replaced directories and database are removed
// at once. With it they stay until DropReplaced, and until then Undo can
// put every target back as it was: the caller's journal decides which of
// the two a crash gets (instance restores roll back unless the restore
// was journaled as done).

// NewRestoreID returns a new random restore ID (RestoreOptions.ID).
func NewRestoreID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// validRestoreID reports whether id can name a restore's temporaries.
func validRestoreID(id string) bool {
	return len(id) == 8 && strings.Trim(id, "0123456789abcdef") == ""
}

func stagingPath(target, id string) string {
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".dk-restore-"+id)
}

// swapPath is where restore id keeps target's staged, then replaced,
// content: named by the staged directory's inode number, ino.
func swapPath(target, id, ino string) string {
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".dk-swap-"+id+"-"+ino)
}

// swapGlob matches the .dk-swap- paths of target: of restore id, or of
// any restore when id is "*".
func swapGlob(target, id string) string { return swapPath(target, id, "*") }

// swapInode is the inode number a .dk-swap- path names.
func swapInode(p string) (uint64, bool) {
	i := strings.LastIndexByte(p, '-')
	n, err := strconv.ParseUint(p[i+1:], 10, 64)
	return n, err == nil
}

func inodeOf(p string) (uint64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

// exchange puts every staged directory in place of its target, keeping
// the replaced content at the .dk-swap- path (sd.staging from then on).
// If one fails, those exchanged are exchanged back.
func (x *extractor) exchange(onEvent func(Event)) error {
	for _, sd := range x.order {
		if err := x.exchangeOne(sd); err != nil {
			return errors.Join(fmt.Errorf("backup: replacing %s: %w", sd.target, err), x.unexchange())
		}
		emit(onEvent, Event{Kind: "swap", Path: sd.target})
	}
	return nil
}

func (x *extractor) exchangeOne(sd *stagedDir) error {
	if err := os.Mkdir(sd.target, 0o700); err == nil {
		if err := x.chown(sd.target); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrExist) {
		return err
	}
	ino, err := inodeOf(sd.staging)
	if err != nil {
		return err
	}
	named := swapPath(sd.target, x.id, strconv.FormatUint(ino, 10))
	if err := os.Rename(sd.staging, named); err != nil {
		return err
	}
	sd.staging = named
	if err := swapDir(named, sd.target); err != nil {
		return err
	}
	sd.exchanged = true
	return nil
}

// unexchange exchanges back what exchange put in place: the restore
// failed after it (the database could not be swapped in).
func (x *extractor) unexchange() error {
	var errs []error
	for _, sd := range x.order {
		if sd.exchanged {
			if err := swapDir(sd.staging, sd.target); err != nil {
				errs = append(errs, fmt.Errorf("backup: putting back %s: %w", sd.target, err))
				continue
			}
			sd.exchanged = false
		}
	}
	return errors.Join(errs...)
}

// removeReplaced removes the replaced content of the exchanged
// directories.
func (x *extractor) removeReplaced() error {
	var errs []error
	for _, sd := range x.order {
		if sd.exchanged {
			if err := removeAll(sd.staging); err != nil {
				errs = append(errs, err)
			}
			sd.staging, sd.exchanged = "", false
		}
	}
	return errors.Join(errs...)
}

// Undo puts back what the restore with ID id (RestoreOptions.ID, with
// KeepReplaced) replaced in db and dirs, and removes what it made. It is
// for a restore that was interrupted (its process killed) before its
// caller recorded it as done: for a restore that finished, the replaced
// data is DropReplaced's to drop, and Undo would put it back.
//
// Whatever point the restore reached, afterwards db.Name is the database
// it replaced and each directory the one it replaced (an empty directory
// where there was none), and no temporary database or staging directory
// of id is left. Undo is idempotent: interrupted itself, it is run again.
// db may be nil (no database restored).
func Undo(ctx context.Context, id string, db *Database, dirs map[string]string) error {
	if !validRestoreID(id) {
		return fmt.Errorf("backup: undo: restore ID %q is not 8 hex digits", id)
	}
	var errs []error
	for _, target := range dirs {
		if err := undoDir(target, id); err != nil {
			errs = append(errs, fmt.Errorf("backup: undoing the restore of %s: %w", target, err))
		}
	}
	if db != nil {
		if err := undoDatabase(ctx, id, db); err != nil {
			errs = append(errs, fmt.Errorf("backup: undoing the restore of database %s: %w", db.Name, err))
		}
	}
	return errors.Join(errs...)
}

// DropReplaced removes what restores into db and dirs replaced and left
// behind (RestoreOptions.KeepReplaced, or a removal that failed): the
// databases named db.Name's prefix, 8 hex digits and "_old" (only names
// this package makes), and each directory's .dk-swap- paths. db may be
// nil; db.ConnString connects as the admin.
func DropReplaced(ctx context.Context, db *Database, dirs map[string]string) error {
	var errs []error
	for _, target := range dirs {
		swaps, _ := filepath.Glob(swapGlob(target, "*"))
		for _, p := range swaps {
			if err := removeAll(p); err != nil {
				errs = append(errs, fmt.Errorf("backup: removing the replaced %s: %w", target, err))
			}
		}
	}
	if db != nil {
		conn, err := maintConn(ctx, db)
		if err == nil {
			err = dropLeftBehind(ctx, conn, tempPrefix(db.Name), func(rest string) bool {
				return strings.HasSuffix(rest, "_old")
			}, nil)
			conn.Close(context.Background())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("backup: dropping the replaced databases of %s: %w", db.Name, err))
		}
	}
	return errors.Join(errs...)
}

func undoDir(target, id string) error {
	swaps, err := filepath.Glob(swapGlob(target, id))
	if err != nil {
		return err
	}
	for _, p := range swaps {
		ino, ok := swapInode(p)
		if !ok {
			continue
		}
		if cur, err := inodeOf(target); err == nil && cur == ino {
			if err := swapDir(p, target); err != nil {
				return err
			}
		}
		if err := removeAll(p); err != nil {
			return err
		}
	}
	return removeAll(stagingPath(target, id))
}

// maintConn connects as db's admin to the database to administer db
// from.
func maintConn(ctx context.Context, db *Database) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(db.ConnString)
	if err != nil {
		return nil, err
	}
	return connect(ctx, db.ConnString, maintDatabase(cfg, db.Name))
}

func undoDatabase(ctx context.Context, id string, db *Database) error {
	conn, err := maintConn(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	tmp := tempPrefix(db.Name) + id
	old := tmp + "_old"
	var swapped, current bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1), EXISTS (SELECT 1 FROM pg_database WHERE datname = $2)`,
		old, db.Name).Scan(&swapped, &current); err != nil {
		return err
	}
	if swapped {
		// The restored database goes back to its temporary name (to be
		// dropped below) and the replaced one to its own, in one
		// transaction; renaming needs the databases free of sessions.
		err := renameFree(ctx, conn, []string{db.Name, old}, func(tx pgx.Tx) error {
			if current {
				if _, err := tx.Exec(ctx, "ALTER DATABASE "+ident(db.Name)+" RENAME TO "+ident(tmp)); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "ALTER DATABASE "+ident(old)+" RENAME TO "+ident(db.Name))
			return err
		})
		if err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(tmp)+" WITH (FORCE)")
	return err
}

// renameFree runs renames in one transaction once the databases named
// have no sessions: their sessions are ended first, and the transaction
// is tried again (ten times, backing off) if one connected meanwhile.
func renameFree(ctx context.Context, conn *pgx.Conn, free []string, renames func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()", free); err != nil {
			return err
		}
		if err = pgx.BeginFunc(ctx, conn, renames); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return err
}
