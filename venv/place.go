package venv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Placing a transaction's files costs, on a real disk, mostly the
// directory operations: a warm install of the test wheelhouse puts about
// 9,000 files into 3,000 new directories. It is done with no probing:
//
//   - what already exists comes from one listing of each existing
//     directory on the way (dirScan), not a stat per file — in a fresh
//     venv nearly every lookup would fail;
//   - each missing directory is made once, by one mkdir, before its files
//     and after its parent (no MkdirAll, whose stat-then-mkdir races
//     between workers turned into failed mkdirs);
//   - each file is linked (or written) straight away with O_EXCL
//     semantics: it is known not to be there.
//
// Work is handed out a directory at a time, so one worker fills one
// directory: workers contend less on a directory's lock, and files of one
// directory are placed in the order planned, so when two wheels of one
// transaction ship the same file, the later one wins, as with pip's
// sequential installs.

// dirScan knows, for the directories a transaction writes to, whether
// each exists and what it holds, from one listing of each.
type dirScan struct {
	root string
	dirs map[string]*dirState
	// gone reports paths the transaction moves away before placing
	// anything (removed or replaced files): a directory may take the
	// place of such a file.
	gone func(string) bool
}

type dirState struct {
	exists  bool
	entries map[string]fs.FileMode // name -> type bits (fs.ModeDir, fs.ModeSymlink, 0)
}

func newDirScan(root string, gone func(string) bool) *dirScan {
	return &dirScan{root: filepath.Clean(root), dirs: map[string]*dirState{}, gone: gone}
}

// dir returns what is known about directory d, listing it (and the
// directories above it, up to the scan's root) on first use. A missing
// directory's subdirectories are known to be missing without a lookup.
func (s *dirScan) dir(d string) (*dirState, error) {
	if st, ok := s.dirs[d]; ok {
		return st, nil
	}
	var st *dirState
	var err error
	parent := filepath.Dir(d)
	if d == s.root || parent == d || !strings.HasPrefix(d, s.root+string(filepath.Separator)) {
		st, err = listDir(d)
	} else {
		var ps *dirState
		if ps, err = s.dir(parent); err != nil {
			return nil, err
		}
		typ, ok := ps.entries[filepath.Base(d)]
		switch {
		case !ps.exists || !ok || s.gone(d):
			st = &dirState{}
		case typ.IsDir():
			st, err = listDir(d)
		case typ&fs.ModeSymlink != 0:
			// Followed, as mkdir -p and pip follow it (lib64 -> lib).
			if fi, serr := os.Stat(d); serr == nil && fi.IsDir() {
				st, err = listDir(d)
			} else {
				err = fmt.Errorf("%s: a symbolic link that is not to a directory is in the way of a directory", d)
			}
		default:
			err = fmt.Errorf("%s: a file is in the way of a directory", d)
		}
	}
	if err != nil {
		return nil, err
	}
	s.dirs[d] = st
	return st, nil
}

// entry reports whether p exists, and its type bits when it does.
func (s *dirScan) entry(p string) (fs.FileMode, bool, error) {
	st, err := s.dir(filepath.Dir(p))
	if err != nil || !st.exists {
		return 0, false, err
	}
	typ, ok := st.entries[filepath.Base(p)]
	return typ, ok, nil
}

func listDir(d string) (*dirState, error) {
	f, err := os.Open(d)
	if errors.Is(err, fs.ErrNotExist) {
		return &dirState{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", d, err)
	}
	st := &dirState{exists: true, entries: make(map[string]fs.FileMode, len(ents))}
	for _, e := range ents {
		st.entries[e.Name()] = e.Type()
	}
	return st, nil
}

// placeAll puts every placement into place, jobs directories at a time.
// scan must have been asked about every destination (runTxn does that
// when it plans the journal), so it knows each destination directory and
// its ancestors up to an existing one.
func (v *Venv) placeAll(ctx context.Context, c *Cache, places []placement, scan *dirScan, jobs int) error {
	devs := [2]uint64{devOf(c.dir), devOf(v.Dir)}
	files := map[string][]int{} // directory -> placements, in plan order
	var order []string
	for i, pl := range places {
		d := filepath.Dir(pl.dest)
		if _, ok := files[d]; !ok {
			order = append(order, d)
		}
		files[d] = append(files[d], i)
	}
	// The missing directories form trees hanging from existing ones: a
	// directory is made by the task that handles it, whose completion
	// hands out its subdirectories.
	children := map[string][]string{}
	added := map[string]bool{}
	var queue []string
	var add func(d string)
	add = func(d string) {
		if added[d] {
			return
		}
		added[d] = true
		if st := scan.dirs[d]; st == nil || st.exists {
			queue = append(queue, d)
			return
		}
		p := filepath.Dir(d)
		add(p)
		children[p] = append(children[p], d)
	}
	for _, d := range order {
		add(d)
	}

	var placed int
	var placedMu sync.Mutex
	task := func(d string) error {
		if st := scan.dirs[d]; st != nil && !st.exists {
			if err := mkdirNew(d); err != nil {
				return err
			}
		}
		for _, i := range files[d] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := placeOne(c, places[i], devs); err != nil {
				return err
			}
			if testHookPlaced != nil {
				placedMu.Lock()
				placed++
				testHookPlaced(placed)
				placedMu.Unlock()
			}
		}
		return nil
	}

	var (
		mu       sync.Mutex
		wake     = sync.NewCond(&mu)
		pending  = len(queue)
		firstErr error
		wg       sync.WaitGroup
	)
	for range max(1, jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(queue) == 0 && pending > 0 && firstErr == nil {
					wake.Wait()
				}
				if pending == 0 || firstErr != nil {
					return
				}
				// Last in, first out: a worker goes on into the
				// directories it just made.
				d := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				mu.Unlock()
				err := task(d)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					queue = append(queue, children[d]...)
					pending += len(children[d])
				}
				pending--
				wake.Broadcast()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// mkdirNew makes directory d, which the scan found missing, with the
// mode mkdir -p gives (0777 less the umask).
func mkdirNew(d string) error {
	err := ignoringEINTR(func() error { return unix.Mkdir(d, 0o777) })
	if errors.Is(err, unix.EEXIST) {
		// Made since the scan by someone else: fine if a directory.
		if fi, serr := os.Stat(d); serr == nil && fi.IsDir() {
			return nil
		}
	}
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: d, Err: err}
	}
	return nil
}

func placeOne(c *Cache, pl placement, devs [2]uint64) error {
	put := func() error {
		if pl.src != "" {
			return c.place(pl.src, pl.dest, devs)
		}
		return writeNew(pl.dest, pl.data, pl.mode)
	}
	err := put()
	if errors.Is(err, fs.ErrExist) {
		// Two wheels of one transaction ship the same file: the later
		// one wins, as with pip installing them in sequence.
		os.Remove(pl.dest)
		err = put()
	}
	if err != nil {
		return fmt.Errorf("placing %s: %w", pl.dest, err)
	}
	return nil
}

// writeNew creates p, which must not exist, holding data with mode. It
// uses the system calls directly: a file written once needs none of the
// os package's poller registration (four more calls per file).
func writeNew(p string, data []byte, mode os.FileMode) error {
	return createWrite(p, data, 0o600, &mode)
}

// writeNewUmasked creates p, which must not exist, holding data with mode
// 0o666 less the umask, as open(2) makes it: no chmod, and no need to
// know the umask.
func writeNewUmasked(p string, data []byte) error {
	return createWrite(p, data, 0o666, nil)
}

// createWrite creates p with perm (less the umask), writes data and, when
// mode is not nil, sets mode.
func createWrite(p string, data []byte, perm uint32, mode *os.FileMode) error {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	for len(data) > 0 && err == nil {
		var n int
		err = ignoringEINTR(func() (err error) {
			n, err = unix.Write(fd, data)
			return err
		})
		if err == nil {
			data = data[n:]
		}
	}
	if err == nil && mode != nil {
		err = unix.Fchmod(fd, uint32(mode.Perm()))
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(p)
		return &os.PathError{Op: "write", Path: p, Err: err}
	}
	return nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
