package venv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/requirements"
)

// Wheel is one wheel file to install.
type Wheel struct {
	Path string
	// SHA256 is the wheel file's hex digest. Empty: it is computed. Set
	// (from a lock file): the file must match it.
	SHA256 string
	// DirectURL, when set, is written as direct_url.json (PEP 610): pip
	// writes one for wheels named by path or URL (`pip install ./x.whl`),
	// not for those found by name in an index or --find-links.
	DirectURL *DirectURL
	// Requested writes the REQUESTED marker: the user asked for this
	// distribution, it is not only a dependency.
	Requested bool

	expectVersion string // Sync: the version the lock names
}

// InstallOptions controls Install, Uninstall and Sync. The zero value
// installs without a shared cache (files are unpacked into a private
// temporary cache on the venv's filesystem and moved into place, with
// pip's file modes) and byte-compiles with one worker process per CPU.
type InstallOptions struct {
	// Cache, when set, is the shared cache (ROOT/cache) wheels are
	// unpacked into once and linked from; linked files are read-only.
	Cache *Cache
	// NoCompile skips byte-compilation (pip's --no-compile).
	NoCompile bool
	// Jobs bounds the wheels prepared (hashed, unpacked, compiled) at
	// once, caps the compiler processes (one per CPU, plus one) and sets
	// the workers placing files (directories at a time); 0 means four
	// preparing per CPU and one placing per two CPUs.
	Jobs int
	// Logger receives debug and info records; nil discards them.
	Logger *slog.Logger
	// OnEvent receives progress events, from several goroutines (but never
	// concurrently: calls are serialized). Nil ignores them.
	OnEvent func(Event)
}

// EventKind says what an Event reports.
type EventKind string

const (
	EventCached    EventKind = "cached"    // the wheel was already in the cache
	EventUnpacked  EventKind = "unpacked"  // the wheel was verified and unpacked into the cache
	EventCompiled  EventKind = "compiled"  // its modules were byte-compiled
	EventInstalled EventKind = "installed" // it is installed in the venv (after the commit)
	EventRemoved   EventKind = "removed"   // a distribution was uninstalled (after the commit)
)

// Event is one step of an install, uninstall or sync.
type Event struct {
	Kind          EventKind
	Name, Version string // the distribution
	Wheel         string // the wheel file, when there is one
	Files         int    // files unpacked, compiled or installed
	Done, Total   int    // wheels prepared so far, of Total (for progress bars)
	Elapsed       time.Duration
}

// Dist is a distribution installed in a venv.
type Dist struct {
	Name, Version string
	DistInfo      string // absolute path of its .dist-info directory
}

// Install installs the wheels into the venv as pip would (see the
// package documentation for what is identical and what is not), replacing
// any installed version of the same distributions. It is one transaction:
// on any error — a wheel that fails verification, a full or read-only
// disk, a cancelled context — the venv is left as it was, and an install
// killed midway is rolled back by the next operation on the venv.
func (v *Venv) Install(ctx context.Context, wheels []Wheel, opts InstallOptions) ([]Dist, error) {
	res, err := v.apply(ctx, "install", wheels, nil, opts)
	if err != nil {
		return nil, err
	}
	return res.installed, nil
}

type applyResult struct {
	installed, removed []Dist
}

// prepared is a wheel whose cache entries are ready.
type prepared struct {
	w     Wheel
	name  wheelName
	entry *cacheEntry
	pyc   *pycEntry
}

// jobs bounds the wheels prepared and the files placed at once: mostly
// I/O, so more than the CPUs (measured: 4 per CPU halves a cold install of
// the test wheelhouse against 1 per CPU).
func (o *InstallOptions) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return 4 * runtime.NumCPU()
}

// placers is the number of workers placing files into the venv. Placing
// is directory operations in the kernel, which a filesystem journal
// serializes: on ext4 (2 CPUs, scripts/bench/venv.sh's warm install of
// the wheelhouse, benchcmd jobs, 9 rounds taking turns) one worker took
// 2.09 s (median), two 2.68 s, four 3.22 s and eight 2.95 s, the extra
// workers costing lock contention and thread hand-offs instead.
func (o *InstallOptions) placers() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return max(1, runtime.NumCPU()/2)
}

// compilers is the number of byte-compiling interpreter processes: CPU
// bound, one per CPU plus one to cover the pipe round trips.
func (o *InstallOptions) compilers() int {
	n := runtime.NumCPU() + 1
	if o.Jobs > 0 && o.Jobs < n {
		n = o.Jobs
	}
	return n
}

func (o *InstallOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// apply installs wheels and uninstalls the distributions named in remove
// (canonical names) in one transaction.
func (v *Venv) apply(ctx context.Context, op string, wheels []Wheel, remove []string, opts InstallOptions) (res applyResult, err error) {
	fail := func(err error) (applyResult, error) {
		var ve *VenvError
		if errors.As(err, &ve) {
			return applyResult{}, err
		}
		return applyResult{}, &VenvError{Dir: v.Dir, Op: op, Err: err}
	}
	log := opts.logger()
	start := time.Now()
	var evMu sync.Mutex
	emit := func(e Event) {
		if opts.OnEvent != nil {
			evMu.Lock()
			opts.OnEvent(e)
			evMu.Unlock()
		}
	}
	unlock, err := lockDir(v.Dir)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	if err := v.recover(log); err != nil {
		return fail(fmt.Errorf("rolling back an interrupted operation: %w", err))
	}

	// Cheap checks first: names and tags, before any unpacking.
	supported := supportedTags(v.Python)
	seen := map[string]string{}
	preps := make([]*prepared, len(wheels))
	for i, w := range wheels {
		wn, err := parseWheelName(filepath.Base(w.Path))
		if err != nil {
			return fail(&WheelError{Wheel: w.Path, Err: err})
		}
		if err := checkCompatible(wn, supported); err != nil {
			return fail(&WheelError{Wheel: w.Path, Err: fmt.Errorf("%w with %s", err, v.Python)})
		}
		cn := requirements.NormalizeName(wn.Name)
		if prev, ok := seen[cn]; ok {
			return fail(fmt.Errorf("%s and %s are the same distribution", prev, w.Path))
		}
		seen[cn] = w.Path
		if w.SHA256 != "" {
			if err := validSHA256Hex(w.SHA256); err != nil {
				return fail(&WheelError{Wheel: w.Path, Err: err})
			}
		}
		preps[i] = &prepared{w: w, name: wn}
	}

	c := opts.Cache
	if c == nil {
		tmp, err := os.MkdirTemp(v.Dir, ".deploykit-cache-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		c = newCache(tmp, true, log)
		for _, d := range []string{"wheels", "pyc", "tmp"} {
			if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
				return fail(err)
			}
		}
	} else {
		c.sweepTmp()
	}
	cunlock, err := c.lock(false)
	if err != nil {
		return fail(err)
	}
	defer cunlock()

	// Prepare: hash, unpack and verify, compile — all in the cache, in
	// parallel; the venv is untouched until every wheel is ready.
	var comp *compiler
	if !opts.NoCompile || op == opCompile {
		comp = newCompiler(v.Python, opts.compilers())
		defer comp.Close()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.jobs())
	var done int
	var doneMu sync.Mutex
	for _, p := range preps {
		g.Go(func() error {
			t0 := time.Now()
			sum := p.w.SHA256
			if sum == "" {
				var err error
				if sum, err = c.wheelDigest(p.w.Path); err != nil {
					return &WheelError{Wheel: p.w.Path, Err: err}
				}
			}
			e, hit, err := c.wheelEntry(gctx, p.w.Path, sum, p.w.SHA256 == "")
			if err != nil {
				return err
			}
			p.entry = e
			if p.w.expectVersion != "" && !sameVersion(e.Version, p.w.expectVersion) {
				return &WheelError{Wheel: p.w.Path, File: e.DistInfo + "/METADATA", Err: fmt.Errorf("%w: version %s, expected %s", ErrDistMismatch, e.Version, p.w.expectVersion)}
			}
			doneMu.Lock()
			done++
			n := done
			doneMu.Unlock()
			kind := EventUnpacked
			if hit {
				kind = EventCached
			}
			emit(Event{Kind: kind, Name: e.Name, Version: e.Version, Wheel: p.w.Path, Files: len(e.Files), Done: n, Total: len(preps), Elapsed: time.Since(t0)})
			if comp != nil {
				t1 := time.Now()
				pe, hit, err := c.pycEntry(gctx, e, v.Python, comp)
				if err != nil {
					return err
				}
				p.pyc = pe
				if !hit {
					emit(Event{Kind: EventCompiled, Name: e.Name, Version: e.Version, Wheel: p.w.Path, Files: len(pe.Pyc), Done: n, Total: len(preps), Elapsed: time.Since(t1)})
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}

	// Plan: what to remove (replaced and unwanted distributions) and what
	// to place.
	installed, err := v.installedByName()
	if err != nil {
		return fail(err)
	}
	var removes []string
	var removed []Dist
	removeDist := func(d Dist) error {
		files, err := v.distFiles(d)
		if err != nil {
			return err
		}
		removes = append(removes, files...)
		removed = append(removed, d)
		return nil
	}
	for _, name := range remove {
		d, ok := installed[requirements.NormalizeName(name)]
		if !ok {
			return fail(fmt.Errorf("%s: %w", name, ErrNotInstalled))
		}
		if err := removeDist(d); err != nil {
			return fail(err)
		}
	}
	var places []placement
	var dists []Dist
	for _, p := range preps {
		if op == opCompile {
			pl, dist, err := v.planCompiled(p, installed, c)
			if err != nil {
				return fail(err)
			}
			places = append(places, pl...)
			dists = append(dists, dist)
			continue
		}
		if d, ok := installed[requirements.NormalizeName(p.entry.Name)]; ok {
			if err := removeDist(d); err != nil {
				return fail(err)
			}
		}
		pl, dist, err := v.planWheel(p)
		if err != nil {
			return fail(err)
		}
		places = append(places, pl...)
		dists = append(dists, dist)
	}
	if err := v.runTxn(ctx, c, places, removes, opts.placers(), log); err != nil {
		return fail(err)
	}
	for i, p := range preps {
		if err := c.addRef(p.entry.SHA256, dists[i].DistInfo); err != nil {
			log.Warn("cache reference not recorded; prune may drop the entry", "wheel", p.w.Path, "err", err)
		}
	}
	replaced := map[string]bool{}
	for _, d := range dists {
		replaced[requirements.NormalizeName(d.Name)] = true
	}
	for _, d := range removed {
		if !replaced[requirements.NormalizeName(d.Name)] {
			emit(Event{Kind: EventRemoved, Name: d.Name, Version: d.Version})
		}
	}
	for i, d := range dists {
		if op == opCompile {
			break // the EventCompiled of each were the news
		}
		emit(Event{Kind: EventInstalled, Name: d.Name, Version: d.Version, Wheel: preps[i].w.Path, Done: i + 1, Total: len(dists)})
	}
	log.Info(op+" done", "venv", v.Dir, "installed", len(dists), "removed", len(removed), "files", len(places), "elapsed", time.Since(start))
	return applyResult{installed: dists, removed: removed}, nil
}

// placement is one file to put into the venv: a cached file (src) or
// generated content (data, mode).
type placement struct {
	dest string
	src  string
	data []byte
	mode os.FileMode
}

// planWheel computes every file the wheel puts into the venv, as pip's
// _install_wheel does, including the rewritten RECORD.
func (v *Venv) planWheel(p *prepared) ([]placement, Dist, error) {
	e := p.entry
	werr := func(file string, err error) error { return &WheelError{Wheel: p.w.Path, File: file, Err: err} }
	libDir := v.Purelib
	if !e.RootIsPurelib {
		libDir = v.Platlib
	}
	exe := v.Executable()
	fileMode := 0o666 &^ umask()
	scheme := map[string]string{
		"purelib": v.Purelib,
		"platlib": v.Platlib,
		"headers": filepath.Join(v.Include, strings.ReplaceAll(p.name.Name, "_", "-")),
		"scripts": v.Scripts,
		"data":    v.Data,
	}
	var eps []entryPoint
	if b, err := os.ReadFile(e.file(e.DistInfo + "/entry_points.txt")); err == nil {
		if eps, err = parseEntryPoints(b); err != nil {
			return nil, Dist{}, werr(e.DistInfo+"/entry_points.txt", fmt.Errorf("%w: %v", ErrBadWheel, err))
		}
	}
	epNames := map[string]bool{}
	for _, ep := range eps {
		if ep.Group == "console_scripts" || ep.Group == "gui_scripts" {
			epNames[ep.Name] = true
		}
	}
	isWrapper := func(name string) bool {
		lower := strings.ToLower(name)
		switch {
		case strings.HasSuffix(lower, ".exe"), strings.HasSuffix(lower, ".pya"):
			name = name[:len(name)-4]
		case strings.HasSuffix(lower, "-script.py"):
			name = name[:len(name)-10]
		}
		return epNames[name]
	}
	within := func(dir, p string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
	}
	recordPath := func(dest string) string {
		rel, err := filepath.Rel(libDir, dest)
		if err != nil {
			rel = dest
		}
		return filepath.ToSlash(rel)
	}

	var places []placement
	byDest := map[string]int{}
	add := func(pl placement) {
		if i, ok := byDest[pl.dest]; ok {
			places[i] = pl // later wins, as with pip's sequential writes
			return
		}
		byDest[pl.dest] = len(places)
		places = append(places, pl)
	}
	installed := map[string]string{} // archive path -> RECORD path
	changed := map[string][]byte{}   // RECORD path -> new content
	destOf := map[string]string{}    // archive path -> destination
	var pycRows []string
	recordArchive := e.DistInfo + "/RECORD"
	for _, f := range e.Files {
		var dest string
		script := false
		top, rest, _ := strings.Cut(f.Path, "/")
		if strings.HasSuffix(top, ".data") {
			key, sub, ok := strings.Cut(rest, "/")
			if !ok {
				return nil, Dist{}, werr(f.Path, fmt.Errorf("%w: .data directory contents must be named <scheme key>/<path>", ErrBadWheel))
			}
			base, ok := scheme[key]
			if !ok {
				return nil, Dist{}, werr(f.Path, fmt.Errorf("%w: unknown scheme key %q (purelib, platlib, headers, scripts, data)", ErrBadWheel, key))
			}
			dest = filepath.Join(base, filepath.FromSlash(sub))
			if !within(base, dest) {
				return nil, Dist{}, werr(f.Path, ErrUnsafePath)
			}
			if key == "scripts" {
				if isWrapper(path.Base(sub)) {
					continue
				}
				script = true
			}
		} else {
			dest = filepath.Join(libDir, filepath.FromSlash(f.Path))
			if !within(libDir, dest) {
				return nil, Dist{}, werr(f.Path, ErrUnsafePath)
			}
		}
		rp := recordPath(dest)
		installed[f.Path] = rp
		destOf[f.Path] = dest
		if f.Path == recordArchive {
			continue // replaced by the rewritten RECORD below
		}
		if script {
			data, err := fixScript(e.file(f.Path), exe)
			if err != nil {
				return nil, Dist{}, werr(f.Path, err)
			}
			if data != nil {
				mode := fileMode
				if f.Exec {
					mode = (0o777 &^ umask()) | 0o111
				}
				changed[rp] = data
				add(placement{dest: dest, data: data, mode: mode})
				continue
			}
		}
		add(placement{dest: dest, src: e.file(f.Path)})
	}
	if p.pyc != nil {
		srcs := make([]string, 0, len(p.pyc.Pyc))
		for src := range p.pyc.Pyc {
			srcs = append(srcs, src)
		}
		sort.Strings(srcs)
		for _, src := range srcs {
			d, ok := destOf[src]
			if !ok || changed[installed[src]] != nil {
				// A skipped wrapper, or a script whose #!python line was
				// rewritten: the cached pyc is of other content.
				continue
			}
			pyc := p.pyc.Pyc[src]
			dest := filepath.Join(filepath.Dir(d), "__pycache__", path.Base(pyc))
			add(placement{dest: dest, src: p.pyc.file(pyc)})
			pycRows = append(pycRows, recordPath(dest))
		}
	}

	// Generated files, in pip's order (the RECORD is sorted anyway).
	type gen struct {
		dest string
		data []byte
		mode os.FileMode
	}
	var generated []gen
	launcherMode := fileMode | 0o555
	for _, s := range consoleScripts(eps, v.Python.Major(), v.Python.Minor()) {
		data, err := launcher(exe, s[1])
		if err != nil {
			return nil, Dist{}, werr(e.DistInfo+"/entry_points.txt", fmt.Errorf("%w: console script %s: %v", ErrBadWheel, s[0], err))
		}
		generated = append(generated, gen{filepath.Join(v.Scripts, s[0]), data, launcherMode})
	}
	for _, ep := range eps {
		if ep.Group != "gui_scripts" {
			continue
		}
		data, err := launcher(exe, ep.Value)
		if err != nil {
			return nil, Dist{}, werr(e.DistInfo+"/entry_points.txt", fmt.Errorf("%w: gui script %s: %v", ErrBadWheel, ep.Name, err))
		}
		generated = append(generated, gen{filepath.Join(v.Scripts, ep.Name), data, launcherMode})
	}
	infoDir := filepath.Join(libDir, e.DistInfo)
	generated = append(generated, gen{filepath.Join(infoDir, "INSTALLER"), []byte("deploykit\n"), fileMode})
	if p.w.DirectURL != nil {
		generated = append(generated, gen{filepath.Join(infoDir, "direct_url.json"), p.w.DirectURL.JSON(), fileMode})
	}
	if p.w.Requested {
		generated = append(generated, gen{filepath.Join(infoDir, "REQUESTED"), nil, fileMode})
	}
	for _, g := range generated {
		add(placement{dest: g.dest, data: g.data, mode: g.mode})
	}

	// RECORD, as pip's get_csv_rows_for_installed + _normalized_outrows.
	old, err := os.ReadFile(e.file(recordArchive))
	if err != nil {
		return nil, Dist{}, werr(recordArchive, err)
	}
	oldRows, err := parseRecord(old)
	if err != nil {
		return nil, Dist{}, werr(recordArchive, fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	var rows []recordRow
	for _, r := range oldRows {
		np, ok := installed[r.Path]
		if ok {
			delete(installed, r.Path)
		} else {
			np = r.Path
		}
		if data, ok := changed[np]; ok {
			rows = append(rows, recordRow{np, recordHashOf(data), strconv.Itoa(len(data))})
		} else {
			rows = append(rows, recordRow{np, r.Hash, r.Size})
		}
	}
	for _, g := range generated {
		rows = append(rows, recordRow{recordPath(g.dest), recordHashOf(g.data), strconv.Itoa(len(g.data))})
	}
	for _, rp := range installed {
		rows = append(rows, recordRow{rp, "", ""})
	}
	for _, rp := range pycRows {
		rows = append(rows, recordRow{rp, "", ""})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Hash != b.Hash {
			return a.Hash < b.Hash
		}
		return a.Size < b.Size
	})
	add(placement{dest: filepath.Join(infoDir, "RECORD"), data: formatRecord(rows), mode: fileMode})
	return places, Dist{Name: e.Name, Version: e.Version, DistInfo: infoDir}, nil
}

// fixScript returns the script with its "#!python" line replaced by the
// venv's interpreter, or nil when it has no such line (pip's fix_script).
func fixScript(src, exe string) ([]byte, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !bytes.Equal(head[:n], []byte("#!python")) {
		return nil, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	all, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	rest := []byte{}
	if i := bytes.IndexByte(all, '\n'); i >= 0 {
		rest = all[i+1:]
	}
	return append([]byte("#!"+exe+"\n"), rest...), nil
}

// Installed lists the distributions installed in the venv, by name.
func (v *Venv) Installed(ctx context.Context) ([]Dist, error) {
	m, err := v.installedByName()
	if err != nil {
		return nil, &VenvError{Dir: v.Dir, Op: "list", Err: err}
	}
	out := make([]Dist, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		return requirements.NormalizeName(out[i].Name) < requirements.NormalizeName(out[j].Name)
	})
	return out, nil
}

func (v *Venv) installedByName() (map[string]Dist, error) {
	out := map[string]Dist{}
	dirs := []string{v.Purelib}
	if v.Platlib != v.Purelib {
		dirs = append(dirs, v.Platlib)
	}
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, ent := range ents {
			if !ent.IsDir() || !strings.HasSuffix(ent.Name(), ".dist-info") {
				continue
			}
			di := filepath.Join(dir, ent.Name())
			b, err := os.ReadFile(filepath.Join(di, "METADATA"))
			if err != nil {
				continue
			}
			h, err := parseHeaders(b)
			if err != nil {
				continue
			}
			name, version := headerValue(h, "Name"), headerValue(h, "Version")
			if name == "" {
				continue
			}
			out[requirements.NormalizeName(name)] = Dist{Name: name, Version: version, DistInfo: di}
		}
	}
	return out, nil
}

// distFiles lists the files to remove to uninstall d: what its RECORD
// lists, the compiled modules of its .py files, and its dist-info
// directory. A RECORD entry outside the venv is refused.
func (v *Venv) distFiles(d Dist) ([]string, error) {
	libDir := filepath.Dir(d.DistInfo)
	b, err := os.ReadFile(filepath.Join(d.DistInfo, "RECORD"))
	if err != nil {
		return nil, fmt.Errorf("uninstalling %s %s: %w", d.Name, d.Version, err)
	}
	rows, err := parseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("uninstalling %s %s: %s: %w", d.Name, d.Version, filepath.Join(d.DistInfo, "RECORD"), err)
	}
	seen := map[string]bool{}
	var files []string
	addFile := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	root := v.Dir + string(filepath.Separator)
	for _, r := range rows {
		p := filepath.Clean(filepath.Join(libDir, filepath.FromSlash(r.Path)))
		if filepath.IsAbs(filepath.FromSlash(r.Path)) {
			p = filepath.Clean(r.Path)
		}
		if !strings.HasPrefix(p, root) {
			return nil, fmt.Errorf("uninstalling %s %s: RECORD entry %q: %w", d.Name, d.Version, r.Path, ErrUnsafePath)
		}
		addFile(p)
		if strings.HasSuffix(p, ".py") {
			dir, base := filepath.Split(p)
			stem := strings.TrimSuffix(base, ".py")
			pycs, _ := filepath.Glob(filepath.Join(dir, "__pycache__", globEscape(stem)+".*.pyc"))
			for _, c := range pycs {
				addFile(c)
			}
			for _, legacy := range []string{stem + ".pyc", stem + ".pyo"} {
				if _, err := os.Lstat(filepath.Join(dir, legacy)); err == nil {
					addFile(filepath.Join(dir, legacy))
				}
			}
		}
	}
	ents, _ := os.ReadDir(d.DistInfo)
	for _, ent := range ents {
		if !ent.IsDir() {
			addFile(filepath.Join(d.DistInfo, ent.Name()))
		}
	}
	return files, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// Uninstall removes the named distributions, as `pip uninstall` does, in
// one transaction. The error wraps ErrNotInstalled when one is not there.
func (v *Venv) Uninstall(ctx context.Context, names []string, opts InstallOptions) ([]Dist, error) {
	res, err := v.apply(ctx, "uninstall", nil, names, opts)
	if err != nil {
		return nil, err
	}
	return res.removed, nil
}
