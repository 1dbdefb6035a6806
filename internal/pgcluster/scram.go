package pgcluster

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// SCRAMVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for a
// password (RFC 5802, RFC 7677; the format of pg_authid.rolpassword), so a
// password can be set with ALTER ROLE … PASSWORD 'SCRAM-SHA-256$…' without
// the clear text reaching the server, its log or pg_stat_statements.
//
// Only printable ASCII passwords are accepted: for them SASLprep is the
// identity, so client and server agree without a Unicode normaliser.
func SCRAMVerifier(password string) (string, error) {
	if password == "" {
		return "", errors.New("pgcluster: empty password")
	}
	for i := 0; i < len(password); i++ {
		if c := password[i]; c < 0x21 || c > 0x7e {
			return "", errors.New("pgcluster: password must be printable ASCII without spaces")
		}
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

// RandomPassword returns a password of 32 random characters from
// [A-Za-z0-9] (about 190 bits), safe in URLs and connection strings.
func RandomPassword() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, 32)
	buf := make([]byte, 64)
	for len(out) < 32 {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// Reject 248..255 so every character is equally likely.
			if c < 248 && len(out) < 32 {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// SCRAMVerifierMatches reports whether a stored SCRAM-SHA-256 verifier
// (pg_authid.rolpassword) was made from password: it recomputes the
// verifier with the stored salt and iteration count.
func SCRAMVerifierMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	iterSalt, _, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterStr, saltB64, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return false
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		return false
	}
	again, err := scramVerifier(password, salt, iter)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(again), []byte(verifier)) == 1
}
