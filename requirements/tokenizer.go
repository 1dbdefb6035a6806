package requirements

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// The tokenizer mirrors pypa/packaging's _tokenizer.py: it is context
// sensitive (the parser asks "is the next token a X?") and each rule is the
// same regular expression packaging uses, including Python's Unicode-aware
// \b and \s, so that edge cases (non-ASCII names, "notin", "andos_name")
// are accepted or rejected exactly as packaging does.

type tokenizer struct {
	src string
	pos int
}

// pyWhitespace is Python's str \s: Unicode whitespace per Py_UNICODE_ISSPACE.
const pyWhitespace = `\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

// specifierRe is packaging's Specifier._specifier_regex_str (compiled with
// re.VERBOSE|re.IGNORECASE), translated to RE2. Go's regexp picks the same
// match a backtracking engine would (leftmost-first), so the translation
// keeps Python's semantics. Case-insensitivity is spelled out per letter
// because Python's (?a:) groups fold ASCII only.
// specifierBody is packaging's Specifier._specifier_regex_str (compiled
// with re.VERBOSE|re.IGNORECASE), translated to RE2. Go's regexp picks the
// same match a backtracking engine would (leftmost-first), so the
// translation keeps Python's semantics. Case-insensitivity is spelled out
// per letter because Python's (?a:) groups fold ASCII only.
const specifierBody = `(?:` +
	// identity
	`(?:===[` + pyWhitespace + `]*[^` + pyWhitespace + `;)]*)` +
	`|` +
	// == and !=
	`(?:(?:==|!=)[` + pyWhitespace + `]*[vV]?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` +
	`(?:\.\*|` + preRe + `?` + postRe + `?` + devRe + `?` + `(?:\+[a-zA-Z0-9]+(?:[-_.][a-zA-Z0-9]+)*)?)?)` +
	`|` +
	// ~=
	`(?:~=[` + pyWhitespace + `]*[vV]?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+` + preRe + `?` + postRe + `?` + devRe + `?)` +
	`|` +
	// ordered comparisons
	`(?:(?:<=|>=|<|>)[` + pyWhitespace + `]*[vV]?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` + preRe + `?` + postRe + `?` + devRe + `?)` +
	`)`

var (
	// specifierRe is packaging's SPECIFIER token.
	specifierRe = lazyregexp.New(`^` + specifierBody)
	// specifierFullRe is Specifier._regex.fullmatch: one whole specifier.
	specifierFullRe = lazyregexp.New(`^[` + pyWhitespace + `]*` + specifierBody + `[` + pyWhitespace + `]*$`)
)

const (
	preRe  = `(?:[-_.]?(?:[aA][lL][pP][hH][aA]|[bB][eE][tT][aA]|[pP][rR][eE][vV][iI][eE][wW]|[pP][rR][eE]|[aA]|[bB]|[cC]|[rR][cC])[-_.]?[0-9]*)`
	postRe = `(?:(?:-[0-9]+)|(?:[-_.]?(?:[pP][oO][sS][tT]|[rR][eE][vV]|[rR])[-_.]?[0-9]*))`
	devRe  = `(?:[-_.]?[dD][eE][vV][-_.]?[0-9]*)`
)

// isWordRune is Python's \w for str patterns: letters, numbers, underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// wordBefore reports whether the rune ending at byte offset i is a word rune.
func (t *tokenizer) wordBefore(i int) bool {
	if i <= 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(t.src[:i])
	return isWordRune(r)
}

// wordAt reports whether the rune starting at byte offset i is a word rune.
func (t *tokenizer) wordAt(i int) bool {
	if i >= len(t.src) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(t.src[i:])
	return isWordRune(r)
}

// boundary is Python's \b at byte offset i.
func (t *tokenizer) boundary(i int) bool { return t.wordBefore(i) != t.wordAt(i) }

func (t *tokenizer) rest() string { return t.src[t.pos:] }

func (t *tokenizer) atEnd() bool { return t.pos >= len(t.src) }

// ws consumes [ \t]* and reports whether anything was consumed.
func (t *tokenizer) ws() bool {
	start := t.pos
	for t.pos < len(t.src) && (t.src[t.pos] == ' ' || t.src[t.pos] == '\t') {
		t.pos++
	}
	return t.pos > start
}

func (t *tokenizer) peekByte(c byte) bool { return t.pos < len(t.src) && t.src[t.pos] == c }

// keyword matches \bword\b at the current position, returning its length.
func (t *tokenizer) keyword(words ...string) string {
	if !t.boundary(t.pos) {
		return ""
	}
	r := t.rest()
	for _, w := range words {
		if strings.HasPrefix(r, w) && t.boundary(t.pos+len(w)) {
			return w
		}
	}
	return ""
}

var markerVariables = []string{
	"python_version",
	"python_full_version",
	"os_name", "os.name",
	"sys_platform", "sys.platform",
	"platform_release", "platform_system",
	"platform_version", "platform_machine", "platform_python_implementation",
	"platform.version", "platform.machine", "platform.python_implementation",
	"python_implementation",
	"implementation_name", "implementation_version",
	"extras", "extra",
	"dependency_groups",
}

// variable matches packaging's VARIABLE rule.
func (t *tokenizer) variable() string {
	// The alternation in packaging is ordered so that, as here, a longer
	// spelling sharing a prefix is tried before a shorter one where it
	// matters ("extras" before "extra"); \b after decides the rest.
	return t.keyword(markerVariables...)
}

// op matches packaging's OP rule.
func (t *tokenizer) op() string {
	for _, o := range [...]string{"===", "==", "~=", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(t.rest(), o) {
			return o
		}
	}
	return ""
}

// quoted matches packaging's QUOTED_STRING rule: '…' or "…" with no
// occurrence of the delimiter inside.
func (t *tokenizer) quoted() string {
	r := t.rest()
	if r == "" || (r[0] != '\'' && r[0] != '"') {
		return ""
	}
	i := strings.IndexByte(r[1:], r[0])
	if i < 0 {
		return ""
	}
	return r[:i+2]
}

// identifier matches packaging's IDENTIFIER rule \b[a-zA-Z0-9][a-zA-Z0-9._-]*\b
// with Python's backtracking: the longest run whose end is a word boundary.
func (t *tokenizer) identifier() string {
	if !t.boundary(t.pos) {
		return ""
	}
	r := t.rest()
	if r == "" || !isAlnumASCII(r[0]) {
		return ""
	}
	n := 1
	for n < len(r) && (isAlnumASCII(r[n]) || r[n] == '.' || r[n] == '_' || r[n] == '-') {
		n++
	}
	for ; n >= 1; n-- {
		if t.boundary(t.pos + n) {
			return r[:n]
		}
	}
	return ""
}

func isAlnumASCII(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// specifier matches packaging's SPECIFIER rule.
func (t *tokenizer) specifier() string {
	r := t.rest()
	return r[:scanSpecifier(r)]
}

// url matches packaging's URL rule [^ \t]+.
func (t *tokenizer) url() string {
	r := t.rest()
	n := 0
	for n < len(r) && r[n] != ' ' && r[n] != '\t' {
		n++
	}
	return r[:n]
}

// column converts a byte offset into a 1-based character column.
func column(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}
