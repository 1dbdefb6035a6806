package dist

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/deploykit/deploykit/requirements/pep440"
)

// ReadSdistMetadata reads PKG-INFO from the top directory of a source
// distribution ({name}-{version}/PKG-INFO in a .tar.gz or .zip). Whether
// its fields can be trusted without a build is StaticDependencies' call.
func ReadSdistMetadata(ctx context.Context, sdistPath string) (*Metadata, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fail := func(msg string, err error) (*Metadata, error) {
		return nil, &MetadataError{File: sdistPath, Msg: msg, Err: err}
	}
	isPkgInfo := func(name string) bool {
		name = strings.TrimPrefix(name, "./")
		dir, base, ok := strings.Cut(name, "/")
		return ok && dir != "" && base == "PKG-INFO"
	}
	var data []byte
	var member string
	switch {
	case strings.HasSuffix(sdistPath, ".zip"):
		zr, err := zip.OpenReader(sdistPath)
		if err != nil {
			return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !isPkgInfo(f.Name) {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
			}
			data, err = io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
			rc.Close()
			if err != nil {
				return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
			}
			member = f.Name
			break
		}
	case strings.HasSuffix(sdistPath, ".tar.gz"):
		fh, err := os.Open(sdistPath)
		if err != nil {
			return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
		}
		defer fh.Close()
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
		}
		tr := tar.NewReader(gz)
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
			}
			if h.Typeflag != tar.TypeReg || !isPkgInfo(h.Name) {
				continue
			}
			data, err = io.ReadAll(io.LimitReader(tr, maxMetadataSize+1))
			if err != nil {
				return fail(err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
			}
			member = h.Name
			break
		}
	default:
		return fail("not a .tar.gz or .zip source distribution", ErrInvalidSdistFilename)
	}
	if member == "" {
		return fail("no top-level */PKG-INFO", ErrNoMetadata)
	}
	if len(data) > maxMetadataSize {
		return fail(member+" is larger than 16 MiB", ErrInvalidMetadata)
	}
	return ParseMetadata(sdistPath+"!"+member, data)
}

// StaticDependencies reports whether Requires-Dist and Requires-Python of
// an sdist's PKG-INFO are final (PEP 643: Metadata-Version 2.2 or later
// and neither field listed as Dynamic), so a resolver may use them
// without building the sdist.
func (m *Metadata) StaticDependencies() bool {
	mv, err := pep440.Parse(m.MetadataVersion)
	if err != nil || mv.Compare(pep440.MustParse("2.2")) < 0 {
		return false
	}
	for _, d := range m.Dynamic {
		switch strings.ToLower(d) {
		case "requires-dist", "requires-python":
			return false
		}
	}
	return true
}
