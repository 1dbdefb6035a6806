package pep440

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors; every parse error wraps one of them.
var (
	ErrInvalidVersion   = errors.New("invalid version")
	ErrInvalidSpecifier = errors.New("invalid specifier")
)

// ParseError reports a string that is not a valid PEP 440 version or
// specifier. Offset is the byte offset in Input where parsing stopped.
type ParseError struct {
	Input  string
	Offset int
	Reason string
	err    error // ErrInvalidVersion or ErrInvalidSpecifier
}

func (e *ParseError) Error() string {
	what := "version"
	if e.err == ErrInvalidSpecifier {
		what = "specifier"
	}
	if e.Reason == "" {
		return fmt.Sprintf("invalid %s %q", what, e.Input)
	}
	return fmt.Sprintf("invalid %s %q: %s (at offset %d)", what, e.Input, e.Reason, e.Offset)
}

// Unwrap returns ErrInvalidVersion or ErrInvalidSpecifier.
func (e *ParseError) Unwrap() error { return e.err }

func versionError(s string, off int, reason string) error {
	return &ParseError{Input: s, Offset: off, Reason: reason, err: ErrInvalidVersion}
}

// Pre-release labels, in PEP 440 order.
const (
	preNone uint8 = iota
	preA
	preB
	preRC
)

var preLabels = [...]string{"", "a", "b", "rc"}

// localPart is one dot-separated segment of a local version label.
type localPart struct {
	s     string // lower-cased; digits without leading zeros when isNum
	isNum bool
}

// Version is a parsed PEP 440 version. The zero Version is "0".
// Versions are immutable values; they are safe to copy and share.
type Version struct {
	release []uint64
	local   []localPart
	big     *bigNums // digits of numbers above the largest uint64 (see num.go)
	epoch   uint64
	preN    uint64
	postN   uint64
	devN    uint64
	pre     uint8 // preNone, preA, preB, preRC
	hasPost bool
	hasDev  bool
}

// MustParse is Parse for constants known to be valid; it panics otherwise.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// pySpace reports whether r is whitespace for Python's str.isspace and the
// \s class of a str regular expression, which include U+001C..U+001F.
func pySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// trimPySpace strips Python whitespace from both ends and returns the
// offset of the kept part.
func trimPySpace(s string) (string, int) {
	start := 0
	for start < len(s) {
		r, n := utf8.DecodeRuneInString(s[start:])
		if !pySpace(r) {
			break
		}
		start += n
	}
	end := len(s)
	for end > start {
		r, n := utf8.DecodeLastRuneInString(s[:end])
		if !pySpace(r) {
			break
		}
		end -= n
	}
	return s[start:end], start
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlnum(c byte) bool {
	c = lower(c)
	return isDigit(c) || (c >= 'a' && c <= 'z')
}

func isSep(c byte) bool { return c == '.' || c == '_' || c == '-' }

// hasPrefixFold reports whether s[i:] starts with the lower-case ASCII word w,
// ignoring ASCII case.
func hasPrefixFold(s string, i int, w string) bool {
	if len(s)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		if lower(s[i+j]) != w[j] {
			return false
		}
	}
	return true
}

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// Parse parses a PEP 440 version the way pypa/packaging's Version does:
// surrounding whitespace, a leading "v", any letter case, the alternate
// spellings (alpha, beta, c, pre, preview, rev, r), implicit numbers, "-N"
// post-releases and "_", "-", "." separators are accepted and normalized.
// Numbers of any size are kept exactly.
func Parse(s string) (Version, error) {
	var v Version
	// Fast path: digits and dots only (the common "1.2.3").
	simple := len(s) > 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && !isDigit(c) {
			simple = false
			break
		}
	}
	if simple {
		n := 1
		for i := 0; i < len(s); i++ {
			if s[i] == '.' {
				n++
			}
		}
		v.release = make([]uint64, 0, n)
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == '.' {
				if i == start {
					return Version{}, versionError(s, i, "empty release component")
				}
				v.appendRelease(s[start:i])
				start = i + 1
			}
		}
		return v, nil
	}
	t, off := trimPySpace(s)
	fail := func(i int, reason string) (Version, error) {
		return Version{}, versionError(s, off+i, reason)
	}
	i := 0
	if i < len(t) && (t[i] == 'v' || t[i] == 'V') {
		i++
	}
	// Epoch or first release number.
	j := digitsEnd(t, i)
	if j == i {
		return fail(i, "expected a release number")
	}
	if j < len(t) && t[j] == '!' {
		x, d := parseNum(t[i:j])
		v.setNum(posEpoch, x, d)
		i = j + 1
		j = digitsEnd(t, i)
		if j == i {
			return fail(i, "expected a release number after the epoch")
		}
	}
	n := 1
	for k := j; k+1 < len(t) && t[k] == '.' && isDigit(t[k+1]); {
		n++
		k = digitsEnd(t, k+1)
	}
	v.release = make([]uint64, 0, n)
	v.appendRelease(t[i:j])
	i = j
	for i+1 < len(t) && t[i] == '.' && isDigit(t[i+1]) {
		j = digitsEnd(t, i+1)
		v.appendRelease(t[i+1 : j])
		i = j
	}
	// Pre-release: [._-]? (alpha|a|beta|b|preview|pre|c|rc) [._-]? N?
	{
		k := i
		if k < len(t) && isSep(t[k]) {
			k++
		}
		var label uint8
		switch {
		case hasPrefixFold(t, k, "alpha"):
			label, k = preA, k+5
		case hasPrefixFold(t, k, "a"):
			label, k = preA, k+1
		case hasPrefixFold(t, k, "beta"):
			label, k = preB, k+4
		case hasPrefixFold(t, k, "b"):
			label, k = preB, k+1
		case hasPrefixFold(t, k, "preview"):
			label, k = preRC, k+7
		case hasPrefixFold(t, k, "pre"):
			label, k = preRC, k+3
		case hasPrefixFold(t, k, "c"):
			label, k = preRC, k+1
		case hasPrefixFold(t, k, "rc"):
			label, k = preRC, k+2
		}
		if label != preNone {
			if k < len(t) && isSep(t[k]) {
				k++
			}
			e := digitsEnd(t, k)
			if e > k {
				x, d := parseNum(t[k:e])
				v.setNum(posPre, x, d)
			}
			v.pre = label
			i = e
		}
	}
	// Post-release: -N | [._-]? (post|rev|r) [._-]? N?
	if i+1 < len(t) && t[i] == '-' && isDigit(t[i+1]) {
		e := digitsEnd(t, i+1)
		x, d := parseNum(t[i+1 : e])
		v.hasPost = true
		v.setNum(posPost, x, d)
		i = e
	} else {
		k := i
		if k < len(t) && isSep(t[k]) {
			k++
		}
		w := 0
		switch {
		case hasPrefixFold(t, k, "post"):
			w = 4
		case hasPrefixFold(t, k, "rev"):
			w = 3
		case hasPrefixFold(t, k, "r"):
			w = 1
		}
		if w > 0 {
			k += w
			if k < len(t) && isSep(t[k]) {
				k++
			}
			e := digitsEnd(t, k)
			if e > k {
				x, d := parseNum(t[k:e])
				v.setNum(posPost, x, d)
			}
			v.hasPost = true
			i = e
		}
	}
	// Development release: [._-]? dev [._-]? N?
	{
		k := i
		if k < len(t) && isSep(t[k]) {
			k++
		}
		if hasPrefixFold(t, k, "dev") {
			k += 3
			if k < len(t) && isSep(t[k]) {
				k++
			}
			e := digitsEnd(t, k)
			if e > k {
				x, d := parseNum(t[k:e])
				v.setNum(posDev, x, d)
			}
			v.hasDev = true
			i = e
		}
	}
	// Local version label: + [a-z0-9]+ ([._-][a-z0-9]+)*
	if i < len(t) && t[i] == '+' {
		i++
		start := i
		for {
			e := i
			for e < len(t) && isAlnum(t[e]) {
				e++
			}
			if e == i {
				return fail(i, "empty local version segment")
			}
			v.local = append(v.local, makeLocalPart(t[i:e]))
			i = e
			if i+1 < len(t) && isSep(t[i]) && isAlnum(t[i+1]) {
				i++
				continue
			}
			break
		}
		_ = start
	}
	if i != len(t) {
		return fail(i, fmt.Sprintf("unexpected %q", t[i:]))
	}
	return v, nil
}

func (v *Version) appendRelease(s string) {
	x, d := parseNum(s)
	v.release = append(v.release, x)
	if x == maxU {
		v.setBig(int32(len(v.release)-1), d)
	}
}

func makeLocalPart(s string) localPart {
	allDigits := true
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			allDigits = false
			break
		}
	}
	if allDigits {
		return localPart{s: trimZeros(s), isNum: true}
	}
	b := []byte(s)
	changed := false
	for i, c := range b {
		if l := lower(c); l != c {
			b[i] = l
			changed = true
		}
	}
	if changed {
		s = string(b)
	}
	return localPart{s: s}
}
