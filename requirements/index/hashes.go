package index

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// extraHash returns the hashes pip accepts besides sha256; nil for the
// rest (md5, sha1 are not trusted to pin content).
func extraHash(alg string) hash.Hash {
	switch alg {
	case "sha224":
		return sha256.New224()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}
