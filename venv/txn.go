package venv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/deploykit/deploykit/internal/flock"
)

// A transaction changes a venv so that it ends either as it was or as
// asked, even if the process is killed:
//
//  1. a directory DIR/.deploykit-txn-* is made and journal.json written
//     into it (by rename), listing every file the transaction will create
//     and every existing file it will move away (stash/N);
//  2. the files to remove or replace are renamed into stash/;
//  3. the new files are placed (linked from the cache, or written);
//  4. commit: journal.json is removed, then the directory (and with it
//     the stashed old files).
//
// Rolling back (on error, or by the next operation after a kill, which
// finds the directory with its journal) removes the created files and
// renames the stashed ones back. Because every stash rename happens before
// any placement, a created path with a stash entry but no stashed file
// was never touched. Operations on one venv are serialized by flock(2) on
// its directory. Durability against power loss is not attempted (no
// fsync per file); atomicity against process death is.

type journal struct {
	Created []string      `json:"created"`
	Stashed []stashRecord `json:"stashed"`
}

type stashRecord struct {
	Path  string `json:"path"`
	Stash string `json:"stash"`
}

// testHookPlaced, when set (tests only), runs after each placed file.
var testHookPlaced func(n int)

func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := flock.File(f, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func (v *Venv) runTxn(ctx context.Context, c *Cache, places []placement, removes []string, jobs int, log *slog.Logger) (err error) {
	if len(places) == 0 && len(removes) == 0 {
		return nil
	}
	var j journal
	stashOf := map[string]string{}
	stash := func(p string) {
		if _, ok := stashOf[p]; ok {
			return
		}
		s := strconv.Itoa(len(j.Stashed))
		stashOf[p] = s
		j.Stashed = append(j.Stashed, stashRecord{Path: p, Stash: s})
	}
	for _, p := range removes {
		if _, err := os.Lstat(p); err == nil {
			stash(p)
		}
	}
	// What is already there comes from one listing per existing
	// directory, not a stat per file: on a fresh venv nearly every
	// destination is new, and each probe would be a failed lookup.
	scan := newDirScan(v.Dir, func(p string) bool { _, ok := stashOf[p]; return ok })
	for _, pl := range places {
		j.Created = append(j.Created, pl.dest)
		typ, exists, err := scan.entry(pl.dest)
		if err != nil {
			return err
		}
		if exists {
			if typ.IsDir() {
				return fmt.Errorf("%s: a directory is in the way of a file", pl.dest)
			}
			stash(pl.dest)
		}
	}
	dir, err := os.MkdirTemp(v.Dir, ".deploykit-txn-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if rerr := v.rollback(dir, &j); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	b, err := json.Marshal(&j)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "journal.tmp"), b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, "journal.tmp"), filepath.Join(dir, "journal.json")); err != nil {
		return err
	}
	if len(j.Stashed) > 0 {
		if err := os.Mkdir(filepath.Join(dir, "stash"), 0o700); err != nil {
			return err
		}
		for _, s := range j.Stashed {
			if err := os.Rename(s.Path, filepath.Join(dir, "stash", s.Stash)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := v.placeAll(ctx, c, places, scan, jobs); err != nil {
		return err
	}
	// Commit.
	if err := os.Remove(filepath.Join(dir, "journal.json")); err != nil {
		return err
	}
	if err := removeTree(dir); err != nil {
		log.Warn("removing a committed transaction directory", "dir", dir, "err", err)
	}
	var gone []string
	for _, s := range j.Stashed {
		gone = append(gone, s.Path)
	}
	v.pruneEmptyDirs(gone)
	return nil
}

// rollback undoes a transaction from its journal.
func (v *Venv) rollback(dir string, j *journal) error {
	stashed := map[string]string{}
	for _, s := range j.Stashed {
		stashed[s.Path] = filepath.Join(dir, "stash", s.Stash)
	}
	var errs []error
	restored := map[string]bool{}
	for i := len(j.Created) - 1; i >= 0; i-- {
		p := j.Created[i]
		if s, ok := stashed[p]; ok {
			if _, err := os.Lstat(s); err == nil {
				if err := os.Rename(s, p); err != nil {
					errs = append(errs, err)
				}
			}
			// No stashed file: the original was never moved, and nothing
			// was placed over it.
			restored[p] = true
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, s := range j.Stashed {
		if restored[s.Path] {
			continue
		}
		src := filepath.Join(dir, "stash", s.Stash)
		if _, err := os.Lstat(src); err != nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o777); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(src, s.Path); err != nil {
			errs = append(errs, err)
		}
	}
	v.pruneEmptyDirs(j.Created)
	if len(errs) == 0 {
		if err := removeTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recover rolls back transactions a killed process left in the venv.
func (v *Venv) recover(log *slog.Logger) error {
	dirs, _ := filepath.Glob(filepath.Join(v.Dir, ".deploykit-txn-*"))
	caches, _ := filepath.Glob(filepath.Join(v.Dir, ".deploykit-cache-*"))
	for _, c := range caches {
		removeTree(c)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "journal.json"))
		if errors.Is(err, fs.ErrNotExist) {
			// Killed before the journal (nothing moved) or after the
			// commit (nothing to undo).
			removeTree(dir)
			continue
		}
		if err != nil {
			return err
		}
		var j journal
		if err := json.Unmarshal(b, &j); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		log.Warn("rolling back an interrupted transaction", "venv", v.Dir, "txn", dir, "files", len(j.Created))
		if err := v.rollback(dir, &j); err != nil {
			return err
		}
	}
	return nil
}

// pruneEmptyDirs removes directories left empty by removed files, up to
// (not including) the venv's scheme directories.
func (v *Venv) pruneEmptyDirs(paths []string) {
	keep := func(d string) bool {
		if d == v.Dir || !strings.HasPrefix(d, v.Dir+string(filepath.Separator)) {
			return true
		}
		for _, root := range []string{v.Purelib, v.Platlib, v.Scripts, filepath.Join(v.Dir, "include")} {
			if root == d || strings.HasPrefix(root, d+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		dirs[filepath.Dir(p)] = true
	}
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
	}
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	for _, d := range list {
		for !keep(d) {
			if err := syscall.Rmdir(d); err != nil {
				break
			}
			d = filepath.Dir(d)
		}
	}
}

// Recover rolls back any operation on the venv that a killed process left
// half done (Install, Uninstall and Sync do this first themselves).
func (v *Venv) Recover(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unlock, err := lockDir(v.Dir)
	if err != nil {
		return &VenvError{Dir: v.Dir, Op: "recover", Err: err}
	}
	defer unlock()
	if err := v.recover(log); err != nil {
		return &VenvError{Dir: v.Dir, Op: "recover", Err: err}
	}
	return nil
}
