package instance

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
	"github.com/deploykit/deploykit/requirements/pep440"
	"github.com/deploykit/deploykit/requirements/resolve"
	"github.com/deploykit/deploykit/venv"
	"github.com/deploykit/deploykit/venv/pep517"
)

// Requirements is a requirement list, parsed: roots, constraints and the
// sources the files and Options name.
type Requirements struct {
	Roots       []requirements.Requirement
	Constraints []requirements.Requirement
	Sources     Sources
	// Editable names projects installed in editable mode (-e).
	Editable map[string]bool
	// Unnamed are local paths given without a project name (pip's
	// `./src` or `-e .` lines): the Resolver names them from the wheel or
	// sdist file name, or the project's metadata, before resolving.
	Unnamed []UnnamedRequirement
}

// UnnamedRequirement is a requirements-file line naming a local project
// directory, wheel or sdist by path alone.
type UnnamedRequirement struct {
	File     string // the requirements file and line it came from
	Line     int
	Path     string // absolute
	Editable bool
}

// ParseRequirements reads the spec's requirements files (relative to the
// spec) and inline packages, adding the extra sources.
func ParseRequirements(ctx context.Context, spec *Spec, extra Sources) (*Requirements, error) {
	var files []string
	for _, f := range spec.Requirements {
		files = append(files, spec.Path(f))
	}
	out, err := ParseRequirementFiles(ctx, files, extra)
	if err != nil {
		return nil, err
	}
	for _, p := range spec.Packages {
		r, err := requirements.ParseRequirement(p)
		if err != nil {
			return nil, &SpecError{File: spec.File, Key: "packages", Err: err}
		}
		out.Roots = append(out.Roots, r)
	}
	return out, nil
}

// ParseRequirementFiles reads pip requirements files (-r), with paths and
// find-links relative to each file.
func ParseRequirementFiles(ctx context.Context, files []string, extra Sources) (*Requirements, error) {
	out := &Requirements{Sources: extra, Editable: map[string]bool{}}
	for _, path := range files {
		file, err := requirements.ParseFile(ctx, path, requirements.FileOptions{WorkDir: filepath.Dir(path)})
		if err != nil {
			return nil, err
		}
		if err := out.addFile(file, filepath.Dir(path)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Requirements) addFile(f *requirements.File, dir string) error {
	for _, e := range f.Entries {
		if e.Parsed == nil {
			if e.LocalPath != "" && !e.Constraint {
				r.Unnamed = append(r.Unnamed, UnnamedRequirement{File: e.File, Line: e.Line, Path: e.LocalPath, Editable: e.Editable})
				continue
			}
			return fmt.Errorf("%s:%d: %q: name the project: NAME @ URL (or #egg=NAME)", e.File, e.Line, e.Requirement)
		}
		if e.Constraint {
			r.Constraints = append(r.Constraints, *e.Parsed)
			continue
		}
		r.Roots = append(r.Roots, *e.Parsed)
		if e.Editable {
			r.Editable[requirements.NormalizeName(e.Parsed.Name)] = true
		}
	}
	for _, fl := range f.FindLinks {
		if u, err := url.Parse(fl); err == nil && u.Scheme == "file" {
			fl = u.Path
		} else if err == nil && u.Scheme != "" {
			r.Sources.FindLinks = append(r.Sources.FindLinks, fl)
			continue
		}
		// pip resolves a relative find-links path against the file.
		if !filepath.IsAbs(fl) {
			fl = filepath.Join(dir, fl)
		}
		r.Sources.FindLinks = append(r.Sources.FindLinks, fl)
	}
	r.Sources.NoIndex = r.Sources.NoIndex || f.NoIndex
	r.Sources.Pre = r.Sources.Pre || f.Pre
	r.Sources.PreferBinary = r.Sources.PreferBinary || f.PreferBinary
	if f.IndexURL != "" && r.Sources.IndexURL == "" {
		r.Sources.IndexURL = f.IndexURL
	}
	r.Sources.ExtraIndexURLs = append(r.Sources.ExtraIndexURLs, f.ExtraIndexURLs...)
	r.Sources.TrustedHosts = append(r.Sources.TrustedHosts, f.TrustedHosts...)
	return nil
}

// Resolver turns requirement lists into locks and venvs for one target
// interpreter: requirements/index finds the files (indexes, find-links,
// local paths, VCS; sdists and source trees built by venv/pep517),
// requirements/resolve chooses the versions.
type Resolver struct {
	Python   *venv.Interpreter
	finder   *index.Finder
	builder  *pep517.Frontend
	provider *resolve.IndexProvider
	env      requirements.Environment
	wheelDir string
}

// NewResolver prepares a Resolver for py over sources, caching downloads,
// checkouts and builds under cacheDir ("" = a temporary directory).
func NewResolver(ctx context.Context, py *venv.Interpreter, src Sources, cacheDir string, log *slog.Logger) (*Resolver, error) {
	// The interpreter's one (cached) run already told its markers and
	// tag facts; asking it again costs two interpreter starts per resolve.
	env := requirements.Environment{}
	for k, v := range py.Markers {
		env[k] = v
	}
	facts := py.TagFacts
	if len(env) == 0 || facts.Implementation == "" {
		var err error
		if env, err = requirements.CurrentEnvironment(ctx, py.Path); err != nil {
			return nil, err
		}
		if facts, err = dist.ProbeTagFacts(ctx, py.Path); err != nil {
			return nil, err
		}
	}
	pyv, err := pep440.Parse(env["python_full_version"])
	if err != nil {
		return nil, err
	}
	r := &Resolver{Python: py, env: env}
	// Build requirements ([build-system] requires, and what the backend
	// asks for) come from the same sources as the application's.
	bopts := pep517.Options{Python: py, Logger: log, Requirer: pep517.RequirerFunc(r.installBuildRequirements)}
	icache := ""
	if cacheDir != "" {
		bopts.CacheDir = cacheDir
		icache = filepath.Join(cacheDir, "index")
		r.wheelDir = filepath.Join(cacheDir, "built")
	}
	if r.builder, err = pep517.New(bopts); err != nil {
		return nil, err
	}
	r.finder, err = index.New(index.Options{IndexURL: src.IndexURL, ExtraIndexURLs: src.ExtraIndexURLs, FindLinks: src.FindLinks,
		NoIndex: src.NoIndex, TrustedHosts: src.TrustedHosts, CacheDir: icache, Builder: r.builder, Logger: log})
	if err != nil {
		return nil, err
	}
	if r.wheelDir == "" {
		r.wheelDir = filepath.Join(r.finder.CacheDir(), "built")
	}
	r.provider = &resolve.IndexProvider{Finder: r.finder, Tags: dist.NewTagSet(dist.SupportedTags(facts)), Python: pyv}
	return r, nil
}

// Close removes a temporary cache.
func (r *Resolver) Close() error { return r.finder.Close() }

// LockOptions tune Resolver.Resolve.
type LockOptions struct {
	// Previous is an earlier lock whose versions are preferred (upgrade),
	// or, with Changes, kept exactly (hotfix).
	Previous *lock.Lock
	// Changes are requirements that replace the previous lock's entries
	// of the same names; every other locked package is pinned.
	Changes []requirements.Requirement
	// UpgradePackages ignore the previous lock for these names.
	UpgradePackages []string
	// Pre allows pre-releases.
	Pre    bool
	Logger *slog.Logger
}

// Locked is a resolution: the lock and, for installing it, the local
// wheel of every package (downloaded or built as needed).
type Locked struct {
	Lock  *lock.Lock
	Dists []venv.Distribution
}

// Resolve resolves reqs and returns the lock with every package's wheel.
func (r *Resolver) Resolve(ctx context.Context, reqs *Requirements, opts LockOptions) (*Locked, error) {
	res, lk, roots, err := r.resolve(ctx, reqs, opts)
	if err != nil {
		return nil, err
	}
	requested := map[string]bool{}
	for _, rq := range roots {
		requested[requirements.NormalizeName(rq.Name)] = true
	}
	out := &Locked{Lock: lk, Dists: make([]venv.Distribution, len(res.Packages))}
	// Wheels from indexes and find-links are downloaded (and hashed) a few
	// at a time — a download is held in memory until it is verified —
	// and builds run one at a time after them.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var builds []int
	for i, p := range res.Packages {
		if rel, ok := p.Candidate.Ref.(*resolve.Release); !ok || rel.Direct != nil || rel.Best() == nil || !rel.Best().IsWheel() {
			builds = append(builds, i)
			continue
		}
		g.Go(func() (err error) {
			out.Dists[i], err = r.wheelOf(gctx, p)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, i := range builds {
		if out.Dists[i], err = r.wheelOf(ctx, res.Packages[i]); err != nil {
			return nil, err
		}
	}
	for i, p := range res.Packages {
		out.Dists[i].Requested = requested[p.Name]
	}
	return out, nil
}

// Lock resolves reqs into a lock without fetching what only an install
// needs: index pages and metadata files, and a file itself only where its
// source gives no sha256 or no metadata.
func (r *Resolver) Lock(ctx context.Context, reqs *Requirements, opts LockOptions) (*lock.Lock, error) {
	_, lk, _, err := r.resolve(ctx, reqs, opts)
	return lk, err
}

// resolve resolves reqs and locks the result; roots are the requirements
// resolved, path-only ones named.
func (r *Resolver) resolve(ctx context.Context, reqs *Requirements, opts LockOptions) (*resolve.Resolution, *lock.Lock, []requirements.Requirement, error) {
	roots := append([]requirements.Requirement(nil), reqs.Roots...)
	for _, u := range reqs.Unnamed {
		rq, err := r.nameLocal(ctx, u)
		if err != nil {
			return nil, nil, nil, err
		}
		roots = append(roots, rq)
		if u.Editable {
			if reqs.Editable == nil {
				reqs.Editable = map[string]bool{}
			}
			reqs.Editable[requirements.NormalizeName(rq.Name)] = true
		}
	}
	constraints := append([]requirements.Requirement(nil), reqs.Constraints...)
	ropts := resolve.Options{Environment: r.env, Pre: opts.Pre || reqs.Sources.Pre, PreferBinary: reqs.Sources.PreferBinary, UpgradePackages: opts.UpgradePackages, Logger: opts.Logger}
	if opts.Previous != nil {
		changed := map[string]bool{}
		for _, c := range opts.Changes {
			changed[requirements.NormalizeName(c.Name)] = true
		}
		if len(opts.Changes) > 0 {
			// Hotfix: the changes replace roots of the same names, and
			// every other locked package stays exactly where it was.
			var kept []requirements.Requirement
			for _, rq := range roots {
				if !changed[requirements.NormalizeName(rq.Name)] {
					kept = append(kept, rq)
				}
			}
			roots = append(kept, opts.Changes...)
			for _, p := range opts.Previous.Packages {
				if changed[requirements.NormalizeName(p.Name)] || p.Version == "" {
					continue
				}
				c, err := requirements.ParseRequirement(p.Name + "==" + p.Version)
				if err != nil {
					return nil, nil, nil, err
				}
				constraints = append(constraints, c)
			}
		}
		ropts.Preferences = resolve.LockPreferences(opts.Previous)
	}
	ropts.Constraints = constraints
	res, err := resolve.Resolve(ctx, r.provider, roots, ropts)
	if err != nil {
		return nil, nil, nil, err
	}
	lk, err := res.Lock(ctx, r.finder, resolve.LockOptions{RequiresPython: "==" + r.env["python_full_version"], Editable: reqs.Editable})
	if err != nil {
		return nil, nil, nil, err
	}
	return res, lk, roots, nil
}

// wheelOf returns the local wheel to install for a resolved package:
// the best wheel (downloaded and verified), else a wheel built from the
// sdist, source tree or checkout.
func (r *Resolver) wheelOf(ctx context.Context, p resolve.Resolved) (venv.Distribution, error) {
	d := venv.Distribution{Name: p.Name, Version: p.Candidate.Version.String()}
	rel, ok := p.Candidate.Ref.(*resolve.Release)
	if !ok {
		return d, fmt.Errorf("%s: not resolved from an index", p.Name)
	}
	var path string
	var err error
	switch {
	case rel.Direct != nil:
		dr := rel.Direct
		switch dr.Kind {
		case index.DirectWheel:
			path = dr.Path
			d.DirectURL = &venv.DirectURL{URL: dr.URL, ArchiveSHA256: dr.Hashes["sha256"]}
		case index.DirectSdist:
			path, err = r.finder.DirectWheel(ctx, dr, false)
			d.DirectURL = &venv.DirectURL{URL: dr.URL, ArchiveSHA256: dr.Hashes["sha256"]}
		case index.DirectDirectory:
			path, err = r.finder.DirectWheel(ctx, dr, false)
			d.DirectURL = &venv.DirectURL{URL: dr.URL, Dir: true, Subdirectory: dr.Subdirectory}
		case index.DirectVCS:
			path, err = r.finder.DirectWheel(ctx, dr, false)
			d.DirectURL = &venv.DirectURL{URL: dr.URL, Subdirectory: dr.Subdirectory}
			if dr.VCS != nil {
				d.DirectURL.VCS, d.DirectURL.CommitID, d.DirectURL.RequestedRevision = dr.VCS.Type, dr.VCS.Commit, dr.VCS.Requested
			}
		}
	default:
		best := rel.Best()
		if best == nil {
			return d, fmt.Errorf("%s %s: no installable file", p.Name, d.Version)
		}
		path, err = r.finder.Download(ctx, *best)
		if err == nil && !best.IsWheel() {
			path, err = r.finder.BuildSdist(ctx, *best, path)
		}
	}
	if err != nil {
		return d, fmt.Errorf("%s %s: %w", p.Name, d.Version, err)
	}
	d.Wheel = path
	if d.SHA256, err = filehash.SHA256(path); err != nil {
		return d, err
	}
	return d, nil
}

// nameLocal turns a path-only requirement into `NAME @ file://PATH`, as
// pip does: a wheel or sdist is named by its file name, a project
// directory by its metadata (PEP 517 prepare_metadata_for_build_wheel,
// which may build).
func (r *Resolver) nameLocal(ctx context.Context, u UnnamedRequirement) (requirements.Requirement, error) {
	fail := func(err error) (requirements.Requirement, error) {
		return requirements.Requirement{}, fmt.Errorf("%s:%d: %s: %w", u.File, u.Line, u.Path, err)
	}
	st, err := os.Stat(u.Path)
	if err != nil {
		return fail(err)
	}
	base := filepath.Base(u.Path)
	var name string
	switch {
	case st.IsDir():
		md, err := r.builder.PrepareMetadata(ctx, u.Path)
		if err != nil {
			return fail(err)
		}
		name = md.Name
	case strings.HasSuffix(base, ".whl"):
		wn, err := dist.ParseWheelFilename(base, false)
		if err != nil {
			return fail(err)
		}
		name = wn.Name
	default:
		sn, err := dist.ParseSdistFilename(base)
		if err != nil {
			return fail(fmt.Errorf("not a project directory, wheel or sdist: %w", err))
		}
		name = sn.Name
	}
	u2 := url.URL{Scheme: "file", Path: u.Path}
	rq, err := requirements.ParseRequirement(name + " @ " + u2.String())
	if err != nil {
		return fail(err)
	}
	return rq, nil
}

// installBuildRequirements resolves a build environment's requirements
// against the Resolver's sources and installs them into venvDir (adding
// to what is there: the frontend may call it twice, for [build-system]
// requires and then for the backend's get_requires_for_build_*).
func (r *Resolver) installBuildRequirements(ctx context.Context, venvDir string, reqs []string) error {
	var roots []requirements.Requirement
	for _, s := range reqs {
		rq, err := requirements.ParseRequirement(s)
		if err != nil {
			return fmt.Errorf("build requirement %q: %w", s, err)
		}
		roots = append(roots, rq)
	}
	res, err := resolve.Resolve(ctx, r.provider, roots, resolve.Options{Environment: r.env})
	if err != nil {
		return fmt.Errorf("build requirements %s: %w", strings.Join(reqs, ", "), err)
	}
	var wheels []venv.Wheel
	for _, p := range res.Packages {
		d, err := r.wheelOf(ctx, p)
		if err != nil {
			return err
		}
		wheels = append(wheels, venv.Wheel{Path: d.Wheel, SHA256: d.SHA256, DirectURL: d.DirectURL})
	}
	v, err := venv.Open(ctx, venvDir, venv.OpenOptions{Python: r.Python})
	if err != nil {
		return err
	}
	_, err = v.Install(ctx, wheels, venv.InstallOptions{NoCompile: true})
	return err
}

// LockDistributions maps a lock's packages to local wheels for
// venv.Sync: the best supported wheel of each (local path relative to
// lockDir, or downloaded and verified against the lock's sha256), else a
// wheel built from its sdist or directory. VCS entries are checked out
// again at their pinned commit.
func (r *Resolver) LockDistributions(ctx context.Context, lk *lock.Lock, lockDir string) ([]venv.Distribution, error) {
	var out []venv.Distribution
	for _, p := range lk.Packages {
		d := venv.Distribution{Name: p.Name, Version: p.Version}
		local := func(path, u string) string {
			if path == "" {
				if pu, err := url.Parse(u); err == nil && pu.Scheme == "file" {
					path = pu.Path
				}
			}
			if path != "" && !filepath.IsAbs(path) {
				path = filepath.Join(lockDir, path)
			}
			return path
		}
		var path string
		var err error
		switch {
		case len(p.Wheels) > 0:
			var names []dist.WheelName
			for _, w := range p.Wheels {
				wn, err := dist.ParseWheelFilename(w.FileName(), false)
				if err != nil {
					return nil, fmt.Errorf("lock: %s: %w", p.Name, err)
				}
				names = append(names, wn)
			}
			i := r.provider.Tags.Best(names)
			if i < 0 {
				return nil, fmt.Errorf("lock: %s %s: no wheel for this interpreter (%s)", p.Name, p.Version, r.Python.Version)
			}
			w := p.Wheels[i]
			file := index.File{Link: index.Link{Filename: w.FileName(), URL: w.URL, Hashes: w.Hashes}, Project: p.Name, Path: local(w.Path, w.URL)}
			if file.Path != "" {
				file.URL = ""
			}
			path, err = r.finder.Download(ctx, file)
		case p.Archive != nil:
			file := index.File{Link: index.Link{Filename: filepath.Base(p.Archive.URL + p.Archive.Path), URL: p.Archive.URL, Hashes: p.Archive.Hashes}, Project: p.Name, Path: local(p.Archive.Path, p.Archive.URL)}
			path, err = r.finder.Download(ctx, file)
			if err == nil && !strings.HasSuffix(path, ".whl") {
				path, err = r.finder.BuildSdist(ctx, file, path)
			}
		case p.Directory != nil:
			path, err = r.builder.BuildWheel(ctx, local(p.Directory.Path, ""), r.wheelDir, p.Directory.Editable)
		case p.Sdist != nil:
			file := index.File{Link: index.Link{Filename: p.Sdist.FileName(), URL: p.Sdist.URL, Hashes: p.Sdist.Hashes}, Project: p.Name, Path: local(p.Sdist.Path, p.Sdist.URL)}
			if path, err = r.finder.Download(ctx, file); err == nil {
				path, err = r.finder.BuildSdist(ctx, file, path)
			}
		case p.VCS != nil:
			req, perr := requirements.ParseRequirement(fmt.Sprintf("%s @ %s+%s@%s", p.Name, p.VCS.Type, p.VCS.URL+local(p.VCS.Path, ""), p.VCS.CommitID))
			if perr != nil {
				return nil, perr
			}
			dr, derr := r.finder.Direct(ctx, req)
			if derr != nil {
				return nil, derr
			}
			path, err = r.finder.DirectWheel(ctx, dr, false)
		default:
			return nil, fmt.Errorf("lock: package %s has no source", p.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("lock: %s %s: %w", p.Name, p.Version, err)
		}
		d.Wheel = path
		if d.SHA256, err = filehash.SHA256(path); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// interpreter picks the interpreter for spec's releases: see
// InstanceInterpreter; Options.Python overrides the spec's constraint.
func (m *Manager) interpreter(ctx context.Context, spec *Spec) (*venv.Interpreter, error) {
	want := spec.Python
	if m.opts.Python != "" {
		want = m.opts.Python
	}
	return InstanceInterpreter(ctx, want, InterpreterCacheDir(m.layout.Root))
}

// InstanceInterpreter picks the interpreter an instance's releases are
// built with, for want (a version constraint, a path or a command name):
// the newest that satisfies it. Running as root, it must also be usable
// by instance users: an interpreter under /root (pyenv's default) is not,
// and a venv made from it would not start. `deploykit lock --spec` uses it
// too, so a lock is made for the interpreter create and upgrade will use.
func InstanceInterpreter(ctx context.Context, want, cacheDir string) (*venv.Interpreter, error) {
	dopts := venv.DiscoverOptions{CacheDir: cacheDir}
	if os.Geteuid() != 0 || strings.ContainsRune(want, os.PathSeparator) || strings.HasPrefix(want, "python") {
		return venv.FindPython(ctx, want, dopts)
	}
	// Look only where instance users can execute: directories of PATH
	// others may enter (not /root/.pyenv/shims, whose shell scripts are
	// also slow to ask), and pyenv's versions only if they are reachable.
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if filepath.IsAbs(d) && worldExecutable(d) {
			dirs = append(dirs, d)
		}
	}
	dopts.SearchPath = strings.Join(dirs, string(os.PathListSeparator))
	pyenv := os.Getenv("PYENV_ROOT")
	if pyenv == "" {
		if home, err := os.UserHomeDir(); err == nil {
			pyenv = filepath.Join(home, ".pyenv")
		}
	}
	if pyenv == "" || !worldExecutable(pyenv) {
		dopts.PyenvRoot = filepath.Join(cacheDir, "no-pyenv")
	}
	cands, err := venv.Discover(ctx, dopts)
	if err != nil {
		return nil, err
	}
	dopts = venv.DiscoverOptions{CacheDir: dopts.CacheDir, OnlyPaths: true}
	for _, c := range cands {
		if c.Interpreter != nil && worldExecutable(c.Interpreter.RealPath) {
			dopts.Paths = append(dopts.Paths, c.Path)
		}
	}
	py, err := venv.Find(ctx, want, dopts)
	if err != nil {
		return nil, fmt.Errorf("%w (interpreters instance users cannot execute, such as those under /root, are not considered)", err)
	}
	return py, nil
}

// worldExecutable reports whether any user may run the program at path:
// it and every directory above it are executable by others.
func worldExecutable(path string) bool {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == "/" {
			return true
		}
	}
}

// buildRelease makes release id: a copy of the spec and its migrations,
// the lock (resolved from the spec, or derived from base) and the venv
// holding exactly the lock, linked from the shared cache, and starts
// byte-compiling it in the background (rc; the compile step finishes the
// release: compile.go). A directory left by an interrupted build is
// removed first: a release dir either is complete or is being built under
// the journal.
func (m *Manager) buildRelease(ctx context.Context, st *State, spec *Spec, id string, base buildBase, rc *releaseCompile) error {
	l := m.layout
	dir := l.ReleaseDir(st.Name, id)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := spec.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.ReleaseSpec(st.Name, id), b, 0o644); err != nil {
		return err
	}
	if err := copyMigrations(spec, l.ReleaseMigrations(st.Name, id)); err != nil {
		return err
	}
	py, err := m.interpreter(ctx, spec)
	if err != nil {
		return err
	}
	reqs, err := ParseRequirements(ctx, spec, m.opts.Sources)
	if err != nil {
		return err
	}
	lopts := LockOptions{Logger: m.log}
	if base.lockFile != "" {
		prev, err := lock.ReadFile(base.lockFile)
		if err != nil {
			return err
		}
		lopts.Previous = prev
		for _, c := range base.changes {
			r, err := requirements.ParseRequirement(c)
			if err != nil {
				return err // quotes the requirement and says where it is wrong
			}
			lopts.Changes = append(lopts.Changes, r)
			lopts.UpgradePackages = append(lopts.UpgradePackages, requirements.NormalizeName(r.Name))
		}
	}
	rs, err := NewResolver(ctx, py, reqs.Sources, l.CacheDir(), m.log)
	if err != nil {
		return err
	}
	defer rs.Close()
	locked, err := rs.Resolve(ctx, reqs, lopts)
	if err != nil {
		return err
	}
	if err := lock.WriteFile(l.ReleaseLock(st.Name, id), locked.Lock); err != nil {
		return err
	}
	dists := locked.Dists
	v, err := venv.Create(ctx, l.ReleaseVenv(st.Name, id), py, venv.CreateOptions{Prompt: st.Name, CacheDir: l.CacheDir(), Logger: m.log})
	if err != nil {
		return err
	}
	cache, err := venv.OpenCache(l.CacheDir(), venv.CacheOptions{Logger: m.log})
	if err != nil {
		return err
	}
	if _, err := v.Sync(ctx, dists, venv.InstallOptions{Cache: cache, NoCompile: true, Logger: m.log, OnEvent: func(e venv.Event) {
		m.emit(Event{Instance: st.Name, Op: "build", Kind: EventProgress, Step: "build", Current: int64(e.Done), Total: int64(e.Total), Message: e.Name})
	}}); err != nil {
		return err
	}
	m.startCompile(ctx, rc, st, v, dists, cache)
	return nil
}

// countLocked returns the number of packages in a release's lock.
func (m *Manager) countLocked(name, id string) int {
	lk, err := lock.ReadFile(m.layout.ReleaseLock(name, id))
	if err != nil {
		return 0
	}
	return len(lk.Packages)
}
