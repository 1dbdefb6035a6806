package requirements

import "errors"

var (
	errNoClosingQuote = errors.New("No closing quotation")
	errNoEscapedChar  = errors.New("No escaped character")
)

// shlexSplit is Python's shlex.split(s) (POSIX mode, no comments), which pip
// applies to the options part of a requirements-file line.
func shlexSplit(s string) ([]string, error) {
	const (
		stNone = iota
		stWord
		stQuote
		stEscape
	)
	var (
		out      []string
		tok      []byte
		quoted   bool
		state    = stNone
		quote    byte // active quote character in stQuote
		escFrom  = stNone
		escQuote byte
	)
	isWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	emit := func() {
		if quoted || len(tok) > 0 {
			out = append(out, string(tok))
		}
		tok, quoted = nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case stNone, stWord:
			switch {
			case isWS(c):
				if state == stWord {
					emit()
					state = stNone
				}
			case c == '\\':
				escFrom, escQuote, state = stWord, 0, stEscape
			case c == '\'' || c == '"':
				quote, quoted, state = c, true, stQuote
			default:
				tok = append(tok, c)
				state = stWord
			}
		case stQuote:
			switch {
			case c == quote:
				state = stWord
			case c == '\\' && quote == '"':
				escFrom, escQuote, state = stQuote, quote, stEscape
			default:
				tok = append(tok, c)
			}
		case stEscape:
			// Inside double quotes a backslash only escapes " and \.
			if escFrom == stQuote && c != '\\' && c != escQuote {
				tok = append(tok, '\\')
			}
			tok = append(tok, c)
			if escFrom == stQuote {
				state, quote = stQuote, escQuote
			} else {
				state = stWord
			}
		}
	}
	switch state {
	case stQuote:
		return nil, errNoClosingQuote
	case stEscape:
		return nil, errNoEscapedChar
	case stWord:
		emit()
	}
	return out, nil
}
