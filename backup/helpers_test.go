package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/deploykit/deploykit/backup/archive"
)

func decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compressRaw(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// rawWriter writes archives without the archive.Writer's checks, to make
// hostile ones. They have a valid manifest (instance "prod", dir "data")
// and no seal.
type rawWriter struct {
	t  *testing.T
	tw *tar.Writer
}

func (w *rawWriter) write(h *tar.Header, body string) {
	h.Format = tar.FormatPAX
	if h.Typeflag == tar.TypeReg {
		s := sha256.Sum256([]byte(body))
		h.PAXRecords = map[string]string{archive.PAXSHA256: hex.EncodeToString(s[:])}
		h.Size = int64(len(body))
	}
	if err := w.tw.WriteHeader(h); err != nil {
		w.t.Fatal(err)
	}
	io.WriteString(w.tw, body)
}

func (w *rawWriter) file(name, body string) {
	w.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, body)
}
func (w *rawWriter) dir(name string) {
	w.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}, "")
}
func (w *rawWriter) symlink(name, target string) {
	w.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, "")
}
func (w *rawWriter) hardlink(name, target string) {
	w.write(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}, "")
}
func (w *rawWriter) device(name string) {
	w.write(&tar.Header{Typeflag: tar.TypeChar, Name: name, Devmajor: 1, Devminor: 3, Mode: 0o666}, "")
}

func rawArchive(t *testing.T, fill func(w *rawWriter)) []byte {
	t.Helper()
	return rawArchiveOf(t, archive.Manifest{Format: archive.FormatVersion, Instance: "prod", Dirs: []string{"data"}}, fill)
}

// rawArchiveOf is rawArchive with another manifest.
func rawArchiveOf(t *testing.T, m archive.Manifest, fill func(w *rawWriter)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := &rawWriter{t: t, tw: tar.NewWriter(&buf)}
	man, _ := json.Marshal(m)
	w.file(archive.ManifestName, string(man))
	fill(w)
	w.tw.Flush()
	return compressRaw(t, buf.Bytes())
}
