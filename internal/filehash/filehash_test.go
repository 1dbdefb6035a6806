package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSHA256(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if got, err := SHA256(empty); err != nil || got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("SHA256(empty) = %q, %v", got, err)
	}
	// Larger than any single read: the stream gives the one-shot digest.
	data := []byte(strings.Repeat("deploykit\n", 100_000))
	big := filepath.Join(dir, "big")
	os.WriteFile(big, data, 0o644)
	got, err := SHA256(big)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); got != hex.EncodeToString(want[:]) {
		t.Fatalf("SHA256 = %s, want %x", got, want)
	}
	if _, err := SHA256(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := SHA256(dir); err == nil {
		t.Fatal("a directory hashed without error")
	}
}
