package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/requirements/dist"
)

// WheelOf returns a local wheel for an index or find-links file: the
// wheel itself (downloaded and verified), or the wheel built from the
// sdist (cached by the sdist's sha256).
func (f *Finder) WheelOf(ctx context.Context, file File) (string, error) {
	p, err := f.Download(ctx, file)
	if err != nil {
		return "", err
	}
	if file.IsWheel() {
		return p, nil
	}
	return f.BuildSdist(ctx, file, p)
}

// DirectWheel returns a local wheel for a direct reference: the wheel
// file, or one built from the sdist, directory or checkout with the
// Builder (editable: a PEP 660 wheel, for directories).
func (f *Finder) DirectWheel(ctx context.Context, d *Direct, editable bool) (string, error) {
	switch d.Kind {
	case DirectWheel:
		return d.Path, nil
	case DirectSdist:
		name := filepath.Base(d.Path)
		file := File{Link: Link{Filename: name, URL: d.URL, Hashes: d.Hashes}, Source: d.URL, Path: d.Path}
		if s, err := dist.ParseSdistFilename(name); err == nil {
			file.Project, file.Version = s.Name, s.Version
		}
		return f.BuildSdist(ctx, file, d.Path)
	case DirectDirectory, DirectVCS:
		if f.opts.Builder == nil {
			return "", fmt.Errorf("%s: %w", d.URL, ErrNoBuilder)
		}
		out := filepath.Join(f.cache, "direct-v1")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		whl, err := f.opts.Builder.BuildWheel(ctx, d.Path, out, editable)
		if err != nil {
			return "", fmt.Errorf("building %s: %w", d.URL, err)
		}
		return whl, nil
	}
	return "", fmt.Errorf("%s: unknown direct reference kind %d", d.URL, d.Kind)
}
