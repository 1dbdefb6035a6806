package index

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/requirements/dist"
)

// errDynamic: the sdist's metadata is not static, a build is needed.
var errDynamic = errors.New("metadata is not static")

// ErrNoBuilder is wrapped when a source needs a PEP 517 build and no
// Builder was configured.
var ErrNoBuilder = errors.New("a build is needed but no builder is configured")

const maxPKGINFO = 16 << 20

// readSdistMetadata reads {name}-{version}/PKG-INFO from an sdist and
// returns it when it is trustworthy without a build (PEP 643: metadata
// 2.2 or later, and neither Requires-Dist nor Requires-Python dynamic).
func readSdistMetadata(p string) (*dist.Metadata, error) {
	data, err := sdistMember(p, "PKG-INFO")
	if err != nil {
		return nil, err
	}
	md, err := dist.ParseMetadata(filepath.Base(p)+"/PKG-INFO", data)
	if err != nil {
		return nil, err
	}
	if !staticMetadata(md) {
		return nil, errDynamic
	}
	return md, nil
}

func staticMetadata(md *dist.Metadata) bool {
	var major, minor int
	if _, err := fmt.Sscanf(md.MetadataVersion, "%d.%d", &major, &minor); err != nil {
		return false
	}
	if major < 2 || major == 2 && minor < 2 {
		return false
	}
	for _, d := range md.Dynamic {
		switch strings.ToLower(d) {
		case "requires-dist", "requires-python", "provides-extra":
			return false
		}
	}
	return true
}

// sdistMember reads TOP/name where TOP is the archive's single top-level
// directory.
func sdistMember(p, name string) ([]byte, error) {
	switch {
	case strings.HasSuffix(p, ".zip"):
		zr, err := zip.OpenReader(p)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if isTopMember(f.Name, name) {
				rc, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, maxPKGINFO))
			}
		}
	default:
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return nil, fmt.Errorf("not a gzip archive: %w", err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if isTopMember(h.Name, name) {
				return io.ReadAll(io.LimitReader(tr, maxPKGINFO))
			}
		}
	}
	return nil, fmt.Errorf("no %s at the top of the archive", name)
}

func isTopMember(member, name string) bool {
	member = strings.TrimPrefix(member, "./")
	dir, base := path.Split(member)
	return base == name && strings.Count(strings.TrimSuffix(dir, "/"), "/") == 0 && dir != ""
}

// extractSdist unpacks an sdist into dst and returns its top directory.
// Members escaping dst, links, and devices are refused.
func extractSdist(p, dst string) (string, error) {
	write := func(name string, mode os.FileMode, r io.Reader) error {
		clean := path.Clean(strings.TrimPrefix(name, "./"))
		if clean == "." || strings.HasPrefix(clean, "../") || clean == ".." || path.IsAbs(clean) {
			return fmt.Errorf("archive member %q escapes the archive", name)
		}
		target := filepath.Join(dst, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm()|0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if strings.HasSuffix(p, ".zip") {
		zr, err := zip.OpenReader(p)
		if err != nil {
			return "", err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			if !f.Mode().IsRegular() {
				return "", fmt.Errorf("archive member %q is not a regular file", f.Name)
			}
			rc, err := f.Open()
			if err != nil {
				return "", err
			}
			err = write(f.Name, f.Mode(), rc)
			rc.Close()
			if err != nil {
				return "", err
			}
		}
	} else {
		fh, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return "", err
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", err
			}
			switch h.Typeflag {
			case tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
				continue
			case tar.TypeReg:
				if err := write(h.Name, os.FileMode(h.Mode), tr); err != nil {
					return "", err
				}
			default:
				return "", fmt.Errorf("archive member %q is not a regular file", h.Name)
			}
		}
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].IsDir() {
		return filepath.Join(dst, ents[0].Name()), nil
	}
	return dst, nil
}

// buildMetadata builds a wheel from an sdist (cached by the sdist's
// sha256) and reads its metadata.
func (f *Finder) buildMetadata(ctx context.Context, file File, sdistPath string) (*dist.Metadata, error) {
	whl, err := f.BuildSdist(ctx, file, sdistPath)
	if err != nil {
		return nil, err
	}
	return dist.ReadWheelMetadata(ctx, whl)
}

// BuildSdist builds (once, then from the cache) the wheel of an sdist.
func (f *Finder) BuildSdist(ctx context.Context, file File, sdistPath string) (string, error) {
	if f.opts.Builder == nil {
		return "", fmt.Errorf("%s from %s: %w", file.Filename, file.Source, ErrNoBuilder)
	}
	sum, err := filehash.SHA256(sdistPath)
	if err != nil {
		return "", err
	}
	out := filepath.Join(f.cache, "built-v1", sum)
	if ents, err := os.ReadDir(out); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".whl") {
				return filepath.Join(out, e.Name()), nil
			}
		}
	}
	work, err := os.MkdirTemp(f.cache, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	src, err := extractSdist(sdistPath, filepath.Join(work, "src"))
	if err != nil {
		return "", fmt.Errorf("%s from %s: %w", file.Filename, file.Source, err)
	}
	whlDir := filepath.Join(work, "wheel")
	if err := os.MkdirAll(whlDir, 0o755); err != nil {
		return "", err
	}
	whl, err := f.opts.Builder.BuildWheel(ctx, src, whlDir, false)
	if err != nil {
		return "", fmt.Errorf("building %s from %s: %w", file.Filename, file.Source, err)
	}
	// Publish the built wheel by renaming a complete directory.
	stage := filepath.Join(work, "out")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(whl, filepath.Join(stage, filepath.Base(whl))); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(stage, out); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(out); statErr != nil {
			return "", err
		}
	}
	return filepath.Join(out, filepath.Base(whl)), nil
}
