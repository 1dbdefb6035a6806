package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadFilename: a .sql file in the migrations directory is not named
// VERSION_NAME.sql.
var ErrBadFilename = errors.New("schema: migration file name is not VERSION_NAME.sql")

// MaxVersion bounds migration versions (they are stored as bigint).
const MaxVersion = 1<<53 - 1

// ParseFilename splits a migration file name "0001_create_users.sql" into
// its version (1) and name ("create_users"). VERSION is 1 to 16 decimal
// digits, not all zeros; NAME is 1 to 200 characters of [A-Za-z0-9_-].
// The error wraps ErrBadFilename.
func ParseFilename(file string) (version int64, name string, err error) {
	bad := func(why string) (int64, string, error) {
		return 0, "", fmt.Errorf("%w: %q: %s", ErrBadFilename, file, why)
	}
	base, ok := strings.CutSuffix(file, ".sql")
	if !ok {
		return bad("does not end in .sql")
	}
	digits, name, ok := strings.Cut(base, "_")
	if !ok {
		return bad("no '_' between version and name")
	}
	if digits == "" || len(digits) > 16 {
		return bad("version must be 1 to 16 digits")
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return bad("version must be decimal digits")
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v < 1 || v > MaxVersion {
		return bad("version out of range")
	}
	if name == "" || len(name) > 200 {
		return bad("name must be 1 to 200 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return bad(fmt.Sprintf("character %q in the name: use letters, digits, '_' and '-'", c))
		}
	}
	return v, name, nil
}
