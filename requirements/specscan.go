package requirements

import (
	"strings"
	"unicode/utf8"
)

// scanSpecifier returns the length of packaging's SPECIFIER token at the
// start of s (0 when there is none). It is a hand-written equivalent of
// specifierRe — the regular expression is the reference and is checked
// against this function by tests and fuzzing — because it is the hottest
// part of ParseRequirement. Every optional part is taken greedily unless
// what follows it could not then match, which is where a backtracking
// engine would give it back.
func scanSpecifier(s string) int {
	switch {
	case strings.HasPrefix(s, "==="):
		i := skipWS(s, 3)
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == ';' || r == ')' || isPySpace(r) {
				break
			}
			i += n
		}
		return i
	case strings.HasPrefix(s, "=="), strings.HasPrefix(s, "!="):
		i, ok := scanSpecVersion(s, 2, 1)
		if !ok {
			return 0
		}
		if strings.HasPrefix(s[i:], ".*") {
			return i + 2
		}
		i = scanPreDevPost(s, i)
		return scanLocal(s, i)
	case strings.HasPrefix(s, "~="):
		i, ok := scanSpecVersion(s, 2, 2)
		if !ok {
			return 0
		}
		return scanPreDevPost(s, i)
	case strings.HasPrefix(s, "<="), strings.HasPrefix(s, ">="):
		if i, ok := scanSpecVersion(s, 2, 1); ok {
			return scanPreDevPost(s, i)
		}
		// "<" then "=…" cannot start a version either.
		return 0
	case strings.HasPrefix(s, "<"), strings.HasPrefix(s, ">"):
		if i, ok := scanSpecVersion(s, 1, 1); ok {
			return scanPreDevPost(s, i)
		}
	}
	return 0
}

func skipWS(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPySpace(r) {
			break
		}
		i += n
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// scanSpecVersion matches \s* v? ([0-9]+!)? [0-9]+ (\.[0-9]+){minParts-1,}
// after an operator of length op.
func scanSpecVersion(s string, op, minParts int) (int, bool) {
	i := skipWS(s, op)
	if i+1 < len(s) && (s[i] == 'v' || s[i] == 'V') && isDigit(s[i+1]) {
		i++
	}
	if e := digits(s, i); e > i && e+1 < len(s) && s[e] == '!' && isDigit(s[e+1]) {
		i = e + 1
	}
	e := digits(s, i)
	if e == i {
		return 0, false
	}
	i = e
	parts := 1
	for i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i = digits(s, i+1)
		parts++
	}
	return i, parts >= minParts
}

func isSep(c byte) bool { return c == '-' || c == '_' || c == '.' }

// wordAt matches the first of words (ASCII case-insensitively) at s[i:].
func wordAt(s string, i int, words ...string) int {
	for _, w := range words {
		if len(s)-i >= len(w) && strings.EqualFold(s[i:i+len(w)], w) && isASCII(s[i:i+len(w)]) {
			return i + len(w)
		}
	}
	return -1
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sepWord matches [-_.]? word [-_.]? [0-9]* at i, or returns -1.
func sepWord(s string, i int, words ...string) int {
	j := -1
	if i < len(s) && isSep(s[i]) {
		j = wordAt(s, i+1, words...)
	}
	if j < 0 {
		j = wordAt(s, i, words...)
	}
	if j < 0 {
		return -1
	}
	if j < len(s) && isSep(s[j]) {
		j++
	}
	return digits(s, j)
}

// scanPreDevPost matches the optional pre, post and dev segments.
func scanPreDevPost(s string, i int) int {
	if j := sepWord(s, i, "alpha", "beta", "preview", "pre", "a", "b", "c", "rc"); j >= 0 {
		i = j
	}
	if i+1 < len(s) && s[i] == '-' && isDigit(s[i+1]) {
		i = digits(s, i+1)
	} else if j := sepWord(s, i, "post", "rev", "r"); j >= 0 {
		i = j
	}
	if j := sepWord(s, i, "dev"); j >= 0 {
		i = j
	}
	return i
}

// scanLocal matches (\+[a-z0-9]+([-_.][a-z0-9]+)*)?.
func scanLocal(s string, i int) int {
	if i+1 >= len(s) || s[i] != '+' || !isAlnumASCII(s[i+1]) {
		return i
	}
	i++
	for i < len(s) && isAlnumASCII(s[i]) {
		i++
	}
	for i+1 < len(s) && isSep(s[i]) && isAlnumASCII(s[i+1]) {
		i++
		for i < len(s) && isAlnumASCII(s[i]) {
			i++
		}
	}
	return i
}
