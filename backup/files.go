package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/backup/archive"
)

// capturer copies directories into an archive.
type capturer struct {
	aw   *archive.Writer
	opts *Options
	res  *Result
	mem  bytes.Buffer
}

func (c *capturer) captureDir(ctx context.Context, d Dir) error {
	root := filepath.Clean(d.Path)
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("backup: directory %s: %w", d.Name, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup: %s (%s) is not a directory", root, d.Name)
	}
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := "files/" + d.Name
		if rel != "." {
			name += "/" + filepath.ToSlash(rel)
		}
		info, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while we walk: not part of the backup
				return nil
			}
			return fmt.Errorf("backup: %w", err)
		}
		switch {
		case de.IsDir():
			return c.aw.AddDir(name, info.Mode().Perm(), info.ModTime())
		case de.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if err := c.aw.AddSymlink(name, target, info.ModTime()); err != nil {
				if errors.Is(err, archive.ErrSymlinkEscape) {
					return fmt.Errorf("backup: %s -> %s: %w", p, target, ErrUnsafeSymlink)
				}
				return err
			}
			return nil
		case de.Type().IsRegular():
			return c.captureFile(ctx, p, name)
		default:
			emit(c.opts.OnEvent, Event{Kind: "file-skipped", Path: p})
			logger(c.opts.Logger).Info("backup: skipping special file", "path", p, "mode", de.Type().String())
			return nil
		}
	})
}

// captureFile copies one file to a spool while hashing it, then checks
// the file did not change meanwhile; see the package doc.
func (c *capturer) captureFile(ctx context.Context, p, name string) error {
	var lastErr error
	for attempt := 0; attempt <= c.opts.retries(); attempt++ {
		if attempt > 0 {
			emit(c.opts.OnEvent, Event{Kind: "file-retry", Path: p, Err: lastErr})
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			}
		}
		sp, err := c.copyOnce(p)
		if errors.Is(err, errChanged) {
			lastErr = err
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed before we read it
		}
		if err != nil {
			return fmt.Errorf("backup: %s: %w", p, err)
		}
		err = c.aw.AddFile(name, sp.mode, sp.mtime, sp.size, sp.sum, sp.reader(), nil)
		sp.close()
		if err != nil {
			return err
		}
		c.res.Files++
		c.res.Bytes += sp.size
		return nil
	}
	return fmt.Errorf("backup: %s: %w (%d attempts; last: %v)", p, ErrFileChanged, c.opts.retries()+1, lastErr)
}

var errChanged = errors.New("changed while read")

type spool struct {
	mem   []byte
	file  *os.File
	size  int64
	sum   [32]byte
	mode  fs.FileMode
	mtime time.Time
}

func (s *spool) reader() io.Reader {
	if s.file != nil {
		return s.file
	}
	return bytes.NewReader(s.mem)
}

func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

type fileID struct {
	ino, dev     uint64
	size         int64
	mtime, ctime syscall.Timespec
}

func idOf(fi fs.FileInfo) fileID {
	st := fi.Sys().(*syscall.Stat_t)
	return fileID{ino: st.Ino, dev: uint64(st.Dev), size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

func (c *capturer) copyOnce(p string) (*spool, error) {
	before, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: no longer a regular file", errChanged)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if idOf(opened) != idOf(before) {
		return nil, fmt.Errorf("%w: replaced before it was opened", errChanged)
	}
	sp := &spool{mode: opened.Mode().Perm(), mtime: opened.ModTime()}
	h := sha256.New()
	var dst io.Writer
	if opened.Size() <= memSpoolLimit {
		c.mem.Reset()
		dst = &c.mem
	} else {
		tf, err := os.CreateTemp(c.opts.TempDir, "deploykit-backup-spool-*")
		if err != nil {
			return nil, err
		}
		sp.file = tf
		dst = tf
	}
	// Read one byte more than the size: growth shows up as a longer copy.
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(f, opened.Size()+1))
	if err != nil {
		sp.close()
		return nil, err
	}
	if c.opts.afterRead != nil {
		c.opts.afterRead(p)
	}
	after, err := f.Stat()
	if err != nil {
		sp.close()
		return nil, err
	}
	now, err := os.Lstat(p)
	if err != nil {
		sp.close()
		return nil, fmt.Errorf("%w: %v", errChanged, err)
	}
	if n != opened.Size() || idOf(after) != idOf(opened) || idOf(now) != idOf(opened) {
		sp.close()
		return nil, fmt.Errorf("%w: size %d→%d, read %d bytes", errChanged, opened.Size(), after.Size(), n)
	}
	sp.size = n
	h.Sum(sp.sum[:0])
	if sp.file != nil {
		if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
			sp.close()
			return nil, err
		}
	} else {
		sp.mem = c.mem.Bytes()
	}
	return sp, nil
}

// FileOwner is who restored files belong to.
type FileOwner struct{ UID, GID int }

// stagedDir is one directory being extracted beside its target.
type stagedDir struct {
	name, target string
	// staging is where the directory is extracted; once exchanged with
	// target (swapin.go), where the replaced content is.
	staging   string
	exchanged bool
	dirs      []dirMeta // applied after extraction, deepest first
}

type dirMeta struct {
	path  string
	mode  fs.FileMode
	mtime time.Time
}

// extractor writes files/ members into staging directories.
type extractor struct {
	targets map[string]string // archive dir name -> target path
	id      string            // the restore's ID, in the staging names
	owner   *FileOwner
	staged  map[string]*stagedDir
	order   []*stagedDir
}

func (x *extractor) dirFor(name string) (*stagedDir, string, error) {
	rest := strings.TrimPrefix(name, "files/")
	dname, rel, _ := strings.Cut(rest, "/")
	sd := x.staged[dname]
	if sd == nil {
		return nil, "", fmt.Errorf("backup: member %q: %w: %q is not a restored directory", name, ErrLayout, dname)
	}
	return sd, rel, nil
}

func (x *extractor) member(m *archive.Member, r io.Reader) error {
	dname, _, _ := strings.Cut(strings.TrimPrefix(m.Name, "files/"), "/")
	if _, ok := x.staged[dname]; !ok && m.Name == "files/"+dname {
		target, ok := x.targets[dname]
		if !ok {
			return fmt.Errorf("backup: member %q: %w: no target for directory %q", m.Name, ErrNoTarget, dname)
		}
		sd := &stagedDir{name: dname, target: target}
		if err := cleanStale(target); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		tmp := stagingPath(target, x.id)
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return fmt.Errorf("backup: staging %s: %w", target, err)
		}
		sd.staging = tmp
		x.staged[dname] = sd
		x.order = append(x.order, sd)
		sd.dirs = append(sd.dirs, dirMeta{path: tmp, mode: m.Mode, mtime: m.ModTime})
		return x.chown(tmp)
	}
	sd, rel, err := x.dirFor(m.Name)
	if err != nil {
		return err
	}
	// The archive reader guarantees rel is clean and relative and that
	// every parent was extracted as a real directory.
	p := filepath.Join(sd.staging, filepath.FromSlash(path.Clean(rel)))
	switch m.Type {
	case archive.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		sd.dirs = append(sd.dirs, dirMeta{path: p, mode: m.Mode, mtime: m.ModTime})
	case archive.TypeSymlink:
		if err := os.Symlink(m.Link, p); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	case archive.TypeRegular:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Chmod(m.Mode)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("backup: %s: %w", m.Name, err)
		}
		if err := os.Chtimes(p, m.ModTime, m.ModTime); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return x.chown(p)
}

func (x *extractor) chown(p string) error {
	if x.owner == nil {
		return nil
	}
	if err := os.Lchown(p, x.owner.UID, x.owner.GID); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// finish applies directory modes and times, deepest first.
func (x *extractor) finish() error {
	for _, sd := range x.order {
		for i := len(sd.dirs) - 1; i >= 0; i-- {
			d := sd.dirs[i]
			if err := os.Chmod(d.path, d.mode); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if err := os.Chtimes(d.path, d.mtime, d.mtime); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
		}
	}
	return nil
}

// abort removes staging directories that were not swapped in (an
// exchanged one holds the replaced content).
func (x *extractor) abort() {
	for _, sd := range x.order {
		if sd.staging != "" && !sd.exchanged {
			removeAll(sd.staging)
		}
	}
}

// removeAll removes a tree even if a restored directory mode forbids it.
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// cleanStale removes staging directories left beside target by a restore
// that crashed, and replaced ones left (the caller holds the instance's
// lock, so none is live).
func cleanStale(target string) error {
	m, _ := filepath.Glob(stagingPath(target, "*"))
	swaps, _ := filepath.Glob(swapGlob(target, "*"))
	m = append(m, swaps...)
	for _, p := range m {
		if err := removeAll(p); err != nil {
			return fmt.Errorf("backup: removing stale %s: %w", p, err)
		}
	}
	return nil
}
