package requirements

import (
	"sort"
	"strings"

	"github.com/deploykit/deploykit/requirements/pep440"
)

// Requirement is a parsed PEP 508 dependency specifier such as
// `requests[security]>=2.8.1,<3; python_version >= "3.8"` or
// `pkg @ https://example.com/pkg-1.0.tar.gz`.
type Requirement struct {
	// Name is the project name as written; compare names with
	// NormalizeName (or use NormalizedName).
	Name string
	// Extras are the requested extras, PEP 685-normalized, sorted and
	// without duplicates.
	Extras     []string
	Specifiers pep440.Specifiers
	URL        string  // "" unless "name @ url"
	Marker     *Marker // nil when none

	// rawExtras keeps the extras as written (sorted, deduplicated) so that
	// String matches packaging's str(Requirement), which does not
	// normalize them. Nil for a Requirement built by hand.
	rawExtras []string
}

// ParseRequirement parses a PEP 508 requirement exactly as
// pypa/packaging's Requirement does. Errors are *ParseError wrapping
// ErrInvalidRequirement, with the column of the problem.
func ParseRequirement(s string) (Requirement, error) {
	p := &parser{t: tokenizer{src: s}, sentinel: ErrInvalidRequirement}
	return p.requirement()
}

// MustParseRequirement is ParseRequirement for literals known to be valid;
// it panics on error.
func MustParseRequirement(s string) Requirement {
	r, err := ParseRequirement(s)
	if err != nil {
		panic(err)
	}
	return r
}

// requirement = WS? IDENTIFIER WS? extras WS? requirement_details END
func (p *parser) requirement() (Requirement, error) {
	var r Requirement
	t := &p.t
	t.ws()
	name := t.identifier()
	if name == "" {
		return r, p.errorf(t.pos, "Expected package name at the start of dependency specifier")
	}
	t.pos += len(name)
	r.Name = name
	t.ws()
	extras, err := p.extras()
	if err != nil {
		return r, err
	}
	t.ws()

	var spec string
	var marker *markerList
	if t.peekByte('@') {
		t.pos++
		t.ws()
		urlStart := t.pos
		u := t.url()
		if u == "" {
			return r, p.errorf(t.pos, "Expected URL after @")
		}
		t.pos += len(u)
		r.URL = u
		if !t.atEnd() {
			if !t.ws() {
				return r, p.errorf(t.pos, "Expected whitespace after URL")
			}
			if !t.atEnd() {
				marker, err = p.requirementMarker(urlStart, "semicolon (after URL and whitespace)")
				if err != nil {
					return r, err
				}
			}
		}
	} else {
		specStart := t.pos
		spec, err = p.specifier()
		if err != nil {
			return r, err
		}
		t.ws()
		if !t.atEnd() {
			expected := "semicolon (after name with no version specifier)"
			if spec != "" {
				expected = "comma (within version specifier), semicolon (after version specifier)"
			}
			marker, err = p.requirementMarker(specStart, expected)
			if err != nil {
				return r, err
			}
		}
	}
	if !t.atEnd() {
		return r, p.errorf(t.pos, "Expected end of dependency specifier")
	}

	ss, err := pep440.ParseSpecifiers(spec)
	if err != nil {
		return r, &ParseError{Input: t.src, Msg: err.Error(), Err: ErrInvalidRequirement}
	}
	r.Specifiers = ss
	if marker != nil {
		normalizeExtras(marker)
		prepare(marker)
		r.Marker = &Marker{root: marker}
	}
	r.setExtras(extras)
	return r, nil
}

func (r *Requirement) setExtras(extras []string) {
	if len(extras) == 0 {
		r.Extras = []string{}
		return
	}
	r.rawExtras = sortedSet(extras)
	norm := make([]string, len(extras))
	for i, e := range extras {
		norm[i] = NormalizeName(e)
	}
	r.Extras = sortedSet(norm)
}

func sortedSet(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	w := 0
	for i, s := range out {
		if i == 0 || s != out[w-1] {
			out[w] = s
			w++
		}
	}
	return out[:w]
}

// requirement_marker = SEMICOLON marker WS?
func (p *parser) requirementMarker(spanStart int, expected string) (*markerList, error) {
	if !p.t.peekByte(';') {
		return nil, p.errorf(spanStart, "Expected "+expected+" or end")
	}
	p.t.pos++
	l, err := p.marker(0)
	if err != nil {
		return nil, err
	}
	p.t.ws()
	return l, nil
}

// extras = ('[' WS? extras_list? WS? ']')?
func (p *parser) extras() ([]string, error) {
	t := &p.t
	if !t.peekByte('[') {
		return nil, nil
	}
	open := t.pos
	t.pos++
	t.ws()
	var extras []string
	if id := t.identifier(); id != "" {
		t.pos += len(id)
		extras = append(extras, id)
		for {
			t.ws()
			if t.identifier() != "" {
				return nil, p.errorf(t.pos, "Expected comma between extra names")
			}
			if !t.peekByte(',') {
				break
			}
			t.pos++
			t.ws()
			id := t.identifier()
			if id == "" {
				return nil, p.errorf(t.pos, "Expected extra name after comma")
			}
			t.pos += len(id)
			extras = append(extras, id)
		}
	}
	t.ws()
	if !t.peekByte(']') {
		return nil, p.errorf(open, "Expected matching RIGHT_BRACKET for LEFT_BRACKET, after extras")
	}
	t.pos++
	return extras, nil
}

// specifier = '(' WS? version_many WS? ')' | WS? version_many WS?
func (p *parser) specifier() (string, error) {
	t := &p.t
	open := -1
	if t.peekByte('(') {
		open = t.pos
		t.pos++
	}
	t.ws()
	s, err := p.versionMany()
	if err != nil {
		return "", err
	}
	t.ws()
	if open >= 0 {
		if !t.peekByte(')') {
			return "", p.errorf(open, "Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS, after version specifier")
		}
		t.pos++
	}
	return s, nil
}

// version_many = (SPECIFIER (WS? ',' WS? SPECIFIER)*)?
func (p *parser) versionMany() (string, error) {
	t := &p.t
	var b strings.Builder
	for {
		spec := t.specifier()
		if spec == "" {
			break
		}
		start := t.pos
		t.pos += len(spec)
		b.WriteString(spec)
		rest := t.rest()
		if strings.HasPrefix(rest, ".*") {
			msg := ".* suffix can only be used with `==` or `!=` operators"
			if strings.HasPrefix(spec, "!=") || (strings.HasPrefix(spec, "==") && !strings.HasPrefix(spec, "===")) {
				msg = ".* suffix cannot be used with pre-release, post-release, dev or local versions"
			}
			return "", p.errorf(start, msg)
		}
		if len(rest) >= 2 && rest[0] == '+' && (rest[1] >= 'a' && rest[1] <= 'z' || rest[1] >= '0' && rest[1] <= '9') {
			return "", p.errorf(start, "Local version label can only be used with `==` or `!=` operators")
		}
		t.ws()
		if !t.peekByte(',') {
			break
		}
		t.pos++
		b.WriteByte(',')
		t.ws()
	}
	return b.String(), nil
}

// NormalizedName is NormalizeName(r.Name).
func (r Requirement) NormalizedName() string { return NormalizeName(r.Name) }

// String formats r as packaging's str(Requirement): the name and extras as
// written, the normalized specifier set, " @ url", and "; marker".
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	extras := r.rawExtras
	if extras == nil {
		extras = r.Extras
	}
	if len(extras) > 0 {
		b.WriteByte('[')
		b.WriteString(strings.Join(sortedSet(extras), ","))
		b.WriteByte(']')
	}
	b.WriteString(r.Specifiers.String())
	hasMarker := r.Marker != nil && !r.Marker.IsEmpty()
	if r.URL != "" {
		b.WriteString(" @ ")
		b.WriteString(r.URL)
		if hasMarker {
			b.WriteByte(' ')
		}
	}
	if hasMarker {
		b.WriteString("; ")
		b.WriteString(r.Marker.String())
	}
	return b.String()
}

// Equal reports whether r and o are the same requirement under packaging's
// equality: normalized names and extras, equivalent specifier sets
// (">=1.0" equals ">=1.0.0"), the same URL and the same marker.
func (r Requirement) Equal(o Requirement) bool {
	if NormalizeName(r.Name) != NormalizeName(o.Name) || r.URL != o.URL {
		return false
	}
	if strings.Join(normExtras(r), ",") != strings.Join(normExtras(o), ",") {
		return false
	}
	if !r.Specifiers.Equal(o.Specifiers) {
		return false
	}
	var rm, om string
	if r.Marker != nil {
		rm = r.Marker.String()
	}
	if o.Marker != nil {
		om = o.Marker.String()
	}
	return rm == om
}

func normExtras(r Requirement) []string {
	n := make([]string, len(r.Extras))
	for i, e := range r.Extras {
		n[i] = NormalizeName(e)
	}
	return sortedSet(n)
}

// CanonicalizeVersion returns packaging's canonicalize_version(v,
// strip_trailing_zero=…): the normalized version, with trailing ".0"
// release components removed when stripTrailingZero; strings that are not
// valid versions are returned unchanged.
func CanonicalizeVersion(v string, stripTrailingZero bool) string {
	pv, err := pep440.Parse(v)
	if err != nil {
		return v
	}
	s := pv.String()
	if !stripTrailingZero {
		return s
	}
	// The normalized form is [N!]release[pre][.postN][.devN][+local]; only
	// the release part is rewritten.
	start := 0
	if i := strings.IndexByte(s, '!'); i >= 0 {
		start = i + 1
	}
	end := start
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9') {
		end++
	}
	rel := s[start:end]
	for strings.HasSuffix(rel, ".0") {
		rel = rel[:len(rel)-2]
	}
	return s[:start] + rel + s[end:]
}
