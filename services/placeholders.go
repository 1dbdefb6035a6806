package services

import (
	"fmt"
	"strings"
)

// Placeholders are the values substituted into an application spec's
// commands (DESIGN.md, "The instance"): {instance}, {home}, {venv}, {port},
// {run}, {data}. "{{" and "}}" stand for literal braces.
type Placeholders struct {
	Instance string
	Home     string
	Venv     string
	Port     string
	Run      string
	Data     string
}

// PlaceholderError is an unknown or unterminated placeholder.
type PlaceholderError struct {
	Text   string // the argument
	Offset int    // byte offset of the '{'
	Msg    string
}

func (e *PlaceholderError) Error() string {
	return fmt.Sprintf("placeholder in %q at offset %d: %s", e.Text, e.Offset, e.Msg)
}

func (e *PlaceholderError) Unwrap() error { return ErrInvalid }

// Expand substitutes placeholders in s. An unknown name, an empty value
// (e.g. {port} for a component without a port) or an unterminated brace is
// a *PlaceholderError.
func (p Placeholders) Expand(s string) (string, error) {
	if !strings.ContainsAny(s, "{}") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			b.WriteByte('}')
			i += 2
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", &PlaceholderError{Text: s, Offset: i, Msg: "unterminated '{'"}
			}
			name := s[i+1 : i+end]
			v, ok := p.lookup(name)
			if !ok {
				return "", &PlaceholderError{Text: s, Offset: i, Msg: fmt.Sprintf("unknown placeholder {%s}", name)}
			}
			if v == "" {
				return "", &PlaceholderError{Text: s, Offset: i, Msg: fmt.Sprintf("{%s} has no value here", name)}
			}
			b.WriteString(v)
			i += end + 1
		case c == '}':
			return "", &PlaceholderError{Text: s, Offset: i, Msg: "unmatched '}' (write '}}')"}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// ExpandAll expands every argument.
func (p Placeholders) ExpandAll(args []string) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		v, err := p.Expand(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (p Placeholders) lookup(name string) (string, bool) {
	switch name {
	case "instance":
		return p.Instance, true
	case "home":
		return p.Home, true
	case "venv":
		return p.Venv, true
	case "port":
		return p.Port, true
	case "run":
		return p.Run, true
	case "data":
		return p.Data, true
	}
	return "", false
}
