package requirements

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors, matched with errors.Is. A *ParseError wraps one of the
// first three; evaluation errors wrap the last two.
var (
	// ErrInvalidRequirement: a PEP 508 requirement (or requirements-file
	// line) could not be parsed.
	ErrInvalidRequirement = errors.New("invalid requirement")
	// ErrInvalidMarker: a PEP 508 environment marker could not be parsed.
	ErrInvalidMarker = errors.New("invalid marker")
	// ErrInvalidFile: a requirements file is malformed (bad option, include
	// cycle, unreadable include).
	ErrInvalidFile = errors.New("invalid requirements file")
	// ErrIncludeCycle: a requirements file includes itself through -r/-c.
	// It wraps ErrInvalidFile.
	ErrIncludeCycle = fmt.Errorf("%w: include cycle", ErrInvalidFile)

	// ErrUndefinedComparison: a marker compares values with an operator
	// that is not defined for them (packaging's UndefinedComparison).
	ErrUndefinedComparison = errors.New("undefined comparison")
	// ErrUndefinedEnvironmentName: a marker names a variable the
	// environment does not define (packaging's UndefinedEnvironmentName).
	ErrUndefinedEnvironmentName = errors.New("undefined environment name")
)

// ParseError reports where and why parsing failed. File and Line are set
// when the text came from a requirements file; Column is the 1-based
// position (in characters) within Input, 0 when not meaningful.
type ParseError struct {
	File   string
	Line   int
	Column int
	Input  string // the text that was being parsed
	Msg    string // what was expected or what is wrong
	Err    error  // the sentinel (ErrInvalidRequirement, …) or an underlying error
}

func (e *ParseError) Error() string {
	var pos string
	switch {
	case e.File != "" && e.Line > 0:
		pos = e.File + ":" + strconv.Itoa(e.Line) + ": "
	case e.File != "":
		pos = e.File + ": "
	}
	what := "parse error"
	if e.Err != nil {
		what = e.Err.Error()
	}
	if e.Input == "" && e.Column == 0 {
		if e.Msg == "" {
			return pos + what
		}
		return fmt.Sprintf("%s%s: %s", pos, what, e.Msg)
	}
	if e.Column > 0 {
		return fmt.Sprintf("%s%s %q: column %d: %s", pos, what, e.Input, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s%s %q: %s", pos, what, e.Input, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// EvalError is returned by marker evaluation.
type EvalError struct {
	Marker string // the marker item that failed, normalized
	Msg    string
	Err    error // ErrUndefinedComparison or ErrUndefinedEnvironmentName
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%v: %s (in marker %s)", e.Err, e.Msg, e.Marker)
}

func (e *EvalError) Unwrap() error { return e.Err }

// unreadableError is a requirements file that could not be read: it is an
// ErrInvalidFile, and the reason (fs.ErrNotExist, a permission, an HTTP
// failure) for errors.Is.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string   { return e.err.Error() }
func (e *unreadableError) Unwrap() []error { return []error{ErrInvalidFile, e.err} }
