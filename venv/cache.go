package venv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/requirements"
)

// Cache is a content-addressed store of unpacked wheels (and their
// byte-compiled modules) shared by every venv on the host. Its layout
// under the directory (ROOT/cache):
//
//	wheels/SHA256/entry.json   the manifest, written last
//	wheels/SHA256/files/...    the wheel's members, verified against RECORD
//	pyc/SHA256-TAG-MAGIC-MODE/ the same for .pyc files, per interpreter
//	refs/SHA256/KEY            one per venv dist-info linking the entry
//	digests/KEY                sha256 of a wheel file, keyed by its stat
//	tmp/                       entries being built (removed by Prune)
//	interpreters/              cached interpreter facts
//	lock                       shared by installs, exclusive for Prune
//
// An entry is built in tmp/, verified, made read-only (files 0444 or 0555,
// directories 0555) and renamed into place: it exists completely or not at
// all, so a killed install never leaves a corrupt entry, and two processes
// filling the same entry both succeed (the loser of the rename uses the
// winner's). Entries are never modified after the rename. Files are linked
// into venvs by reflink, else hard link, else copy — chosen per pair of
// filesystems, falling back on error — and the installer only ever
// replaces files, never opens them for writing, so a venv cannot write
// through to the cache, and one instance user cannot alter what another
// runs (the cache belongs to the user who installs, root for instances).
type Cache struct {
	dir     string
	private bool // a throwaway per-install cache: files are moved out, not linked
	log     *slog.Logger

	mu       sync.Mutex
	methods  map[[2]uint64]linkMethod
	inflight map[string]*flight
	force    linkMethod // tests: force a method
}

type flight struct {
	done chan struct{}
	err  error
}

// CacheOptions controls OpenCache.
type CacheOptions struct {
	Logger *slog.Logger
}

// OpenCache opens (creating it when needed) the cache in dir.
func OpenCache(dir string, opts CacheOptions) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"", "wheels", "pyc", "refs", "tmp"} {
		p := filepath.Join(abs, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("venv: cache %s: %w", abs, err)
		}
		// Instance users must read the cache whatever the umask; chmod
		// fails harmlessly on directories another user made.
		_ = os.Chmod(p, 0o755)
	}
	return newCache(abs, false, opts.Logger), nil
}

func newCache(dir string, private bool, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{dir: dir, private: private, log: log, methods: map[[2]uint64]linkMethod{}, inflight: map[string]*flight{}}
}

// Dir is the cache's root directory.
func (c *Cache) Dir() string { return c.dir }

// lock takes the cache lock: shared for installs, exclusive for Prune.
func (c *Cache) lock(exclusive bool) (func(), error) {
	if c.private {
		return func() {}, nil
	}
	return flock.Lock(filepath.Join(c.dir, "lock"), 0o644, exclusive)
}

// cacheFile is one member of a cached wheel.
type cacheFile struct {
	Path string `json:"path"` // archive path
	Exec bool   `json:"exec,omitempty"`
	Size int64  `json:"size"`
}

// cacheEntry is the manifest of one unpacked wheel.
type cacheEntry struct {
	SHA256        string      `json:"sha256"`
	Filename      string      `json:"filename"`
	Name          string      `json:"name"`    // METADATA Name
	Version       string      `json:"version"` // METADATA Version
	DistInfo      string      `json:"dist_info"`
	RootIsPurelib bool        `json:"root_is_purelib"`
	Tags          []string    `json:"tags"`
	MetadataHash  string      `json:"metadata_sha256"`
	Files         []cacheFile `json:"files"`

	dir string
}

func (e *cacheEntry) file(p string) string {
	return filepath.Join(e.dir, "files", filepath.FromSlash(p))
}

// pycEntry lists the compiled modules of one wheel for one interpreter.
type pycEntry struct {
	// Pyc maps a source's archive path to its .pyc's archive path
	// ("a/b.py" -> "a/__pycache__/b.cpython-311.pyc").
	Pyc map[string]string `json:"pyc"`
	dir string
}

func (e *pycEntry) file(p string) string { return filepath.Join(e.dir, "files", filepath.FromSlash(p)) }

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// once runs fill at most once at a time per key in this process; other
// processes are handled by the rename.
func (c *Cache) once(key string, fill func() error) error {
	c.mu.Lock()
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-f.done
		return f.err
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()
	f.err = fill()
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(f.done)
	return f.err
}

// testHookAfterFile, when set (tests only, through an environment
// variable in a child process), runs after each member is unpacked.
var testHookAfterFile func(n int)

// wheelEntry returns the cache entry of the wheel at wheelPath whose
// sha256 is sum, unpacking and verifying it on a miss. hit reports whether
// it was already there. hashed says sum was just computed from the file
// (not given by a lock), so the file need not be hashed again.
func (c *Cache) wheelEntry(ctx context.Context, wheelPath, sum string, hashed bool) (e *cacheEntry, hit bool, err error) {
	dir := filepath.Join(c.dir, "wheels", sum)
	load := func() (*cacheEntry, error) {
		var e cacheEntry
		if err := readJSON(filepath.Join(dir, "entry.json"), &e); err != nil {
			return nil, err
		}
		if e.SHA256 != sum {
			return nil, fmt.Errorf("%w: %s names sha256 %s", ErrCacheCorrupt, dir, e.SHA256)
		}
		e.dir = dir
		return &e, nil
	}
	if e, err := load(); err == nil {
		return e, true, nil
	}
	err = c.once("w"+sum, func() error {
		if _, err := os.Stat(filepath.Join(dir, "entry.json")); err == nil {
			return nil
		}
		return c.fillWheel(ctx, wheelPath, sum, dir, hashed)
	})
	if err != nil {
		return nil, false, err
	}
	e, err = load()
	return e, false, err
}

func (c *Cache) fillWheel(ctx context.Context, wheelPath, sum, dir string, hashed bool) (err error) {
	if !hashed {
		got, err := filehash.SHA256(wheelPath)
		if err != nil {
			return &WheelError{Wheel: wheelPath, Err: err}
		}
		if got != sum {
			return &WheelError{Wheel: wheelPath, Err: fmt.Errorf("%w: sha256 is %s, expected %s", ErrHashMismatch, got, sum)}
		}
	}
	w, err := openWheel(wheelPath)
	if err != nil {
		return err
	}
	defer w.Close()
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), sum[:16]+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeTree(tmp)
		}
	}()
	e := &cacheEntry{SHA256: sum, Filename: w.Filename, DistInfo: w.DistInfo, RootIsPurelib: w.Meta.RootIsPurelib, Tags: w.Name.Tags}
	buf := make([]byte, 256<<10)
	made := map[string]bool{}
	for i, f := range w.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		dst := filepath.Join(tmp, "files", filepath.FromSlash(f.Name))
		if d := filepath.Dir(dst); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			made[d] = true
		}
		// pip's zip_item_is_executable: a regular-file Unix mode with an x bit.
		m := f.ExternalAttrs >> 16
		exec := m&0o170000 == 0o100000 && m&0o111 != 0
		size, err := c.unpackMember(w, f.Name, f.Open, dst, exec, buf)
		if err != nil {
			return err
		}
		e.Files = append(e.Files, cacheFile{Path: f.Name, Exec: exec, Size: size})
		if testHookAfterFile != nil {
			testHookAfterFile(i)
		}
	}
	meta, err := os.ReadFile(filepath.Join(tmp, "files", filepath.FromSlash(w.DistInfo+"/METADATA")))
	if err != nil {
		return err
	}
	h, err := parseHeaders(meta)
	if err != nil {
		return &WheelError{Wheel: wheelPath, File: w.DistInfo + "/METADATA", Err: fmt.Errorf("%w: %v", ErrBadWheel, err)}
	}
	e.Name, e.Version = headerValue(h, "Name"), headerValue(h, "Version")
	if e.Name == "" || e.Version == "" {
		return &WheelError{Wheel: wheelPath, File: w.DistInfo + "/METADATA", Err: fmt.Errorf("%w: no Name or Version", ErrBadWheel)}
	}
	if requirements.NormalizeName(e.Name) != requirements.NormalizeName(w.Name.Name) {
		return &WheelError{Wheel: wheelPath, File: w.DistInfo + "/METADATA", Err: fmt.Errorf("%w: METADATA names %s, the file name %s", ErrBadWheel, e.Name, w.Name.Name)}
	}
	ms := sha256.Sum256(meta)
	e.MetadataHash = hex.EncodeToString(ms[:])
	return c.commitEntry(tmp, dir, e)
}

// unpackMember streams one member to dst while hashing it, and checks
// digest and size against RECORD.
func (c *Cache) unpackMember(w *wheelArchive, name string, open func() (io.ReadCloser, error), dst string, exec bool, buf []byte) (int64, error) {
	var newHash func() hash.Hash
	var want []byte
	var wantSize string
	if !w.isRecordItself(name) {
		r := w.byPath[name]
		newHash, want, _ = parseRecordHash(r.Hash)
		wantSize = r.Size
	}
	rc, err := open()
	if err != nil {
		return 0, w.err(name, fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	defer rc.Close()
	perm := os.FileMode(0o444)
	if exec {
		perm = 0o555
	}
	if c.private {
		perm = 0o666 &^ umask()
		if exec {
			perm = (0o777 &^ umask()) | 0o111
		}
	}
	// Created with its final mode (a new file may be written whatever its
	// mode); only a umask that strips some of it needs a chmod.
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, err
	}
	var hw io.Writer = out
	var hh hash.Hash
	if newHash != nil {
		hh = newHash()
		hw = io.MultiWriter(out, hh)
	}
	n, err := io.CopyBuffer(hw, rc, buf)
	if err != nil {
		out.Close()
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) {
			return 0, err
		}
		return 0, w.err(name, fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	if perm&umask() != 0 {
		if err := out.Chmod(perm); err != nil {
			out.Close()
			return 0, err
		}
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	if hh != nil && string(hh.Sum(nil)) != string(want) {
		return 0, w.err(name, fmt.Errorf("%w: RECORD says %s, the file is %s", ErrHashMismatch, w.byPath[name].Hash, recordHash(hh.Sum(nil))))
	}
	if wantSize != "" && wantSize != fmt.Sprint(n) {
		return 0, w.err(name, fmt.Errorf("%w: RECORD says %s bytes, the file has %d", ErrHashMismatch, wantSize, n))
	}
	return n, nil
}

// commitEntry writes the manifest, makes the tree read-only and renames
// it into place. Losing the rename to a concurrent filler is success.
func (c *Cache) commitEntry(tmp, dir string, manifest any) error {
	b, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "entry.json"), b, 0o444); err != nil {
		return err
	}
	if !c.private {
		if err := filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || p == tmp {
				return err
			}
			return os.Chmod(p, 0o555)
		}); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := syscall.Rename(tmp, dir); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			removeTree(tmp)
			return nil
		}
		return err
	}
	return nil
}

// removeTree removes a tree whose directories may be read-only.
func removeTree(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// pycMode is how modules are compiled: "hash" (PEP 552 checked-hash
// pycs: reproducible, independent of file times, what pip writes when
// SOURCE_DATE_EPOCH is set) on 3.7+, "ts" (timestamp) on 3.6 which lacks
// them; links keep the source's mtime so timestamp pycs stay valid.
func pycMode(py *Interpreter) string {
	if py.Major() == 3 && py.Minor() < 7 {
		return "ts"
	}
	return "hash"
}

// pycEntry returns the compiled modules of e for py, compiling on a miss.
func (c *Cache) pycEntry(ctx context.Context, e *cacheEntry, py *Interpreter, comp *compiler) (*pycEntry, bool, error) {
	key := e.SHA256 + "-" + py.CacheTag + "-" + py.Magic + "-" + pycMode(py)
	dir := filepath.Join(c.dir, "pyc", key)
	load := func() (*pycEntry, error) {
		var p pycEntry
		if err := readJSON(filepath.Join(dir, "entry.json"), &p); err != nil {
			return nil, err
		}
		p.dir = dir
		return &p, nil
	}
	if p, err := load(); err == nil {
		return p, true, nil
	}
	err := c.once("p"+key, func() error {
		if _, err := os.Stat(filepath.Join(dir, "entry.json")); err == nil {
			return nil
		}
		tmp, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), "pyc-"+e.SHA256[:16]+"-")
		if err != nil {
			return err
		}
		var jobs []compileJob
		for _, f := range e.Files {
			if !strings.HasSuffix(f.Path, ".py") {
				continue
			}
			dirPart, base := path.Split(f.Path)
			pyc := dirPart + "__pycache__/" + strings.TrimSuffix(base, ".py") + "." + py.CacheTag + ".pyc"
			jobs = append(jobs, compileJob{
				key:   f.Path,
				out:   pyc,
				src:   e.file(f.Path),
				cfile: filepath.Join(tmp, "files", filepath.FromSlash(pyc)),
				dfile: f.Path,
			})
		}
		ok, err := comp.compile(ctx, jobs)
		if err != nil {
			removeTree(tmp)
			return err
		}
		p := pycEntry{Pyc: map[string]string{}}
		for i, j := range jobs {
			if ok[i] {
				p.Pyc[j.key] = j.out
				perm := os.FileMode(0o444)
				if c.private {
					perm = 0o666 &^ umask()
				}
				if err := os.Chmod(j.cfile, perm); err != nil {
					removeTree(tmp)
					return err
				}
			}
		}
		if err := c.commitEntry(tmp, dir, &p); err != nil {
			removeTree(tmp)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	p, err := load()
	return p, false, err
}

// refKey names a venv dist-info directory in refs/.
func refKey(distInfoDir string) string {
	s := sha256.Sum256([]byte(distInfoDir))
	return hex.EncodeToString(s[:16])
}

// addRef records that distInfoDir was installed from the entry sum.
func (c *Cache) addRef(sum, distInfoDir string) error {
	if c.private {
		return nil
	}
	d := filepath.Join(c.dir, "refs", sum)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, refKey(distInfoDir)), []byte(distInfoDir+"\n"), 0o644)
}

// installedFrom reports whether the venv's distInfoDir was installed from
// the wheel whose sha256 is sum, as far as the cache knows: true without a
// shared cache (nothing to compare), or when the reference is recorded and
// still live.
func (c *Cache) installedFrom(sum, distInfoDir string) bool {
	if c == nil || c.private {
		return true
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "refs", sum, refKey(distInfoDir)))
	return err == nil && strings.TrimSpace(string(b)) == distInfoDir
}

// PruneStats says what Prune removed and kept.
type PruneStats struct {
	Removed, Kept int   // wheel entries
	Bytes         int64 // size of the removed files
}

// Prune removes the cache entries no venv references any more (a
// reference is live while the venv's dist-info directory exists with the
// METADATA the entry holds), their compiled modules, leftovers of killed
// installs, and the remembered wheel digests. It waits for running installs (the cache lock).
func (c *Cache) Prune(ctx context.Context) (PruneStats, error) {
	var st PruneStats
	unlock, err := c.lock(true)
	if err != nil {
		return st, err
	}
	defer unlock()
	// Digest records are only a shortcut; stale ones would accumulate.
	os.RemoveAll(filepath.Join(c.dir, "digests"))
	tmps, _ := os.ReadDir(filepath.Join(c.dir, "tmp"))
	for _, t := range tmps {
		removeTree(filepath.Join(c.dir, "tmp", t.Name()))
	}
	ents, err := os.ReadDir(filepath.Join(c.dir, "wheels"))
	if err != nil {
		return st, err
	}
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		sum := ent.Name()
		dir := filepath.Join(c.dir, "wheels", sum)
		var e cacheEntry
		if err := readJSON(filepath.Join(dir, "entry.json"), &e); err != nil {
			// Not an entry (a rename never leaves half of one): drop it.
			removeTree(dir)
			continue
		}
		if c.live(sum, e.MetadataHash) {
			st.Kept++
			continue
		}
		for _, f := range e.Files {
			st.Bytes += f.Size
		}
		st.Removed++
		if err := removeTree(dir); err != nil {
			return st, err
		}
		os.RemoveAll(filepath.Join(c.dir, "refs", sum))
		pycs, _ := filepath.Glob(filepath.Join(c.dir, "pyc", sum+"-*"))
		for _, p := range pycs {
			removeTree(p)
		}
	}
	c.log.Info("cache pruned", "dir", c.dir, "removed", st.Removed, "kept", st.Kept, "bytes", st.Bytes)
	return st, nil
}

// live reports whether some venv still holds the entry sum, dropping
// dead references on the way.
func (c *Cache) live(sum, metaHash string) bool {
	rdir := filepath.Join(c.dir, "refs", sum)
	refs, _ := os.ReadDir(rdir)
	alive := false
	for _, r := range refs {
		rp := filepath.Join(rdir, r.Name())
		b, err := os.ReadFile(rp)
		if err != nil {
			continue
		}
		di := strings.TrimSpace(string(b))
		if got, err := filehash.SHA256(filepath.Join(di, "METADATA")); err == nil && got == metaHash {
			alive = true
			continue
		}
		os.Remove(rp)
	}
	return alive
}

// sweepTmp removes tmp leftovers older than an hour (younger ones may
// belong to a running install).
func (c *Cache) sweepTmp() {
	if c.private {
		return
	}
	ents, _ := os.ReadDir(filepath.Join(c.dir, "tmp"))
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			removeTree(filepath.Join(c.dir, "tmp", e.Name()))
		}
	}
}

// CacheProblem is one cache entry that failed Verify.
type CacheProblem struct {
	Entry string // the entry directory
	File  string // the member at fault, or ""
	Err   error
}

// Verify rehashes every cached wheel member against its wheel's RECORD
// (what Install checked when it unpacked it) and reports the entries that
// no longer match — a disk error, or someone who wrote through the
// read-only files. With remove, those entries are deleted, so the next
// install unpacks them again.
func (c *Cache) Verify(ctx context.Context, remove bool) ([]CacheProblem, error) {
	unlock, err := c.lock(remove)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := os.ReadDir(filepath.Join(c.dir, "wheels"))
	if err != nil {
		return nil, err
	}
	var problems []CacheProblem
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return problems, err
		}
		dir := filepath.Join(c.dir, "wheels", ent.Name())
		if p := verifyEntry(dir); p != nil {
			problems = append(problems, *p)
			if remove {
				if err := removeTree(dir); err != nil {
					return problems, err
				}
				pycs, _ := filepath.Glob(filepath.Join(c.dir, "pyc", ent.Name()+"-*"))
				for _, q := range pycs {
					removeTree(q)
				}
			}
		}
	}
	return problems, nil
}

func verifyEntry(dir string) *CacheProblem {
	var e cacheEntry
	if err := readJSON(filepath.Join(dir, "entry.json"), &e); err != nil {
		return &CacheProblem{Entry: dir, Err: fmt.Errorf("%w: %v", ErrCacheCorrupt, err)}
	}
	e.dir = dir
	rec, err := os.ReadFile(e.file(e.DistInfo + "/RECORD"))
	if err != nil {
		return &CacheProblem{Entry: dir, File: e.DistInfo + "/RECORD", Err: err}
	}
	rows, err := parseRecord(rec)
	if err != nil {
		return &CacheProblem{Entry: dir, File: e.DistInfo + "/RECORD", Err: err}
	}
	byPath := map[string]recordRow{}
	for _, r := range rows {
		byPath[r.Path] = r
	}
	for _, f := range e.Files {
		r, ok := byPath[f.Path]
		if !ok {
			continue // RECORD itself
		}
		newHash, want, err := parseRecordHash(r.Hash)
		if err != nil {
			continue
		}
		fh, err := os.Open(e.file(f.Path))
		if err != nil {
			return &CacheProblem{Entry: dir, File: f.Path, Err: err}
		}
		h := newHash()
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return &CacheProblem{Entry: dir, File: f.Path, Err: err}
		}
		if string(h.Sum(nil)) != string(want) {
			return &CacheProblem{Entry: dir, File: f.Path, Err: ErrHashMismatch}
		}
	}
	return nil
}

// wheelDigest returns the hex sha256 of the wheel file at p, remembered
// in digests/ keyed by path, size, inode, mtime and ctime (ctime changes
// on every write and cannot be set back), so a warm install does not
// rehash every wheel.
func (c *Cache) wheelDigest(p string) (string, error) {
	if c.private {
		return filehash.SHA256(p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return "", err
	}
	k := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%d\x00%d.%d\x00%d.%d", abs, st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec))
	rec := filepath.Join(c.dir, "digests", hex.EncodeToString(k[:16]))
	if b, err := os.ReadFile(rec); err == nil && validSHA256Hex(string(b)) == nil {
		return string(b), nil
	}
	sum, err := filehash.SHA256(abs)
	if err != nil {
		return "", err
	}
	// A file changed within the timestamp granularity of its last hashing
	// could keep its key (git's "racily clean" problem): only remember
	// digests of files that have been quiet for a while.
	if time.Since(time.Unix(st.Ctim.Sec, st.Ctim.Nsec)) < 2*time.Second {
		return sum, nil
	}
	if os.MkdirAll(filepath.Dir(rec), 0o755) == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", rec, os.Getpid())
		if os.WriteFile(tmp, []byte(sum), 0o644) == nil {
			os.Rename(tmp, rec)
		}
	}
	return sum, nil
}
