package resolve

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/deploykit/deploykit/internal/lazyregexp"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// IndexProvider is the Provider over an index.Finder's sources (indexes,
// find-links, local files, VCS): the files of a version that the target
// can install (wheel tags in Tags, or an sdist) make one candidate.
type IndexProvider struct {
	Finder *index.Finder
	// Tags are the target interpreter's supported wheel tags
	// (dist.SupportedTags); wheels with none of them are ignored.
	Tags dist.TagSet
	// Python is the target's python_full_version: files whose
	// data-requires-python excludes it are dropped (a version left with
	// none keeps its Requires-Python, so the resolver can say why).
	Python pep440.Version
	// OnlyBinary ignores sdists (pip's --only-binary :all:).
	OnlyBinary bool
	// Format is pip's per-project --no-binary / --only-binary.
	Format FormatControl
	// Hashes restricts projects to files with one of the given hashes
	// ("sha256:HEX", pip's --hash in hash-checking mode), by normalized
	// name. A file whose source gives no hash is hashed after download.
	Hashes map[string][]string
}

// FormatControl is pip's --no-binary / --only-binary: normalized project
// names, or ":all:".
type FormatControl struct {
	NoBinary   []string
	OnlyBinary []string
}

// Allowed says whether wheels and sdists of a project may be used, with
// pip's precedence (FormatControl.get_allowed_formats): a project named
// in --only-binary, then in --no-binary, then ":all:" in either.
func (fc FormatControl) Allowed(project string) (wheels, sdists bool) {
	n := requirements.NormalizeName(project)
	has := func(l []string, x string) bool {
		for _, v := range l {
			if v == x || x != ":all:" && requirements.NormalizeName(v) == x {
				return true
			}
		}
		return false
	}
	switch {
	case has(fc.OnlyBinary, n):
		return true, false
	case has(fc.NoBinary, n):
		return false, true
	case has(fc.OnlyBinary, ":all:"):
		return true, false
	case has(fc.NoBinary, ":all:"):
		return false, true
	}
	return true, true
}

// Release is a Candidate's Ref for IndexProvider: the usable files of one
// version, best wheel first, sdists last.
type Release struct {
	Files []index.File
	// Direct is set for a direct reference (local path, URL, VCS).
	Direct *index.Direct
}

// Best returns the file to install: the best-ranked wheel, else the sdist.
func (r *Release) Best() *index.File {
	if len(r.Files) == 0 {
		return nil
	}
	return &r.Files[0]
}

// Versions implements Provider.
func (p *IndexProvider) Versions(ctx context.Context, name string) ([]Candidate, error) {
	files, err := p.Finder.Files(ctx, name)
	if err != nil {
		return nil, err
	}
	type group struct {
		v     pep440.Version
		files []index.File
		ranks []int
		rp    string // an incompatible Requires-Python, when all files were dropped for it
	}
	groups := map[string]*group{}
	var order []string
	for _, f := range files {
		rank := 1 << 30 // sdists after every wheel
		wheels, sdists := p.Format.Allowed(name)
		if f.IsWheel() && !wheels || !f.IsWheel() && !sdists {
			continue
		}
		if f.IsWheel() {
			r, ok := p.Tags.Rank(f.Wheel.Tags)
			if !ok {
				continue
			}
			rank = r
		} else if p.OnlyBinary {
			continue
		}
		if allowed := p.Hashes[requirements.NormalizeName(name)]; len(allowed) > 0 {
			ok, err := p.hashAllowed(ctx, f, allowed)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		key := f.Version.String()
		g := groups[key]
		if g == nil {
			g = &group{v: f.Version}
			groups[key] = g
			order = append(order, key)
		}
		if f.RequiresPython != "" && p.Python.String() != "0" {
			if spec, err := pep440.ParseSpecifiers(f.RequiresPython); err == nil && !spec.ContainsWith(p.Python, pep440.PrereleaseAllow) {
				g.rp = f.RequiresPython
				continue
			}
		}
		g.files = append(g.files, f)
		g.ranks = append(g.ranks, rank)
	}
	var out []Candidate
	for _, key := range order {
		g := groups[key]
		c := Candidate{Name: requirements.NormalizeName(name), Version: g.v}
		if len(g.files) == 0 {
			c.RequiresPython = g.rp
			c.Ref = &Release{}
			out = append(out, c)
			continue
		}
		idx := make([]int, len(g.files))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return g.ranks[idx[a]] < g.ranks[idx[b]] })
		rel := &Release{}
		yanked := true
		for _, i := range idx {
			rel.Files = append(rel.Files, g.files[i])
			if !g.files[i].Yanked {
				yanked = false
			}
			if g.files[i].IsWheel() {
				c.Wheel = true
			}
		}
		c.Yanked = yanked
		c.Ref = rel
		out = append(out, c)
	}
	return out, nil
}

func (p *IndexProvider) hashAllowed(ctx context.Context, f index.File, allowed []string) (bool, error) {
	for _, a := range allowed {
		alg, want, _ := strings.Cut(a, ":")
		if got, ok := f.Hashes[alg]; ok {
			if got == strings.ToLower(want) {
				return true, nil
			}
			continue
		}
		if alg == "sha256" {
			got, err := p.Finder.SHA256(ctx, f)
			if err != nil {
				return false, err
			}
			if got == strings.ToLower(want) {
				return true, nil
			}
		}
	}
	return false, nil
}

// Sources implements SourceLister.
func (p *IndexProvider) Sources() []string { return p.Finder.Sources() }

// Metadata implements Provider: the best file's core metadata (PEP 658
// file, wheel, static sdist PKG-INFO, or a build).
func (p *IndexProvider) Metadata(ctx context.Context, c Candidate) (*Metadata, error) {
	rel, ok := c.Ref.(*Release)
	if !ok {
		return nil, fmt.Errorf("%s %s: not a candidate of this provider", c.Name, c.Version)
	}
	if rel.Direct != nil {
		return convertMetadata(rel.Direct.Metadata, c)
	}
	best := rel.Best()
	if best == nil {
		return nil, fmt.Errorf("%s %s: no installable file", c.Name, c.Version)
	}
	md, err := p.Finder.Metadata(ctx, *best)
	if err != nil {
		return nil, err
	}
	return convertMetadata(md, c)
}

// CheapMetadata implements CheapMetadata: a wheel's metadata is a PEP 658
// file or the wheel's own METADATA, while an sdist's or a direct
// reference's may take a build.
func (p *IndexProvider) CheapMetadata(c Candidate) bool {
	rel, ok := c.Ref.(*Release)
	return ok && rel.Direct == nil && rel.Best() != nil && rel.Best().IsWheel()
}

func convertMetadata(md *dist.Metadata, c Candidate) (*Metadata, error) {
	out := &Metadata{ProvidesExtra: md.Extras()}
	for _, s := range md.RequiresDist {
		r, err := requirements.ParseRequirement(s)
		if err != nil {
			// Distributors write "x>=1.0+ds", which packaging 22+ rejects
			// and older pip accepted as a legacy specifier. Dropping the
			// local label keeps the intended bound.
			fixed := localLabel.ReplaceAllString(s, "$1")
			r2, err2 := requirements.ParseRequirement(fixed)
			if err2 != nil {
				return nil, fmt.Errorf("%s %s: Requires-Dist %q: %w", c.Name, c.Version, s, err)
			}
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s %s: invalid Requires-Dist %q read as %q", c.Name, c.Version, s, r2.String()))
			r = r2
		}
		out.RequiresDist = append(out.RequiresDist, r)
	}
	rp, err := md.PythonSpecifiers()
	if err != nil {
		return nil, fmt.Errorf("%s %s: Requires-Python %q: %w", c.Name, c.Version, md.RequiresPython, err)
	}
	out.RequiresPython = rp
	return out, nil
}

// localLabel matches a local version label after a version in a
// specifier: "4.7.2+ds" -> "4.7.2".
var localLabel = lazyregexp.New(`([0-9])\+[A-Za-z0-9.]+`)

// Direct implements DirectProvider: local wheels, sdists, project
// directories, archive URLs and VCS URLs.
func (p *IndexProvider) Direct(ctx context.Context, req requirements.Requirement) (Candidate, error) {
	d, err := p.Finder.Direct(ctx, req)
	if err != nil {
		return Candidate{}, err
	}
	v, err := d.Metadata.ParsedVersion()
	if err != nil {
		return Candidate{}, fmt.Errorf("%s: metadata version %q: %w", req.String(), d.Metadata.Version, err)
	}
	return Candidate{Name: requirements.NormalizeName(req.Name), Version: v, Ref: &Release{Direct: d}}, nil
}
