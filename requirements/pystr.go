package requirements

import (
	"errors"
	"strings"
	"unicode/utf8"
)

var errBadQuoted = errors.New("invalid quoted string")

// pyStringLiteral decodes a quoted marker value the way packaging does, with
// ast.literal_eval: the token is a Python string literal, so backslash
// escapes are processed and a backslash before the closing quote, a raw
// line break or a NUL byte make it invalid. \N{…} escapes (which need the
// Unicode name table) and lone surrogates are rejected.
func pyStringLiteral(tok string) (string, error) {
	if len(tok) < 2 {
		return "", errBadQuoted
	}
	body := tok[1 : len(tok)-1]
	if strings.IndexByte(body, 0) >= 0 {
		return "", errBadQuoted
	}
	if strings.IndexByte(body, '\\') < 0 {
		if strings.ContainsAny(body, "\n\r") {
			return "", errBadQuoted
		}
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); {
		c := body[i]
		if c == '\n' || c == '\r' {
			return "", errBadQuoted
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(body) {
			// The backslash escapes the closing quote: unterminated.
			return "", errBadQuoted
		}
		e := body[i+1]
		i += 2
		switch e {
		case '\n':
			// line continuation inside the literal
		case '\r':
			if i < len(body) && body[i] == '\n' {
				i++
			}
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := rune(e - '0')
			for k := 0; k < 2 && i < len(body) && body[i] >= '0' && body[i] <= '7'; k++ {
				v = v*8 + rune(body[i]-'0')
				i++
			}
			b.WriteRune(v)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n > len(body) {
				return "", errBadQuoted
			}
			var v rune
			for _, h := range []byte(body[i : i+n]) {
				d, ok := hexVal(h)
				if !ok {
					return "", errBadQuoted
				}
				v = v*16 + rune(d)
			}
			i += n
			if v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
				return "", errBadQuoted
			}
			b.WriteRune(v)
		case 'N':
			return "", errBadQuoted
		default:
			// Unknown escapes are kept verbatim (Python warns, still accepts).
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}

func hexVal(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// quoteMarkerValue serializes a marker value as packaging's Value.serialize
// does ("…" unless the value holds a double quote, then '…'). Values that
// form would not read back identically (both quote kinds, backslashes,
// control characters packaging's output would mangle) are written with
// escapes instead, so String always re-parses to the same marker.
func quoteMarkerValue(v string) string {
	plainOK := !strings.ContainsAny(v, "\\\n\r\x00") && utf8.ValidString(v)
	if plainOK && !strings.Contains(v, `"`) {
		return `"` + v + `"`
	}
	if plainOK && !strings.Contains(v, `'`) {
		return `'` + v + `'`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\x22`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\x00`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
