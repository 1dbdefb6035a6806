package requirements

import "strings"

// NormalizeName returns the PEP 503 normalized form of a project or extra
// name: lower case, with every run of "-", "_" and "." replaced by a single
// "-". Like packaging's canonicalize_name it does not validate the name.
func NormalizeName(s string) string {
	// Fast path: already normalized names are common (lock files, indexes).
	if isNormalizedASCII(s) {
		return s
	}
	s = lower(s)
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// isNormalizedASCII reports whether s is lower-case ASCII with no "_", "."
// or doubled "-", i.e. NormalizeName(s) == s.
func isNormalizedASCII(s string) bool {
	prevDash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			prevDash = false
		case c == '-':
			if prevDash {
				return false
			}
			prevDash = true
		case c < 0x80 && !(c >= 'A' && c <= 'Z') && c != '_' && c != '.':
			prevDash = false
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether s is a valid distribution name per the core
// metadata specification (and PEP 508): ASCII letters and digits, with
// ".", "_" and "-" allowed inside but not at either end.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum {
			continue
		}
		if (c == '.' || c == '_' || c == '-') && i > 0 && i < len(s)-1 {
			continue
		}
		return false
	}
	return true
}

// IsNormalizedName reports whether s is valid and already in PEP 503
// normalized form (packaging's is_normalized_name).
func IsNormalizedName(s string) bool {
	if s == "" {
		return false
	}
	prevDash := true // forbids a leading "-"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			prevDash = false
		case c == '-':
			if prevDash {
				return false
			}
			prevDash = true
		default:
			return false
		}
	}
	return !prevDash
}

// lower lower-cases s the way Python's str.lower does: per-rune simple case
// mapping, except U+0130 (capital I with dot above), whose full lower-case
// mapping is two runes.
func lower(s string) string {
	if strings.ContainsRune(s, '\u0130') {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}
