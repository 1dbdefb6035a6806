package index

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/index/vcs"
)

// DirectKind says what a direct reference points at.
type DirectKind int

const (
	DirectWheel     DirectKind = iota + 1 // a wheel file (local or URL)
	DirectSdist                           // an sdist file (local or URL)
	DirectDirectory                       // a local project directory
	DirectVCS                             // a VCS checkout
)

// Direct is a resolved direct reference ("name @ url", a local path, a
// VCS URL): where the code is, pinned, and its metadata.
type Direct struct {
	Kind DirectKind
	URL  string // as given (VCS URLs without the revision), credentials removed
	// Path is the local file or source tree (for VCS: the checkout,
	// including the subdirectory).
	Path   string
	Hashes map[string]string // sha256 of a file
	// VCS pins a checkout.
	VCS          *vcs.Pin
	Subdirectory string
	Metadata     *dist.Metadata
}

// Direct resolves a direct reference. A VCS reference is checked out (the
// checkout is cached by commit) and pinned to the exact commit; a
// project directory's metadata is read from a static pyproject.toml
// [project] table, or built.
func (f *Finder) Direct(ctx context.Context, req requirements.Requirement) (*Direct, error) {
	d, err := f.direct(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Name+" @ "+Redact(req.URL), err)
	}
	if got := requirements.NormalizeName(d.Metadata.Name); got != requirements.NormalizeName(req.Name) {
		return nil, fmt.Errorf("%s @ %s: the source is project %q, not %q", req.Name, Redact(req.URL), d.Metadata.Name, req.Name)
	}
	return d, nil
}

func (f *Finder) direct(ctx context.Context, req requirements.Requirement) (*Direct, error) {
	raw := req.URL
	if vcs.IsVCS(raw) {
		ref, err := vcs.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		pin, dir, err := f.vcs.Checkout(ctx, ref)
		if err != nil {
			return nil, err
		}
		src := dir
		if ref.Subdirectory != "" {
			src = filepath.Join(dir, filepath.FromSlash(ref.Subdirectory))
		}
		md, err := f.projectMetadata(ctx, src)
		if err != nil {
			return nil, err
		}
		return &Direct{Kind: DirectVCS, URL: Redact(ref.URL), Path: src, VCS: &pin, Subdirectory: ref.Subdirectory, Metadata: md}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	frag, _ := url.ParseQuery(u.Fragment)
	sub := frag.Get("subdirectory")
	hashes := fragmentHashes(u.Fragment)
	u.Fragment, u.RawFragment = "", ""
	var local string
	switch u.Scheme {
	case "file":
		local = u.Path
	case "http", "https":
	case "":
		local = raw
	default:
		return nil, fmt.Errorf("unsupported URL scheme %q", u.Scheme)
	}
	name := fileName(u)
	if local != "" {
		abs, err := filepath.Abs(local)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			src := abs
			if sub != "" {
				src = filepath.Join(abs, filepath.FromSlash(sub))
			}
			md, err := f.projectMetadata(ctx, src)
			if err != nil {
				return nil, err
			}
			return &Direct{Kind: DirectDirectory, URL: (&url.URL{Scheme: "file", Path: abs}).String(), Path: src, Subdirectory: sub, Metadata: md}, nil
		}
		local, name = abs, filepath.Base(abs)
	}
	file := File{Link: Link{Filename: name, URL: u.String(), Hashes: hashes}, Source: Redact(u.String()), Path: local}
	switch {
	case strings.HasSuffix(name, ".whl"):
		w, err := dist.ParseWheelFilename(name, false)
		if err != nil {
			return nil, err
		}
		file.Project, file.Version, file.Wheel = w.Name, w.Version, &w
	case strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip"):
		s, err := dist.ParseSdistFilename(name)
		if err != nil {
			return nil, err
		}
		file.Project, file.Version = s.Name, s.Version
	default:
		return nil, fmt.Errorf("%q is not a wheel, an sdist or a directory", name)
	}
	p, err := f.Download(ctx, file)
	if err != nil {
		return nil, err
	}
	sum, err := filehash.SHA256(p)
	if err != nil {
		return nil, err
	}
	md, err := f.Metadata(ctx, file)
	if err != nil {
		return nil, err
	}
	kind := DirectSdist
	if file.IsWheel() {
		kind = DirectWheel
	}
	shown := Redact(u.String())
	if local != "" {
		shown = (&url.URL{Scheme: "file", Path: local}).String()
	}
	return &Direct{Kind: kind, URL: shown, Path: p, Hashes: map[string]string{"sha256": sum}, Metadata: md}, nil
}

type pyproject struct {
	Project *struct {
		Name                 string              `toml:"name"`
		Version              string              `toml:"version"`
		RequiresPython       string              `toml:"requires-python"`
		Dependencies         []string            `toml:"dependencies"`
		OptionalDependencies map[string][]string `toml:"optional-dependencies"`
		Dynamic              []string            `toml:"dynamic"`
	} `toml:"project"`
}

// errNotStatic: pyproject.toml does not give the metadata statically.
var errNotStatic = errors.New("pyproject.toml metadata is not static")

// projectMetadata reads a source tree's metadata: statically from
// pyproject.toml's [project] table (PEP 621) when name, version and
// dependencies are not dynamic, else by building a wheel.
func (f *Finder) projectMetadata(ctx context.Context, dir string) (*dist.Metadata, error) {
	md, err := staticProject(dir)
	if err == nil {
		return md, nil
	}
	if !errors.Is(err, errNotStatic) {
		return nil, err
	}
	if f.opts.Builder == nil {
		return nil, fmt.Errorf("%s: %w (%v)", dir, ErrNoBuilder, err)
	}
	out, err := os.MkdirTemp(f.cache, "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	whl, err := f.opts.Builder.BuildWheel(ctx, dir, out, false)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", dir, err)
	}
	return dist.ReadWheelMetadata(ctx, whl)
}

func staticProject(dir string) (*dist.Metadata, error) {
	data, err := os.ReadFile(filepath.Join(dir, "pyproject.toml"))
	if errors.Is(err, os.ErrNotExist) {
		if _, err2 := os.Stat(dir); err2 != nil {
			return nil, err2
		}
		return nil, fmt.Errorf("%w: no pyproject.toml", errNotStatic)
	}
	if err != nil {
		return nil, err
	}
	var pp pyproject
	if _, err := toml.Decode(string(data), &pp); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "pyproject.toml"), err)
	}
	p := pp.Project
	if p == nil {
		return nil, fmt.Errorf("%w: no [project] table", errNotStatic)
	}
	for _, d := range p.Dynamic {
		switch d {
		case "version", "dependencies", "optional-dependencies", "requires-python":
			return nil, fmt.Errorf("%w: %s is dynamic", errNotStatic, d)
		}
	}
	if p.Name == "" || p.Version == "" {
		return nil, fmt.Errorf("%w: name or version missing", errNotStatic)
	}
	var b strings.Builder
	b.WriteString("Metadata-Version: 2.2\nName: " + p.Name + "\nVersion: " + p.Version + "\n")
	if p.RequiresPython != "" {
		b.WriteString("Requires-Python: " + p.RequiresPython + "\n")
	}
	for _, d := range p.Dependencies {
		b.WriteString("Requires-Dist: " + d + "\n")
	}
	for _, extra := range sortedKeys(p.OptionalDependencies) {
		b.WriteString("Provides-Extra: " + extra + "\n")
		for _, d := range p.OptionalDependencies[extra] {
			r, err := requirements.ParseRequirement(d)
			if err != nil {
				return nil, fmt.Errorf("%s: optional-dependencies.%s: %w", filepath.Join(dir, "pyproject.toml"), extra, err)
			}
			m := `extra == "` + extra + `"`
			if r.Marker != nil {
				m = "(" + r.Marker.String() + ") and " + m
				r.Marker = nil
			}
			b.WriteString("Requires-Dist: " + r.String() + "; " + m + "\n")
		}
	}
	return dist.ParseMetadata(filepath.Join(dir, "pyproject.toml"), []byte(b.String()))
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
