package archive

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// FuzzReader feeds the reader decompressed tar streams, so mutations hit the
// tar and pax structure rather than zstd's entropy coding. Whatever the
// input, the reader must not panic, and what it accepts must obey the
// format's rules.
func FuzzReader(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tarData []byte) {
		r, err := newReader(bytes.NewReader(tarData), ReaderOptions{Instance: "prod"})
		checkAccepted(t, r, err)
	})
}

// FuzzReaderCompressed feeds the reader raw bytes, exercising the zstd layer.
func FuzzReaderCompressed(f *testing.F) {
	f.Add(validArchive(f, "prod"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), ReaderOptions{Instance: "prod"})
		checkAccepted(t, r, err)
	})
}

func checkAccepted(t *testing.T, r *Reader, err error) {
	if err != nil {
		return
	}
	defer r.Close()
	seen := map[string]bool{}
	for {
		m, err := r.Next()
		if err == io.EOF {
			if r.Seal() == nil {
				t.Fatal("EOF without a seal")
			}
			return
		}
		if err != nil {
			return
		}
		if CheckName(m.Name) != nil || seen[m.Name] || m.Mode&^0o777 != 0 {
			t.Fatalf("accepted bad member %+v", m)
		}
		if !strings.HasPrefix(m.Name, "db/") && !strings.HasPrefix(m.Name, "files/") {
			t.Fatalf("accepted member outside the roots: %q", m.Name)
		}
		if m.Type == TypeSymlink && checkLink(m.Name, m.Link) != nil {
			t.Fatalf("accepted escaping link %+v", m)
		}
		seen[m.Name] = true
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// fuzzSeeds returns decompressed seed archives: a valid one and hostile ones.
func fuzzSeeds(t testing.TB) [][]byte {
	dec := func(b []byte) []byte {
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
	return [][]byte{
		dec(validArchive(t, "prod")),
		dec(base().file("files/data/../../etc/passwd", "x").bytes(t)),
		dec(base().dir("files/data/d").file("files/data/d/f", "content").bytes(t)),
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzReader{,Compressed} when
// DEPLOYKIT_WRITE_SEEDS=1; otherwise it checks the committed seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if os.Getenv("DEPLOYKIT_WRITE_SEEDS") != "1" {
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) == 0 {
			t.Fatalf("seed corpus %s missing: %v", dir, err)
		}
		return
	}
	write := func(dir string, seeds [][]byte) {
		os.MkdirAll(dir, 0o755)
		for i, s := range seeds {
			var b bytes.Buffer
			fmt.Fprintf(&b, "go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(dir, fuzzSeeds(t))
	write(filepath.Join("testdata", "fuzz", "FuzzReaderCompressed"), [][]byte{validArchive(t, "prod"), base().file("files/data/x", "y").bytes(t)})
}
