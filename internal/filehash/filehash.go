// Package filehash computes the digests deploykit compares files by:
// the hex SHA-256 that lock files, pip's --hash and the wheel cache use.
// venv (cache and sync) and venv/pep517 (build cache keys) share it.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// SHA256 returns the lower-case hex SHA-256 of the file at path, reading
// it as a stream (wheels can be large).
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
