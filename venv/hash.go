package venv

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// parseRecordHash splits a RECORD digest "sha256=<urlsafe base64, no
// padding>". Only sha256 and stronger are accepted (the binary
// distribution format forbids md5 and sha1).
func parseRecordHash(s string) (func() hash.Hash, []byte, error) {
	algo, enc, ok := strings.Cut(s, "=")
	if !ok || enc == "" {
		return nil, nil, fmt.Errorf("no digest (%q)", s)
	}
	var newHash func() hash.Hash
	switch algo {
	case "sha256":
		newHash = sha256.New
	case "sha384":
		newHash = sha512.New384
	case "sha512":
		newHash = sha512.New
	default:
		return nil, nil, fmt.Errorf("digest algorithm %q is not accepted (sha256, sha384, sha512)", algo)
	}
	sum, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil {
		return nil, nil, fmt.Errorf("digest %q: %v", s, err)
	}
	if len(sum) != newHash().Size() {
		return nil, nil, fmt.Errorf("digest %q has the wrong length", s)
	}
	return newHash, sum, nil
}

// recordHash is the RECORD form of a sha256 digest.
func recordHash(sum []byte) string {
	return "sha256=" + base64.RawURLEncoding.EncodeToString(sum)
}

func recordHashOf(data []byte) string {
	s := sha256.Sum256(data)
	return recordHash(s[:])
}

func validSHA256Hex(s string) error {
	if len(s) != 64 {
		return errors.New("sha256 must be 64 hex digits")
	}
	if _, err := hex.DecodeString(s); err != nil {
		return fmt.Errorf("sha256 %q: %v", s, err)
	}
	return nil
}
