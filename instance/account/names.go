package account

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen is the longest instance name: with the 3-byte default prefix
// it stays well inside useradd's 32 bytes.
const MaxNameLen = 24

// DefaultPrefix starts every user, group, role and database name.
const DefaultPrefix = "dk-"

// ErrInvalidName reports an instance name outside the rules of ValidateName.
var ErrInvalidName = errors.New("account: invalid instance name")

// NameError says why a name is invalid; it wraps ErrInvalidName.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("account: invalid instance name %q: %s", e.Name, e.Reason)
}

func (e *NameError) Unwrap() error { return ErrInvalidName }

// ValidateName checks an instance name: 1 to MaxNameLen bytes of [a-z0-9-],
// starting with a letter.
func ValidateName(name string) error {
	switch {
	case name == "":
		return &NameError{name, "empty"}
	case len(name) > MaxNameLen:
		return &NameError{name, fmt.Sprintf("longer than %d characters", MaxNameLen)}
	case name[0] < 'a' || name[0] > 'z':
		return &NameError{name, "must start with a lower-case letter"}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return &NameError{name, fmt.Sprintf("character %q at %d: use lower-case letters, digits and '-'", c, i)}
		}
	}
	return nil
}

// ValidatePrefix checks a name prefix: 1 to 8 bytes of [a-z0-9-], starting
// with a letter (so a prefixed name is a valid Unix user name).
func ValidatePrefix(prefix string) error {
	if prefix == "" || len(prefix) > 8 || prefix[0] < 'a' || prefix[0] > 'z' {
		return fmt.Errorf("account: invalid prefix %q: 1 to 8 characters, starting with a lower-case letter", prefix)
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("account: invalid prefix %q: use lower-case letters, digits and '-'", prefix)
		}
	}
	return nil
}

// Names are the system names of one instance.
type Names struct {
	Instance string // the instance name
	User     string // Unix user
	Group    string // Unix group
	Role     string // PostgreSQL role
	Database string // PostgreSQL database
}

// NamesFor maps an instance name to its system names (see the package doc).
// prefix "" means DefaultPrefix.
func NamesFor(prefix, name string) (Names, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := ValidatePrefix(prefix); err != nil {
		return Names{}, err
	}
	if err := ValidateName(name); err != nil {
		return Names{}, err
	}
	n := prefix + name
	return Names{Instance: name, User: n, Group: n, Role: n, Database: n}, nil
}

// NameFor inverts NamesFor: the instance name of a user, group, role or
// database name, and whether it is one.
func NameFor(prefix, system string) (string, bool) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	name, ok := strings.CutPrefix(system, prefix)
	if !ok || ValidateName(name) != nil {
		return "", false
	}
	return name, true
}
