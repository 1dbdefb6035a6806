package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// wheelSpec describes a pure-Python wheel the quickstart builds from the
// demo's sources (examples/quickstart/demoapp), so the demo needs no index
// and no build backend: the spec's requirements file points --find-links
// at the directory the wheels are written to.
type wheelSpec struct {
	Name     string
	Version  string
	Summary  string
	Requires []string          // Requires-Dist
	Files    map[string][]byte // archive path → content
	Scripts  map[string]string // console_scripts: name → module:function
}

// fixedTime makes wheels byte-for-byte reproducible.
var fixedTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// buildWheel writes NAME-VERSION-py3-none-any.whl into dir and returns
// its path. The layout follows the wheel spec (PEP 427/491): files at the
// root, a .dist-info directory with METADATA, WHEEL, entry_points.txt and
// a RECORD of urlsafe-base64 SHA-256 digests.
func buildWheel(dir string, w wheelSpec) (string, error) {
	dist := strings.ReplaceAll(w.Name, "-", "_")
	info := fmt.Sprintf("%s-%s.dist-info", dist, w.Version)
	files := map[string][]byte{}
	for k, v := range w.Files {
		files[k] = v
	}
	var meta strings.Builder
	fmt.Fprintf(&meta, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: >=3.8\n", w.Name, w.Version, w.Summary)
	for _, r := range w.Requires {
		fmt.Fprintf(&meta, "Requires-Dist: %s\n", r)
	}
	files[info+"/METADATA"] = []byte(meta.String())
	files[info+"/WHEEL"] = []byte("Wheel-Version: 1.0\nGenerator: deploykit-quickstart\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
	if len(w.Scripts) > 0 {
		var ep strings.Builder
		ep.WriteString("[console_scripts]\n")
		names := make([]string, 0, len(w.Scripts))
		for n := range w.Scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&ep, "%s = %s\n", n, w.Scripts[n])
		}
		files[info+"/entry_points.txt"] = []byte(ep.String())
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, n := range names {
		data := files[n]
		sum := sha256.Sum256(data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(data))
		if err := addFile(zw, n, data); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", info)
	if err := addFile(zw, info+"/RECORD", []byte(record.String())); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%s-py3-none-any.whl", dist, w.Version))
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return out, nil
}

func addFile(zw *zip.Writer, name string, data []byte) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fixedTime}
	h.SetMode(0o644)
	f, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// treeFiles reads the .py files under root in fsys into archive paths
// under prefix.
func treeFiles(fsys fs.FS, root, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".py") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		out[path.Join(prefix, rel)] = b
		return nil
	})
	return out, err
}
