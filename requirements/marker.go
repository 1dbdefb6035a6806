package requirements

import (
	"strings"

	"github.com/deploykit/deploykit/requirements/pep440"
)

// Marker is a parsed PEP 508 environment marker, such as
// `python_version >= "3.8" and sys_platform == "linux"`.
//
// The zero Marker is empty: it evaluates to true and prints as "".
type Marker struct {
	root *markerList
}

// markerList is packaging's MarkerList: atoms joined by "and"/"or", without
// precedence applied (evaluation groups the "and" runs, as packaging does).
type markerList struct {
	atoms []markerAtom
	ops   []string // len(ops) == len(atoms)-1
}

// markerAtom is one comparison or one parenthesized list.
type markerAtom struct {
	item  *markerItem
	group *markerList
}

type markerItem struct {
	lhs markerVar
	op  string
	rhs markerVar

	// For `version_variable op "literal"`, the specifier op+literal is
	// parsed once at parse time: spec is nil when it is not a valid
	// specifier (string comparison applies). specDone says it was done.
	spec     *pep440.Specifier
	specDone bool
}

type markerVar struct {
	isVar bool   // an environment variable (else a quoted literal)
	value string // variable name, or the literal's decoded value
}

// maxMarkerDepth bounds parenthesis nesting so hostile input cannot exhaust
// the stack; packaging's own recursion limit is of the same order.
const maxMarkerDepth = 100

// ParseMarker parses a PEP 508 marker expression exactly as pypa/packaging's
// Marker does, including its normalization of `extra` values (PEP 685).
// Errors are *ParseError wrapping ErrInvalidMarker.
func ParseMarker(s string) (Marker, error) {
	p := &parser{t: tokenizer{src: s}, sentinel: ErrInvalidMarker}
	l, err := p.marker(0)
	if err != nil {
		return Marker{}, err
	}
	if !p.t.atEnd() {
		return Marker{}, p.errorf(p.t.pos, "Expected end of marker expression")
	}
	normalizeExtras(l)
	prepare(l)
	return Marker{root: l}, nil
}

// MustParseMarker is ParseMarker for literals known to be valid; it panics
// on error.
func MustParseMarker(s string) Marker {
	m, err := ParseMarker(s)
	if err != nil {
		panic(err)
	}
	return m
}

// parser is the recursive-descent parser of packaging's _parser.py.
type parser struct {
	t        tokenizer
	sentinel error
}

func (p *parser) errorf(off int, msg string) *ParseError {
	return &ParseError{Input: p.t.src, Column: column(p.t.src, off), Msg: msg, Err: p.sentinel}
}

// marker = marker_atom (BOOLOP marker_atom)*
func (p *parser) marker(depth int) (*markerList, error) {
	if depth > maxMarkerDepth {
		return nil, p.errorf(p.t.pos, "marker expression nested too deeply")
	}
	l := &markerList{}
	a, err := p.markerAtom(depth)
	if err != nil {
		return nil, err
	}
	l.atoms = append(l.atoms, a)
	for {
		op := p.t.keyword("or", "and")
		if op == "" {
			return l, nil
		}
		p.t.pos += len(op)
		a, err := p.markerAtom(depth)
		if err != nil {
			return nil, err
		}
		l.ops = append(l.ops, op)
		l.atoms = append(l.atoms, a)
	}
}

// marker_atom = WS? '(' WS? marker WS? ')' WS? | WS? marker_item WS?
func (p *parser) markerAtom(depth int) (markerAtom, error) {
	p.t.ws()
	var a markerAtom
	if p.t.peekByte('(') {
		open := p.t.pos
		p.t.pos++
		p.t.ws()
		g, err := p.marker(depth + 1)
		if err != nil {
			return a, err
		}
		p.t.ws()
		if !p.t.peekByte(')') {
			return a, p.errorf(open, "Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS, after marker expression")
		}
		p.t.pos++
		a.group = g
	} else {
		it, err := p.markerItem()
		if err != nil {
			return a, err
		}
		a.item = it
	}
	p.t.ws()
	return a, nil
}

// marker_item = WS? marker_var WS? marker_op WS? marker_var WS?
func (p *parser) markerItem() (*markerItem, error) {
	p.t.ws()
	l, err := p.markerVar()
	if err != nil {
		return nil, err
	}
	p.t.ws()
	op, err := p.markerOp()
	if err != nil {
		return nil, err
	}
	p.t.ws()
	r, err := p.markerVar()
	if err != nil {
		return nil, err
	}
	p.t.ws()
	return &markerItem{lhs: l, op: op, rhs: r}, nil
}

func (p *parser) markerVar() (markerVar, error) {
	if v := p.t.variable(); v != "" {
		p.t.pos += len(v)
		v = strings.ReplaceAll(v, ".", "_")
		if v == "python_implementation" {
			v = "platform_python_implementation"
		}
		return markerVar{isVar: true, value: v}, nil
	}
	if q := p.t.quoted(); q != "" {
		start := p.t.pos
		p.t.pos += len(q)
		s, err := pyStringLiteral(q)
		if err != nil {
			return markerVar{}, p.errorf(start, "Invalid quoted string")
		}
		return markerVar{value: s}, nil
	}
	return markerVar{}, p.errorf(p.t.pos, "Expected a marker variable or quoted string")
}

// marker_op = IN | NOT WS IN | OP
func (p *parser) markerOp() (string, error) {
	if p.t.keyword("in") != "" {
		p.t.pos += 2
		return "in", nil
	}
	if p.t.keyword("not") != "" {
		p.t.pos += 3
		if !p.t.ws() {
			return "", p.errorf(p.t.pos, "Expected whitespace after 'not'")
		}
		if p.t.keyword("in") == "" {
			return "", p.errorf(p.t.pos, "Expected 'in' after 'not'")
		}
		p.t.pos += 2
		return "not in", nil
	}
	if op := p.t.op(); op != "" {
		p.t.pos += len(op)
		return op, nil
	}
	return "", p.errorf(p.t.pos, "Expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in")
}

// prepare precomputes the version specifiers of comparisons whose variable
// is on the left, so evaluation does not parse them again.
func prepare(l *markerList) {
	for i := range l.atoms {
		a := &l.atoms[i]
		if a.group != nil {
			prepare(a.group)
			continue
		}
		it := a.item
		if it.lhs.isVar && !it.rhs.isVar && isVersionVariable(it.lhs.value) {
			it.spec = versionSpecifier(it.op, it.rhs.value)
			it.specDone = true
		}
	}
}

// normalizeExtras applies packaging's _normalize_extra_values: literals
// compared with `extra`, and literals tested for membership in `extras` or
// `dependency_groups`, are PEP 503-normalized at parse time (PEP 685).
func normalizeExtras(l *markerList) {
	for i := range l.atoms {
		a := &l.atoms[i]
		if a.group != nil {
			normalizeExtras(a.group)
			continue
		}
		it := a.item
		switch {
		case it.lhs.isVar && it.lhs.value == "extra" && !it.rhs.isVar:
			it.rhs.value = NormalizeName(it.rhs.value)
		case it.rhs.isVar && it.rhs.value == "extra" && !it.lhs.isVar:
			it.lhs.value = NormalizeName(it.lhs.value)
		case it.rhs.isVar && isSetVariable(it.rhs.value) && !it.lhs.isVar:
			it.lhs.value = NormalizeName(it.lhs.value)
		}
	}
}

func isSetVariable(name string) bool { return name == "extras" || name == "dependency_groups" }

// String returns the normalized form of the marker, as str(Marker) in
// packaging: double-quoted values, single spaces, redundant parentheses
// around single comparisons removed.
func (m Marker) String() string {
	if m.root == nil {
		return ""
	}
	var b strings.Builder
	formatList(&b, m.root, true)
	return b.String()
}

// IsEmpty reports whether m is the zero Marker.
func (m Marker) IsEmpty() bool { return m.root == nil }

// Equal reports whether two markers are the same expression; like
// packaging, markers are equal when their normalized strings are.
func (m Marker) Equal(o Marker) bool { return m.String() == o.String() }

func formatList(b *strings.Builder, l *markerList, first bool) {
	if len(l.atoms) == 1 {
		formatAtom(b, l.atoms[0], first)
		return
	}
	if !first {
		b.WriteByte('(')
	}
	for i, a := range l.atoms {
		if i > 0 {
			b.WriteByte(' ')
			b.WriteString(l.ops[i-1])
			b.WriteByte(' ')
		}
		formatAtom(b, a, false)
	}
	if !first {
		b.WriteByte(')')
	}
}

func formatAtom(b *strings.Builder, a markerAtom, first bool) {
	if a.group != nil {
		formatList(b, a.group, first)
		return
	}
	formatVar(b, a.item.lhs)
	b.WriteByte(' ')
	b.WriteString(a.item.op)
	b.WriteByte(' ')
	formatVar(b, a.item.rhs)
}

func formatVar(b *strings.Builder, v markerVar) {
	if v.isVar {
		b.WriteString(v.value)
	} else {
		b.WriteString(quoteMarkerValue(v.value))
	}
}

// And returns a marker true when both m and o are (packaging's Marker & Marker).
func (m Marker) And(o Marker) Marker { return combine(m, "and", o) }

// Or returns a marker true when either m or o is (packaging's Marker | Marker).
func (m Marker) Or(o Marker) Marker { return combine(m, "or", o) }

func combine(m Marker, op string, o Marker) Marker {
	switch {
	case m.root == nil:
		return o
	case o.root == nil:
		return m
	}
	return Marker{root: &markerList{
		atoms: []markerAtom{{group: m.root}, {group: o.root}},
		ops:   []string{op},
	}}
}

// EvalContext selects which marker variables are defined by default, as
// packaging's evaluate(context=…).
type EvalContext int

const (
	// ContextMetadata (the default) evaluates markers from core metadata:
	// `extra` is "" unless the environment sets it.
	ContextMetadata EvalContext = iota
	// ContextRequirement adds nothing to the environment.
	ContextRequirement
	// ContextLockFile defines the set-valued `extras` and
	// `dependency_groups` (empty unless given), as for pylock.toml.
	ContextLockFile
)

// EvalOptions refines Marker.EvaluateWith.
type EvalOptions struct {
	Context EvalContext
	// Extras and DependencyGroups are the sets tested by `"x" in extras`
	// and `"x" in dependency_groups`. A nil slice leaves the variable
	// undefined, except in ContextLockFile where it is the empty set.
	Extras           []string
	DependencyGroups []string
}

// versionVariables are the marker variables compared as PEP 440 versions
// (packaging's MARKERS_REQUIRING_VERSION).
func isVersionVariable(name string) bool {
	switch name {
	case "implementation_version", "platform_release", "python_full_version", "python_version":
		return true
	}
	return false
}

// Evaluate reports whether the marker holds in env, in the metadata
// context (packaging's default). The zero Marker is always true.
func (m Marker) Evaluate(env Environment) (bool, error) {
	return m.EvaluateWith(env, EvalOptions{})
}

// EvaluateWith is Evaluate with an explicit context and set-valued
// variables. Errors are *EvalError wrapping ErrUndefinedComparison or
// ErrUndefinedEnvironmentName.
func (m Marker) EvaluateWith(env Environment, opts EvalOptions) (bool, error) {
	if m.root == nil {
		return true, nil
	}
	e := evaluator{env: env}
	if opts.Context == ContextMetadata {
		if _, ok := env["extra"]; !ok {
			e.extraDefault = true
		}
	}
	addSet := func(name string, vals []string) {
		if vals == nil && opts.Context != ContextLockFile {
			return
		}
		s := make(map[string]bool, len(vals))
		for _, v := range vals {
			s[NormalizeName(v)] = true
		}
		if e.sets == nil {
			e.sets = map[string]map[string]bool{}
		}
		e.sets[name] = s
	}
	addSet("extras", opts.Extras)
	addSet("dependency_groups", opts.DependencyGroups)
	if x, ok := env["extra"]; ok && x != "" {
		e.extra = NormalizeName(x)
	}
	return e.list(m.root)
}

type evaluator struct {
	env          Environment
	sets         map[string]map[string]bool
	extra        string // normalized env["extra"]
	extraDefault bool   // metadata context and env has no "extra"
}

// lookup returns the string value of an environment variable, or the set.
func (e *evaluator) lookup(key string) (string, map[string]bool, bool) {
	if s, ok := e.sets[key]; ok {
		return "", s, true
	}
	if key == "extra" {
		if e.extraDefault {
			return "", nil, true
		}
		if _, ok := e.env["extra"]; ok {
			return e.extra, nil, true
		}
		return "", nil, false
	}
	v, ok := e.env[key]
	if ok && key == "python_full_version" && strings.HasSuffix(v, "+") {
		// platform.python_version() of an untagged build ends in "+",
		// which is not PEP 440; packaging repairs it the same way.
		v += "local"
	}
	return v, nil, ok
}

// list evaluates like packaging's _evaluate_markers: every item is
// evaluated, in order (so errors surface even where and/or would
// short-circuit), then "and" binds tighter than "or".
func (e *evaluator) list(l *markerList) (bool, error) {
	result := false
	group := true
	for i, a := range l.atoms {
		if i > 0 && l.ops[i-1] == "or" {
			result = result || group
			group = true
		}
		var v bool
		var err error
		if a.group != nil {
			v, err = e.list(a.group)
		} else {
			v, err = e.item(a.item)
		}
		if err != nil {
			return false, err
		}
		group = group && v
	}
	return result || group, nil
}

func (e *evaluator) item(it *markerItem) (bool, error) {
	var (
		key      string
		lhs, rhs string
		rhsSet   map[string]bool
	)
	if it.lhs.isVar {
		key = it.lhs.value
		v, set, ok := e.lookup(key)
		if !ok {
			return false, e.undefinedName(it, key)
		}
		if set != nil {
			return false, &EvalError{Marker: itemString(it), Err: ErrUndefinedComparison,
				Msg: "set-valued marker " + key + " can only be used with the membership form (\"<name>\" in " + key + ")"}
		}
		lhs, rhs = v, it.rhs.value
	} else {
		key = it.rhs.value
		v, set, ok := e.lookup(key)
		if !ok {
			return false, e.undefinedName(it, key)
		}
		lhs, rhs, rhsSet = it.lhs.value, v, set
	}
	if isSetVariable(key) {
		lhs = NormalizeName(lhs)
		if rhsSet == nil {
			rhs = NormalizeName(rhs)
		}
	}
	if rhsSet != nil {
		switch it.op {
		case "in":
			return rhsSet[lhs], nil
		case "not in":
			return !rhsSet[lhs], nil
		}
		return false, &EvalError{Marker: itemString(it), Err: ErrUndefinedComparison,
			Msg: "undefined " + it.op + " on a set-valued marker"}
	}
	if isVersionVariable(key) {
		spec := it.spec
		if !it.specDone || !it.lhs.isVar {
			spec = versionSpecifier(it.op, rhs)
		}
		if spec != nil {
			return spec.ContainsString(lhs, pep440.PrereleaseAllow), nil
		}
	}
	switch it.op {
	case "in":
		return strings.Contains(rhs, lhs), nil
	case "not in":
		return !strings.Contains(rhs, lhs), nil
	case "==", "<=", ">=":
		// packaging: ordering comparisons between non-version strings only
		// hold on equality.
		return lhs == rhs, nil
	case "!=":
		return lhs != rhs, nil
	case "<", ">":
		return false, nil
	}
	return false, &EvalError{Marker: itemString(it), Err: ErrUndefinedComparison,
		Msg: "undefined " + it.op + " on " + quoteMarkerValue(lhs) + " and " + quoteMarkerValue(rhs)}
}

func (e *evaluator) undefinedName(it *markerItem, key string) error {
	return &EvalError{Marker: itemString(it), Err: ErrUndefinedEnvironmentName, Msg: key}
}

func itemString(it *markerItem) string {
	var b strings.Builder
	formatAtom(&b, markerAtom{item: it}, true)
	return b.String()
}

// versionSpecifier returns op+rhs as a PEP 440 specifier when packaging's
// Specifier(op+rhs) accepts it, else nil (the comparison is then a string
// comparison).
func versionSpecifier(op, rhs string) *pep440.Specifier {
	if op == "in" || op == "not in" || strings.Contains(rhs, ",") {
		return nil
	}
	spec := op + rhs
	// Specifier() accepts exactly what specifierFullRe matches; the greedy
	// scanner confirms the common case without the regexp.
	t := strings.TrimFunc(spec, isPySpace)
	if scanSpecifier(t) != len(t) && !specifierFullRe.MatchString(spec) {
		return nil
	}
	s, err := pep440.ParseSpecifier(spec)
	if err != nil {
		return nil
	}
	return &s
}
