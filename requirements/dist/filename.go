package dist

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Sentinel errors for file names; the *FilenameError wrapping them names
// the file.
var (
	ErrInvalidWheelFilename = errors.New("invalid wheel filename")
	ErrInvalidSdistFilename = errors.New("invalid sdist filename")
)

// FilenameError is a file name that does not follow the wheel (PEP 427,
// PEP 491) or sdist naming rules.
type FilenameError struct {
	Filename string
	Reason   string
	Err      error // ErrInvalidWheelFilename or ErrInvalidSdistFilename, possibly wrapping more
}

func (e *FilenameError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.kind(), e.Filename, e.Reason)
}

func (e *FilenameError) kind() string {
	if errors.Is(e.Err, ErrInvalidSdistFilename) {
		return "invalid sdist filename"
	}
	return "invalid wheel filename"
}

func (e *FilenameError) Unwrap() error { return e.Err }

// BuildTag is a wheel's optional build tag: a number and a suffix
// ("1a" is 1, "a"). Number holds decimal digits without leading zeros so
// any size is exact; Present is false when the file name has none.
type BuildTag struct {
	Present bool
	Number  string
	Suffix  string
}

// Compare orders build tags as pip does: none first, then by number, then
// by suffix.
func (b BuildTag) Compare(o BuildTag) int {
	switch {
	case !b.Present || !o.Present:
		return boolCmp(b.Present, o.Present)
	case len(b.Number) != len(o.Number):
		return boolCmp(len(b.Number) > len(o.Number), false)*2 - 1
	}
	if c := strings.Compare(b.Number, o.Number); c != 0 {
		return c
	}
	return strings.Compare(b.Suffix, o.Suffix)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// String returns the tag as it appears in a file name ("" when absent).
func (b BuildTag) String() string {
	if !b.Present {
		return ""
	}
	return b.Number + b.Suffix
}

// WheelName is a parsed wheel file name:
// {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
type WheelName struct {
	Filename string
	Name     string // normalized (PEP 503)
	Version  pep440.Version
	Build    BuildTag
	Tags     []Tag // the expanded compressed tag set
}

func wheelError(filename, reason string, err error) error {
	if err == nil {
		err = ErrInvalidWheelFilename
	} else {
		err = fmt.Errorf("%w: %w", ErrInvalidWheelFilename, err)
	}
	return &FilenameError{Filename: filename, Reason: reason, Err: err}
}

// isWheelNameRune is Python's \w (Unicode word character) plus '.'.
func isWheelNameRune(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// ParseWheelFilename parses a wheel file name (the base name, not a path)
// as packaging.utils.parse_wheel_filename does. With validateOrder the
// compressed tag sets must be sorted.
func ParseWheelFilename(filename string, validateOrder bool) (WheelName, error) {
	stem, ok := strings.CutSuffix(filename, ".whl")
	if !ok {
		return WheelName{}, wheelError(filename, "extension must be '.whl'", nil)
	}
	dashes := strings.Count(stem, "-")
	if dashes != 4 && dashes != 5 {
		return WheelName{}, wheelError(filename, "wrong number of parts", nil)
	}
	parts := strings.SplitN(stem, "-", dashes-1)
	namePart := parts[0]
	if namePart == "" || strings.Contains(namePart, "__") || strings.IndexFunc(namePart, func(r rune) bool { return !isWheelNameRune(r) }) >= 0 {
		return WheelName{}, wheelError(filename, "invalid project name", nil)
	}
	v, err := pep440.Parse(parts[1])
	if err != nil {
		return WheelName{}, wheelError(filename, fmt.Sprintf("invalid version %q", parts[1]), err)
	}
	w := WheelName{Filename: filename, Name: requirements.NormalizeName(namePart), Version: v}
	if dashes == 5 {
		b := parts[2]
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == 0 {
			return WheelName{}, wheelError(filename, fmt.Sprintf("invalid build number %q: it must start with a digit", b), nil)
		}
		num := strings.TrimLeft(b[:i], "0")
		if num == "" {
			num = "0"
		}
		w.Build = BuildTag{Present: true, Number: num, Suffix: b[i:]}
	}
	tags, err := ParseTag(parts[len(parts)-1], validateOrder)
	if err != nil {
		return WheelName{}, wheelError(filename, "invalid tag", err)
	}
	w.Tags = tags
	return w, nil
}

// SdistName is a parsed source distribution file name:
// {name}-{version}.tar.gz or .zip.
type SdistName struct {
	Filename string
	Name     string // normalized (PEP 503)
	Version  pep440.Version
}

func sdistError(filename, reason string, err error) error {
	if err == nil {
		err = ErrInvalidSdistFilename
	} else {
		err = fmt.Errorf("%w: %w", ErrInvalidSdistFilename, err)
	}
	return &FilenameError{Filename: filename, Reason: reason, Err: err}
}

// ParseSdistFilename parses an sdist file name as
// packaging.utils.parse_sdist_filename does: the version follows the last
// dash.
func ParseSdistFilename(filename string) (SdistName, error) {
	var stem string
	switch {
	case strings.HasSuffix(filename, ".tar.gz"):
		stem = strings.TrimSuffix(filename, ".tar.gz")
	case strings.HasSuffix(filename, ".zip"):
		stem = strings.TrimSuffix(filename, ".zip")
	default:
		return SdistName{}, sdistError(filename, "extension must be '.tar.gz' or '.zip'", nil)
	}
	i := strings.LastIndexByte(stem, '-')
	if i < 0 {
		return SdistName{}, sdistError(filename, "no dash between name and version", nil)
	}
	if i == 0 {
		return SdistName{}, sdistError(filename, "empty project name", nil)
	}
	v, err := pep440.Parse(stem[i+1:])
	if err != nil {
		return SdistName{}, sdistError(filename, fmt.Sprintf("invalid version %q", stem[i+1:]), err)
	}
	return SdistName{Filename: filename, Name: requirements.NormalizeName(stem[:i]), Version: v}, nil
}
