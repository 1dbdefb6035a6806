package venv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/deploykit/deploykit/requirements"
)

// opCompile is apply's operation for Compile: prepare the wheels (from
// the cache) and their compiled modules, and place only those and the
// RECORDs that list them.
const opCompile = "compile"

// Compile byte-compiles the modules of dists, which Install or Sync put
// into the venv without compiling (InstallOptions.NoCompile): each
// wheel's modules are compiled into the cache once per interpreter (or
// found there), linked into the venv, and added to the distribution's
// RECORD. The venv ends exactly as an install that compiled would have
// left it, in one transaction (see Install).
//
// Installing first and compiling after lets a caller use the time CPython
// spends compiling for work that does not need compiled modules: instance
// provisions a release's database meanwhile. opts.NoCompile is ignored;
// the wheels are read from the cache (opts.Cache) or, without one,
// unpacked again. A distribution of dists that is not installed, or was
// installed from another wheel, is an error wrapping ErrNotInstalled or
// ErrDistMismatch.
func (v *Venv) Compile(ctx context.Context, dists []Distribution, opts InstallOptions) ([]Dist, error) {
	wheels := make([]Wheel, 0, len(dists))
	for _, d := range dists {
		wheels = append(wheels, Wheel{Path: d.Wheel, SHA256: d.SHA256, DirectURL: d.DirectURL, Requested: d.Requested, expectVersion: d.Version})
	}
	sort.Slice(wheels, func(i, j int) bool { return wheels[i].Path < wheels[j].Path })
	res, err := v.apply(ctx, opCompile, wheels, nil, opts)
	if err != nil {
		return nil, err
	}
	return res.installed, nil
}

// planCompiled plans the compiled modules of an installed wheel: planWheel
// with the modules, keeping only what compiling adds to an install made
// without — the .pyc files and the RECORD that lists them.
func (v *Venv) planCompiled(p *prepared, installed map[string]Dist, c *Cache) ([]placement, Dist, error) {
	e := p.entry
	d, ok := installed[requirements.NormalizeName(e.Name)]
	if !ok {
		return nil, Dist{}, fmt.Errorf("compiling %s %s: %w", e.Name, e.Version, ErrNotInstalled)
	}
	if !sameVersion(d.Version, e.Version) || !c.installedFrom(e.SHA256, d.DistInfo) {
		return nil, Dist{}, &WheelError{Wheel: p.w.Path, Err: fmt.Errorf("%w: compiling %s %s, but %s %s is installed from another wheel", ErrDistMismatch, e.Name, e.Version, d.Name, d.Version)}
	}
	all, dist, err := v.planWheel(p)
	if err != nil {
		return nil, Dist{}, err
	}
	if dist.DistInfo != d.DistInfo {
		return nil, Dist{}, &WheelError{Wheel: p.w.Path, Err: fmt.Errorf("%w: the wheel's metadata is %s, the venv's %s", ErrDistMismatch, dist.DistInfo, d.DistInfo)}
	}
	record := filepath.Join(dist.DistInfo, "RECORD")
	var out []placement
	for _, pl := range all {
		switch {
		case pl.dest == record || (p.pyc != nil && pl.src != "" && strings.HasPrefix(pl.src, p.pyc.dir+string(filepath.Separator))):
			out = append(out, pl)
		case pl.src == "":
			// A generated file (launcher, INSTALLER, REQUESTED,
			// direct_url.json): the new RECORD lists it with the hash
			// of this content, so it must be what is installed — the
			// same wheel installed the same way.
			if b, err := os.ReadFile(pl.dest); err != nil || !bytes.Equal(b, pl.data) {
				return nil, Dist{}, &WheelError{Wheel: p.w.Path, File: pl.dest, Err: fmt.Errorf("%w: %s %s was installed otherwise (direct URL, requested, interpreter)", ErrDistMismatch, e.Name, e.Version)}
			}
		}
	}
	return out, dist, nil
}
