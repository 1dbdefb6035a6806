package resolve

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// LockOptions tunes Resolution.Lock.
type LockOptions struct {
	CreatedBy string // default "deploykit"
	// Environments are PEP 508 markers the lock is valid for (e.g. the
	// target's python_full_version and platform).
	Environments   []string
	RequiresPython string
	// BaseDir makes local paths relative to it (the lock file's
	// directory), as PEP 751 recommends; "" keeps them absolute.
	BaseDir string
	// Editable names projects (normalized) installed in editable mode
	// (pip's -e) when they come from a directory.
	Editable map[string]bool
}

// Lock turns a resolution made with an IndexProvider into a PEP 751
// lock: for each package its usable files (every wheel the target
// supports, and the sdist) with sha256 hashes — computed from the files
// when the source gave none — or its VCS pin, directory or archive.
func (r *Resolution) Lock(ctx context.Context, f *index.Finder, opts LockOptions) (*lock.Lock, error) {
	l := &lock.Lock{CreatedBy: opts.CreatedBy, Environments: opts.Environments, RequiresPython: opts.RequiresPython}
	if l.CreatedBy == "" {
		l.CreatedBy = "deploykit"
	}
	rel := func(p string) string {
		if opts.BaseDir == "" {
			return p
		}
		if r, err := filepath.Rel(opts.BaseDir, p); err == nil {
			return r
		}
		return p
	}
	sums, err := r.sha256s(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, p := range r.Packages {
		release, ok := p.Candidate.Ref.(*Release)
		if !ok {
			return nil, fmt.Errorf("%s %s: not resolved with an IndexProvider", p.Name, p.Candidate.Version)
		}
		lp := lock.Package{Name: p.Name, RequiresPython: p.RequiresPython}
		for _, d := range p.Dependencies {
			lp.Dependencies = append(lp.Dependencies, lock.Dependency{Name: d})
		}
		if d := release.Direct; d != nil {
			switch d.Kind {
			case index.DirectVCS:
				lp.VCS = &lock.VCS{Type: d.VCS.Type, URL: d.VCS.URL, RequestedRevision: d.VCS.Requested, CommitID: d.VCS.Commit, Subdirectory: d.Subdirectory}
				if strings.HasPrefix(d.VCS.URL, "file://") {
					lp.VCS.URL, lp.VCS.Path = "", rel(strings.TrimPrefix(d.VCS.URL, "file://"))
				}
			case index.DirectDirectory:
				lp.Directory = &lock.Directory{Path: rel(strings.TrimPrefix(d.URL, "file://")), Editable: opts.Editable[p.Name], Subdirectory: d.Subdirectory}
			case index.DirectWheel, index.DirectSdist:
				lp.Version = p.Candidate.Version.String()
				a := &lock.Archive{Hashes: d.Hashes}
				if strings.HasPrefix(d.URL, "file://") {
					a.Path = rel(strings.TrimPrefix(d.URL, "file://"))
				} else {
					a.URL = d.URL
				}
				lp.Archive = a
			}
			l.Packages = append(l.Packages, lp)
			continue
		}
		lp.Version = p.Candidate.Version.String()
		for _, file := range release.Files {
			lf := lock.File{Name: file.Filename, Size: file.Size, UploadTime: file.UploadTime, Hashes: map[string]string{"sha256": sums[file.URL]}}
			if file.Path != "" {
				lf.Path = rel(file.Path)
			} else {
				lf.URL = file.URL
			}
			if lp.Index == "" {
				lp.Index = file.Index
			}
			if file.IsWheel() {
				lp.Wheels = append(lp.Wheels, lf)
			} else if lp.Sdist == nil {
				lp.Sdist = &lf
			}
		}
		l.Packages = append(l.Packages, lp)
	}
	l.Sort()
	return l, nil
}

// sha256s returns the sha256 of every index or find-links file of the
// resolution, by URL: the source's, else computed from the downloaded
// file. Downloads run in parallel, bounded as the Finder's requests are.
func (r *Resolution) sha256s(ctx context.Context, f *index.Finder) (map[string]string, error) {
	sums := map[string]string{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(index.DefaultConcurrency)
	for _, p := range r.Packages {
		release, ok := p.Candidate.Ref.(*Release)
		if !ok || release.Direct != nil {
			continue
		}
		for _, file := range release.Files {
			if h := file.Hashes["sha256"]; h != "" {
				mu.Lock()
				sums[file.URL] = h
				mu.Unlock()
				continue
			}
			g.Go(func() error {
				sum, err := f.SHA256(gctx, file)
				if err != nil {
					return fmt.Errorf("%s %s: %w", p.Name, p.Candidate.Version, err)
				}
				mu.Lock()
				sums[file.URL] = sum
				mu.Unlock()
				return nil
			})
		}
	}
	return sums, g.Wait()
}

// LockPreferences returns the versions pinned in an existing lock, for
// Options.Preferences.
func LockPreferences(l *lock.Lock) map[string]pep440.Version {
	out := map[string]pep440.Version{}
	if l == nil {
		return out
	}
	for _, p := range l.Packages {
		if p.Version == "" {
			continue
		}
		if v, err := pep440.Parse(p.Version); err == nil {
			out[requirements.NormalizeName(p.Name)] = v
		}
	}
	return out
}
