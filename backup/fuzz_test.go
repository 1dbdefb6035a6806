package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheck feeds Check decompressed archives (compressed here): the
// package's own layout rules and catalog parsing on top of the container's.
// It must never panic; whatever it accepts must have sealed.
func FuzzCheck(f *testing.F) {
	for _, s := range checkSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tarData []byte) {
		sum, err := Check(context.Background(), bytes.NewReader(compressRaw(t, tarData)), CheckOptions{})
		if err == nil && sum.Seal.Members == 0 {
			t.Fatal("accepted without a seal")
		}
	})
}

func checkSeeds(t testing.TB) [][]byte {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("content"), 0o644)
	var buf bytes.Buffer
	if _, err := Create(context.Background(), &buf, Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: dir}}}); err != nil {
		t.Fatal(err)
	}
	return [][]byte{decompress(t, buf.Bytes())}
}

// TestFuzzCheckSeeds keeps testdata/fuzz/FuzzCheck in sync
// (DEPLOYKIT_WRITE_SEEDS=1 rewrites it).
func TestFuzzCheckSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzCheck")
	if os.Getenv("DEPLOYKIT_WRITE_SEEDS") != "1" {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
			t.Fatalf("seed corpus %s missing: %v", dir, err)
		}
		return
	}
	os.MkdirAll(dir, 0o755)
	for i, s := range checkSeeds(t) {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s), 0o644)
	}
}
