package venv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Distribution is one member of the exact set Sync makes a venv hold:
// typically a package of a pylock.toml, resolved to a local wheel file.
type Distribution struct {
	Name    string
	Version string
	Wheel   string // local wheel file
	SHA256  string // the wheel's hex digest; required, verified
	// DirectURL is written as direct_url.json (for URL, VCS and directory
	// requirements) and compared with the installed one.
	DirectURL *DirectURL
	Requested bool
}

// SyncResult says what Sync changed.
type SyncResult struct {
	Installed []Dist // new or replaced
	Removed   []Dist // no longer wanted
	Unchanged []Dist
}

// Sync makes the venv hold exactly dists: it installs what is missing,
// replaces what differs (version, direct URL, or — with a shared cache,
// which records which wheel each venv's distribution came from — the
// wheel's sha256, e.g. a rebuild of the same version), and removes every other
// distribution — pip, setuptools and wheel too, unless they are in dists.
// Wheels are hashed against SHA256, unpacked and compiled in parallel
// (opts.Jobs), and the whole change is one transaction (see Install).
func (v *Venv) Sync(ctx context.Context, dists []Distribution, opts InstallOptions) (*SyncResult, error) {
	fail := func(err error) (*SyncResult, error) { return nil, &VenvError{Dir: v.Dir, Op: "sync", Err: err} }
	want := map[string]Distribution{}
	for _, d := range dists {
		cn := requirements.NormalizeName(d.Name)
		if _, dup := want[cn]; dup {
			return fail(fmt.Errorf("%s is listed twice", d.Name))
		}
		if err := validSHA256Hex(d.SHA256); err != nil {
			return fail(fmt.Errorf("%s %s: %w", d.Name, d.Version, err))
		}
		wn, err := parseWheelName(filepath.Base(d.Wheel))
		if err != nil {
			return fail(&WheelError{Wheel: d.Wheel, Err: err})
		}
		if requirements.NormalizeName(wn.Name) != cn || !sameVersion(wn.Version, d.Version) {
			return fail(&WheelError{Wheel: d.Wheel, Err: fmt.Errorf("%w: the file is %s %s, the lock says %s %s", ErrDistMismatch, wn.Name, wn.Version, d.Name, d.Version)})
		}
		want[cn] = d
	}
	unlock, err := lockDir(v.Dir)
	if err != nil {
		return fail(err)
	}
	installed, err := v.installedByName()
	unlock()
	if err != nil {
		return fail(err)
	}
	res := &SyncResult{}
	var remove []string
	for cn, d := range installed {
		w, ok := want[cn]
		switch {
		case !ok:
			remove = append(remove, cn)
		case sameVersion(d.Version, w.Version) && sameDirectURL(d, w.DirectURL) && opts.Cache.installedFrom(w.SHA256, d.DistInfo):
			res.Unchanged = append(res.Unchanged, d)
			delete(want, cn)
		}
	}
	var wheels []Wheel
	for _, d := range want {
		wheels = append(wheels, Wheel{Path: d.Wheel, SHA256: d.SHA256, DirectURL: d.DirectURL, Requested: d.Requested, expectVersion: d.Version})
	}
	sort.Slice(wheels, func(i, j int) bool { return wheels[i].Path < wheels[j].Path })
	sort.Strings(remove)
	if len(wheels) == 0 && len(remove) == 0 {
		return res, nil
	}
	r, err := v.apply(ctx, "sync", wheels, remove, opts)
	if err != nil {
		return nil, err
	}
	res.Installed = r.installed
	for _, d := range r.removed {
		if _, replaced := want[requirements.NormalizeName(d.Name)]; !replaced {
			res.Removed = append(res.Removed, d)
		}
	}
	return res, nil
}

func sameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, err1 := pep440.Parse(a)
	vb, err2 := pep440.Parse(b)
	return err1 == nil && err2 == nil && va.Compare(vb) == 0
}

func sameDirectURL(d Dist, want *DirectURL) bool {
	b, err := os.ReadFile(filepath.Join(d.DistInfo, "direct_url.json"))
	if want == nil {
		return err != nil // installed from an index: no record wanted
	}
	return err == nil && string(b) == string(want.JSON())
}
