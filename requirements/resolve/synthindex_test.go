package resolve

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/requirements"
)

// synthDist describes a tiny wheel made for a test.
type synthDist struct {
	name, version  string
	tag            string // default py3-none-any
	deps           []string
	extras         []string
	requiresPython string // in METADATA
	indexRP        string // data-requires-python ("" = same as requiresPython)
	yanked         bool
	// sdist makes a source distribution (static PKG-INFO 2.2, so no
	// build is needed to read it) instead of a wheel.
	sdist bool
}

// buildIndex writes tiny real wheels and a PEP 503 index (with PEP 658
// metadata files) under dir: dir/simple/NAME/index.html, dir/files/.
func buildIndex(t testing.TB, dir string, dists []synthDist) {
	t.Helper()
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		file, sha, mdSha, rp string
		yanked               bool
	}
	byProject := map[string][]entry{}
	for _, d := range dists {
		tag := d.tag
		if tag == "" {
			tag = "py3-none-any"
		}
		distName := strings.ReplaceAll(requirements.NormalizeName(d.name), "-", "_")
		fn := fmt.Sprintf("%s-%s-%s.whl", distName, d.version, tag)
		mdVersion := "2.1"
		if d.sdist {
			fn = fmt.Sprintf("%s-%s.tar.gz", distName, d.version)
			mdVersion = "2.2"
		}
		var md strings.Builder
		fmt.Fprintf(&md, "Metadata-Version: %s\nName: %s\nVersion: %s\n", mdVersion, d.name, d.version)
		if d.requiresPython != "" {
			fmt.Fprintf(&md, "Requires-Python: %s\n", d.requiresPython)
		}
		for _, e := range d.extras {
			fmt.Fprintf(&md, "Provides-Extra: %s\n", e)
		}
		for _, r := range d.deps {
			fmt.Fprintf(&md, "Requires-Dist: %s\n", r)
		}
		if d.sdist {
			data := tarGz(t, map[string]string{
				distName + "-" + d.version + "/PKG-INFO":       md.String(),
				distName + "-" + d.version + "/pyproject.toml": "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
			})
			if err := os.WriteFile(filepath.Join(files, fn), data, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			n := requirements.NormalizeName(d.name)
			byProject[n] = append(byProject[n], entry{file: fn, sha: hex.EncodeToString(sum[:]), rp: d.requiresPython, yanked: d.yanked})
			continue
		}
		info := fmt.Sprintf("%s-%s.dist-info", distName, d.version)
		members := []struct{ name, body string }{
			{distName + "/__init__.py", "VERSION = " + fmt.Sprintf("%q", d.version) + "\n"},
			{info + "/METADATA", md.String()},
			{info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: deploykit-test\nRoot-Is-Purelib: true\nTag: " + tag + "\n"},
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		var record strings.Builder
		for _, m := range members {
			w, err := zw.Create(m.name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(m.body))
			sum := sha256.Sum256([]byte(m.body))
			fmt.Fprintf(&record, "%s,sha256=%s,%d\n", m.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(m.body))
		}
		fmt.Fprintf(&record, "%s/RECORD,,\n", info)
		w, _ := zw.Create(info + "/RECORD")
		w.Write([]byte(record.String()))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(files, fn), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(files, fn+".metadata"), []byte(md.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf.Bytes())
		mdSum := sha256.Sum256([]byte(md.String()))
		rp := d.indexRP
		if rp == "" {
			rp = d.requiresPython
		}
		n := requirements.NormalizeName(d.name)
		byProject[n] = append(byProject[n], entry{fn, hex.EncodeToString(sum[:]), hex.EncodeToString(mdSum[:]), rp, d.yanked})
	}
	names := make([]string, 0, len(byProject))
	for n := range byProject {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"></head><body>\n")
		for _, e := range byProject[n] {
			fmt.Fprintf(&b, `<a href="../../files/%s#sha256=%s"`, e.file, e.sha)
			if e.rp != "" {
				fmt.Fprintf(&b, ` data-requires-python="%s"`, html.EscapeString(e.rp))
			}
			if e.yanked {
				b.WriteString(` data-yanked=""`)
			}
			if e.mdSha != "" {
				fmt.Fprintf(&b, ` data-core-metadata="sha256=%s"`, e.mdSha)
			}
			fmt.Fprintf(&b, `>%s</a><br/>`+"\n", e.file)
		}
		b.WriteString("</body></html>\n")
		pd := filepath.Join(dir, "simple", n)
		if err := os.MkdirAll(pd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pd, "index.html"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarGz is a gzipped tar of the given members (sorted, for stable bytes).
func tarGz(t testing.TB, members map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		body := members[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
