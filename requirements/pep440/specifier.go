package pep440

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// PrereleasePolicy says whether pre-releases may match, as packaging's
// prereleases argument: Default is None (PEP 440's rule: pre-releases only
// when the specifier asks for them or nothing else matches), Allow is True,
// Deny is False.
type PrereleasePolicy int

const (
	PrereleaseDefault PrereleasePolicy = iota
	PrereleaseAllow
	PrereleaseDeny
)

func (p PrereleasePolicy) String() string {
	switch p {
	case PrereleaseAllow:
		return "allow"
	case PrereleaseDeny:
		return "deny"
	}
	return "default"
}

// Specifier is one version clause such as ">=1.2" or "==2.*".
type Specifier struct {
	op       string
	ver      string // as written, surrounding whitespace removed
	v        Version
	vOK      bool // ver (without ".*") is a valid version
	wildcard bool
	pre      PrereleasePolicy // explicit override
	ranges   []interval
}

func specError(s string, off int, reason string) error {
	return &ParseError{Input: s, Offset: off, Reason: reason, err: ErrInvalidSpecifier}
}

// scanSpecVersion matches the version part of a specifier as packaging's
// Specifier regex does, starting at i; it returns the end of the match.
func scanSpecVersion(t string, i int, allowWildcard, allowLocal bool, minRelease int) (end int, wildcard bool, ok bool) {
	if i < len(t) && (t[i] == 'v' || t[i] == 'V') {
		i++
	}
	j := digitsEnd(t, i)
	if j == i {
		return i, false, false
	}
	if j < len(t) && t[j] == '!' {
		i = j + 1
		j = digitsEnd(t, i)
		if j == i {
			return i, false, false
		}
	}
	i = j
	n := 1
	for i+1 < len(t) && t[i] == '.' && isDigit(t[i+1]) {
		i = digitsEnd(t, i+1)
		n++
	}
	if n < minRelease {
		return i, false, false
	}
	if allowWildcard && i+2 == len(t) && t[i] == '.' && t[i+1] == '*' {
		return i + 2, true, true
	}
	// pre: [-_.]? (alpha|beta|preview|pre|a|b|c|rc) [-_.]? [0-9]*
	{
		k := i
		if k < len(t) && isSep(t[k]) {
			k++
		}
		w := 0
		for _, word := range [...]string{"alpha", "beta", "preview", "pre", "a", "b", "c", "rc"} {
			if hasPrefixFold(t, k, word) {
				w = len(word)
				break
			}
		}
		if w > 0 {
			k += w
			if k < len(t) && isSep(t[k]) {
				k++
			}
			i = digitsEnd(t, k)
		}
	}
	// post: -[0-9]+ | [-_.]? (post|rev|r) [-_.]? [0-9]*
	if i+1 < len(t) && t[i] == '-' && isDigit(t[i+1]) {
		i = digitsEnd(t, i+1)
	} else {
		k := i
		if k < len(t) && isSep(t[k]) {
			k++
		}
		w := 0
		for _, word := range [...]string{"post", "rev", "r"} {
			if hasPrefixFold(t, k, word) {
				w = len(word)
				break
			}
		}
		if w > 0 {
			k += w
			if k < len(t) && isSep(t[k]) {
				k++
			}
			i = digitsEnd(t, k)
		}
	}
	// dev: [-_.]? dev [-_.]? [0-9]*
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
			i = digitsEnd(t, k)
		}
	}
	if allowLocal && i < len(t) && t[i] == '+' {
		k := i + 1
		if k >= len(t) || !isAlnum(t[k]) {
			return k, false, false
		}
		for k < len(t) && isAlnum(t[k]) {
			k++
		}
		for k+1 < len(t) && isSep(t[k]) && isAlnum(t[k+1]) {
			k++
			for k < len(t) && isAlnum(t[k]) {
				k++
			}
		}
		i = k
	}
	return i, false, true
}

func skipPySpace(t string, i int) int {
	for i < len(t) {
		r, n := utf8.DecodeRuneInString(t[i:])
		if !pySpace(r) {
			break
		}
		i += n
	}
	return i
}

// ParseSpecifier parses one specifier clause ("~=1.4", "== 2.*", "===foo")
// with the grammar of packaging's Specifier.
func ParseSpecifier(s string) (Specifier, error) {
	t, off := trimPySpace(s)
	fail := func(i int, reason string) (Specifier, error) {
		return Specifier{}, specError(s, off+i, reason)
	}
	var op string
	switch {
	case strings.HasPrefix(t, "==="):
		op = "==="
	case strings.HasPrefix(t, "~="), strings.HasPrefix(t, "=="), strings.HasPrefix(t, "!="),
		strings.HasPrefix(t, "<="), strings.HasPrefix(t, ">="):
		op = t[:2]
	case strings.HasPrefix(t, "<"), strings.HasPrefix(t, ">"):
		op = t[:1]
	default:
		return fail(0, "expected an operator (~=, ==, !=, <=, >=, <, >, ===)")
	}
	i := skipPySpace(t, len(op))
	sp := Specifier{op: op, ver: t[i:]}
	if op == "===" {
		if k := strings.IndexFunc(sp.ver, func(r rune) bool { return r == ';' || r == ')' || pySpace(r) }); k >= 0 {
			return fail(i+k, "arbitrary equality version contains whitespace, ';' or ')'")
		}
		sp.v, sp.vOK = parseOK(sp.ver)
		sp.ranges = fullRange
		return sp, nil
	}
	var end int
	var ok bool
	switch op {
	case "==", "!=":
		end, sp.wildcard, ok = scanSpecVersion(t, i, true, true, 1)
	case "~=":
		end, _, ok = scanSpecVersion(t, i, false, false, 2)
		if !ok && end > i {
			return fail(end, "~= needs a release with at least two components")
		}
	default:
		end, _, ok = scanSpecVersion(t, i, false, false, 1)
	}
	if !ok {
		return fail(end, "expected a version")
	}
	if end != len(t) {
		reason := fmt.Sprintf("unexpected %q", t[end:])
		if t[end] == '+' {
			reason = "local versions are only allowed with == and !="
		} else if strings.HasPrefix(t[end:], ".*") {
			reason = "wildcards are only allowed with == and != and nothing after the release"
		}
		return fail(end, reason)
	}
	vs := sp.ver
	if sp.wildcard {
		vs = vs[:len(vs)-2]
	}
	v, err := Parse(vs)
	if err != nil {
		return fail(i, err.Error())
	}
	sp.v, sp.vOK = v, true
	if sp.wildcard {
		sp.ranges = wildcardRanges(op, v)
	} else {
		sp.ranges = standardRanges(op, v, strings.Contains(sp.ver, "+"))
	}
	return sp, nil
}

func parseOK(s string) (Version, bool) {
	v, err := Parse(s)
	return v, err == nil
}

// MustParseSpecifier is ParseSpecifier for constants; it panics on error.
func MustParseSpecifier(s string) Specifier {
	sp, err := ParseSpecifier(s)
	if err != nil {
		panic(err)
	}
	return sp
}

// Operator returns "~=", "==", "!=", "<=", ">=", "<", ">" or "===".
func (s Specifier) Operator() string { return s.op }

// Version returns the version as written (".*" included for wildcards).
func (s Specifier) Version() string { return s.ver }

// ParsedVersion returns the specifier's version ("1.2" for "==1.2.*"),
// ok=false for an "===" whose operand is not a PEP 440 version.
func (s Specifier) ParsedVersion() (Version, bool) { return s.v, s.vOK }

// IsWildcard reports a prefix match ("==1.2.*" or "!=1.2.*").
func (s Specifier) IsWildcard() bool { return s.wildcard }

// String returns operator and version as written, without whitespace.
func (s Specifier) String() string { return s.op + s.ver }

// WithPrereleases returns s with an explicit pre-release policy (packaging's
// Specifier(..., prereleases=...)).
func (s Specifier) WithPrereleases(p PrereleasePolicy) Specifier {
	s.pre = p
	return s
}

// PrereleaseHint is packaging's Specifier.prereleases property: the
// explicit policy if set, else Allow when the specifier names a
// pre-release (">=1.0a1"), Deny for "!=" and "==X.*", Default for an
// "===" whose operand is not a version.
func (s Specifier) PrereleaseHint() PrereleasePolicy {
	if s.pre != PrereleaseDefault {
		return s.pre
	}
	if s.op == "!=" || (s.op == "==" && s.wildcard) {
		return PrereleaseDeny
	}
	if !s.vOK {
		return PrereleaseDefault
	}
	if s.v.IsPrerelease() {
		return PrereleaseAllow
	}
	return PrereleaseDeny
}

// canonical is the form used for equality and de-duplication: trailing
// zeros dropped except for ~=, the version normalized, === and wildcards
// kept as written.
func (s *Specifier) canonical() string {
	if s.op == "===" || s.wildcard {
		return s.op + s.ver
	}
	if s.op == "~=" {
		return s.op + s.v.String()
	}
	v := s.v
	n := len(v.release)
	for n > 1 && v.release[n-1] == 0 {
		n--
	}
	v.release = v.release[:n]
	return s.op + v.String()
}

// Equal reports whether two specifiers are the same clause (">=1.0" equals
// ">= 1.0.0"); the pre-release policy is ignored, as in packaging.
func (s Specifier) Equal(o Specifier) bool { return s.canonical() == o.canonical() }

// resolvePre is packaging's resolve_prereleases for a single specifier.
func (s *Specifier) resolvePre(p PrereleasePolicy) PrereleasePolicy {
	if p != PrereleaseDefault {
		return p
	}
	if s.pre != PrereleaseDefault {
		return s.pre
	}
	if s.PrereleaseHint() == PrereleaseAllow {
		return PrereleaseAllow
	}
	return PrereleaseDefault
}

// Contains is ContainsWith(v, PrereleaseDefault).
func (s Specifier) Contains(v Version) bool { return s.ContainsWith(v, PrereleaseDefault) }

// ContainsWith reports whether v satisfies the specifier. Since packaging
// 26.0 a lone pre-release matches under PrereleaseDefault (there is no
// alternative to prefer); only Deny (or an explicit Deny on s) rejects it.
func (s Specifier) ContainsWith(v Version, p PrereleasePolicy) bool {
	return s.contains(item{raw: "", v: v, ok: true, isVersion: true}, p)
}

// ContainsString is ContainsWith for an unparsed string: "===" compares the
// string as written (ignoring case); other operators never match a string
// that is not a valid version.
func (s Specifier) ContainsString(str string, p PrereleasePolicy) bool {
	v, ok := parseOK(str)
	return s.contains(item{raw: str, v: v, ok: ok}, p)
}

func (s *Specifier) contains(it item, p PrereleasePolicy) bool {
	if s.op == "===" {
		return len(s.filter([]item{it}, p)) > 0
	}
	if !it.ok {
		return false
	}
	p = s.resolvePre(p)
	if p == PrereleaseDeny && it.v.IsPrerelease() {
		return false
	}
	return matchRanges(s.ranges, &it.v)
}

// Filter returns the versions s accepts, in order (see Specifiers.Filter
// for the pre-release rule).
func (s Specifier) Filter(vs []Version, p PrereleasePolicy) []Version {
	return pickVersions(vs, s.filter(versionItems(vs), p))
}

// FilterStrings is Filter for unparsed strings; strings that are not
// versions can only pass "===".
func (s Specifier) FilterStrings(vs []string, p PrereleasePolicy) []string {
	return pickStrings(vs, s.filter(stringItems(vs), p))
}

func (s *Specifier) filter(items []item, p PrereleasePolicy) []int {
	p = s.resolvePre(p)
	if s.op == "===" {
		want := strings.ToLower(s.ver)
		var idx []int
		for i := range items {
			if strings.ToLower(items[i].str()) == want {
				idx = append(idx, i)
			}
		}
		return applyPrereleases(items, idx, p)
	}
	return filterByRanges(s.ranges, items, p)
}

// item is one candidate: a parsed Version, or a string that may or may
// not parse. "===" compares str().
type item struct {
	raw       string
	v         Version
	ok        bool
	isVersion bool
}

func (it *item) str() string {
	if it.isVersion {
		return it.v.String()
	}
	return it.raw
}

func versionItems(vs []Version) []item {
	items := make([]item, len(vs))
	for i, v := range vs {
		items[i] = item{v: v, ok: true, isVersion: true}
	}
	return items
}

func stringItems(vs []string) []item {
	items := make([]item, len(vs))
	for i, s := range vs {
		v, ok := parseOK(s)
		items[i] = item{raw: s, v: v, ok: ok}
	}
	return items
}

func pickVersions(vs []Version, idx []int) []Version {
	out := make([]Version, 0, len(idx))
	for _, i := range idx {
		out = append(out, vs[i])
	}
	return out
}

func pickStrings(vs []string, idx []int) []string {
	out := make([]string, 0, len(idx))
	for _, i := range idx {
		out = append(out, vs[i])
	}
	return out
}

// filterByRanges keeps the parsable items inside rs. Under Default,
// pre-releases are kept only when no final release matched at all.
func filterByRanges(rs []interval, items []item, p PrereleasePolicy) []int {
	var out, buffered []int
	found := false
	for i := range items {
		it := &items[i]
		if !it.ok {
			continue
		}
		pre := it.v.IsPrerelease()
		if p == PrereleaseDeny && pre {
			continue
		}
		if !matchRanges(rs, &it.v) {
			continue
		}
		switch {
		case p != PrereleaseDefault || !pre:
			found = found || !pre
			out = append(out, i)
		case !found:
			buffered = append(buffered, i)
		}
	}
	if p == PrereleaseDefault && !found {
		return buffered
	}
	return out
}

// applyPrereleases is packaging's _apply_prereleases_filter over items
// that already matched: strings that are not versions always pass.
func applyPrereleases(items []item, idx []int, p PrereleasePolicy) []int {
	switch p {
	case PrereleaseAllow:
		return idx
	case PrereleaseDeny:
		var out []int
		for _, i := range idx {
			if !items[i].ok || !items[i].v.IsPrerelease() {
				out = append(out, i)
			}
		}
		return out
	}
	var out, nonfinal, arbitrary []int
	found := false
	for _, i := range idx {
		it := &items[i]
		switch {
		case !it.ok:
			if found {
				out = append(out, i)
			} else {
				arbitrary = append(arbitrary, i)
				nonfinal = append(nonfinal, i)
			}
		case !it.v.IsPrerelease():
			if !found {
				out = append(out, arbitrary...)
				found = true
			}
			out = append(out, i)
		case !found:
			nonfinal = append(nonfinal, i)
		}
	}
	if !found {
		return nonfinal
	}
	return out
}

// Specifiers is a set of specifiers joined by commas, all of which must
// hold (packaging's SpecifierSet). The zero value is the empty set, which
// accepts every version. Members are kept sorted by their string form
// and de-duplicated, as str(SpecifierSet) shows them.
type Specifiers struct {
	specs     []Specifier
	pre       PrereleasePolicy
	arbitrary bool
	ranges    []interval // intersection of every member's ranges
}

// ParseSpecifiers parses a comma-separated list; "" is the empty set.
// An error names the failing clause and its byte offset in s.
func ParseSpecifiers(s string) (Specifiers, error) {
	var specs []Specifier
	start := 0
	for start <= len(s) {
		end := strings.IndexByte(s[start:], ',')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		part := s[start:end]
		if t, _ := trimPySpace(part); t != "" {
			sp, err := ParseSpecifier(part)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					return Specifiers{}, specError(s, start+pe.Offset, fmt.Sprintf("in %q: %s", t, pe.Reason))
				}
				return Specifiers{}, err
			}
			specs = append(specs, sp)
		}
		start = end + 1
	}
	return newSpecifiers(specs, PrereleaseDefault), nil
}

// MustParseSpecifiers is ParseSpecifiers for constants; it panics on error.
func MustParseSpecifiers(s string) Specifiers {
	ss, err := ParseSpecifiers(s)
	if err != nil {
		panic(err)
	}
	return ss
}

// NewSpecifiers builds a set from parsed members.
func NewSpecifiers(specs ...Specifier) Specifiers {
	return newSpecifiers(slices.Clone(specs), PrereleaseDefault)
}

func newSpecifiers(specs []Specifier, pre PrereleasePolicy) Specifiers {
	var ranges []interval
	arbitrary := false
	for i := range specs {
		if specs[i].op == "===" {
			arbitrary = true
		}
		if i == 0 {
			ranges = specs[i].ranges
		} else if len(ranges) > 0 {
			ranges = intersectRanges(ranges, specs[i].ranges)
		}
	}
	slices.SortStableFunc(specs, func(a, b Specifier) int { return strings.Compare(a.String(), b.String()) })
	kept := specs[:0]
	for _, sp := range specs {
		dup := false
		for k := range kept {
			if kept[k].canonical() == sp.canonical() {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, sp)
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	return Specifiers{specs: kept, pre: pre, arbitrary: arbitrary, ranges: ranges}
}

// String returns the members sorted and joined by commas, as
// str(SpecifierSet).
func (s Specifiers) String() string {
	var b strings.Builder
	for i, sp := range s.specs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(sp.op)
		b.WriteString(sp.ver)
	}
	return b.String()
}

// Items returns the members, sorted by their string form.
func (s Specifiers) Items() []Specifier { return slices.Clone(s.specs) }

// Len returns the number of distinct members.
func (s Specifiers) Len() int { return len(s.specs) }

// IsEmpty reports whether the set has no members (and so accepts all).
func (s Specifiers) IsEmpty() bool { return len(s.specs) == 0 }

// Equal reports whether the sets have the same members (">=1.0,<2" equals
// "<2.0, >=1"); pre-release policies are ignored, as in packaging.
func (s Specifiers) Equal(o Specifiers) bool {
	if len(s.specs) != len(o.specs) {
		return false
	}
	for i := range s.specs {
		if !s.specs[i].Equal(o.specs[i]) {
			return false
		}
	}
	return true
}

// WithPrereleases returns s with an explicit pre-release policy (packaging's
// SpecifierSet(..., prereleases=...)).
func (s Specifiers) WithPrereleases(p PrereleasePolicy) Specifiers {
	s.pre = p
	return s
}

// PrereleaseHint is packaging's SpecifierSet.prereleases property: the
// explicit policy if set, else Allow when some member names a
// pre-release, else Default.
func (s Specifiers) PrereleaseHint() PrereleasePolicy {
	if s.pre != PrereleaseDefault {
		return s.pre
	}
	for i := range s.specs {
		if s.specs[i].PrereleaseHint() == PrereleaseAllow {
			return PrereleaseAllow
		}
	}
	return PrereleaseDefault
}

// ErrPrereleaseConflict is returned by And when one set allows and the
// other denies pre-releases explicitly.
var ErrPrereleaseConflict = errors.New("pep440: cannot combine specifier sets with conflicting prerelease policies")

// And returns the set that requires both s and o (packaging's s & o).
func (s Specifiers) And(o Specifiers) (Specifiers, error) {
	pre := o.pre
	switch {
	case s.pre == PrereleaseDefault || s.pre == o.pre:
	case o.pre == PrereleaseDefault:
		pre = s.pre
	default:
		return Specifiers{}, ErrPrereleaseConflict
	}
	specs := make([]Specifier, 0, len(s.specs)+len(o.specs))
	specs = append(specs, s.specs...)
	specs = append(specs, o.specs...)
	return newSpecifiers(specs, pre), nil
}

// Contains is ContainsWith(v, PrereleaseDefault).
func (s Specifiers) Contains(v Version) bool { return s.ContainsWith(v, PrereleaseDefault) }

// ContainsWith reports whether v satisfies every member. As in packaging
// 26.0+, a pre-release matches under PrereleaseDefault (a single version
// has no alternatives); PrereleaseDeny, or a set made with
// WithPrereleases(PrereleaseDeny), rejects it. pip's installed=True
// corresponds to passing PrereleaseAllow for a pre-release v.
func (s Specifiers) ContainsWith(v Version, p PrereleasePolicy) bool {
	return s.contains(item{v: v, ok: true, isVersion: true}, p)
}

// ContainsString is ContainsWith for an unparsed string. With "===" the
// string is compared as written; a string that is not a version matches
// only "===" or the empty set.
func (s Specifiers) ContainsString(str string, p PrereleasePolicy) bool {
	v, ok := parseOK(str)
	return s.contains(item{raw: str, v: v, ok: ok}, p)
}

func (s *Specifiers) contains(it item, p PrereleasePolicy) bool {
	if it.ok && !s.arbitrary && it.v.local == nil && len(s.specs) > 0 {
		if it.v.IsPrerelease() && (p == PrereleaseDeny || (p == PrereleaseDefault && s.pre == PrereleaseDeny)) {
			return false
		}
		return matchRanges(s.ranges, &it.v)
	}
	return len(s.filter([]item{it}, p)) > 0
}

// Filter returns the versions in vs that satisfy s, in their order. Under
// PrereleaseDefault (and no hint from the set), pre-releases are dropped
// unless no final release matches, in which case the matching
// pre-releases are returned (PEP 440, packaging 26.0).
func (s Specifiers) Filter(vs []Version, p PrereleasePolicy) []Version {
	return pickVersions(vs, s.filter(versionItems(vs), p))
}

// FilterStrings is Filter for unparsed strings, returning them as given.
func (s Specifiers) FilterStrings(vs []string, p PrereleasePolicy) []string {
	return pickStrings(vs, s.filter(stringItems(vs), p))
}

func (s *Specifiers) filter(items []item, p PrereleasePolicy) []int {
	if p == PrereleaseDefault {
		p = s.PrereleaseHint()
	}
	if len(s.specs) == 0 {
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		return applyPrereleases(items, idx, p)
	}
	if s.arbitrary {
		var idx []int
		for i := range items {
			all := true
			for k := range s.specs {
				if !s.specs[k].contains(items[i], PrereleaseAllow) {
					all = false
					break
				}
			}
			if all {
				idx = append(idx, i)
			}
		}
		return applyPrereleases(items, idx, p)
	}
	return filterByRanges(s.ranges, items, p)
}

// IsUnsatisfiable reports whether no version can satisfy s (">=2,<1",
// "==1.0,!=1.0", or only pre-releases left under an explicit Deny).
func (s Specifiers) IsUnsatisfiable() bool {
	if len(s.specs) == 0 {
		return false
	}
	if len(s.ranges) == 0 {
		return true
	}
	if s.arbitraryUnsatisfiable() {
		return true
	}
	return s.pre == PrereleaseDeny && rangesArePrereleaseOnly(s.ranges)
}

func (s *Specifiers) arbitraryUnsatisfiable() bool {
	var first *Specifier
	var standard []*Specifier
	for i := range s.specs {
		sp := &s.specs[i]
		if sp.op != "===" {
			standard = append(standard, sp)
			continue
		}
		if first == nil {
			first = sp
		} else if !strings.EqualFold(strings.ToLower(first.ver), strings.ToLower(sp.ver)) {
			return true
		}
	}
	if first == nil {
		return false
	}
	cand, ok := parseOK(first.ver)
	if s.pre == PrereleaseDeny && ok && cand.IsPrerelease() {
		return true
	}
	if len(standard) == 0 {
		return false
	}
	if !ok {
		return true
	}
	for _, sp := range standard {
		if !sp.contains(item{v: cand, ok: true, isVersion: true}, PrereleaseDefault) {
			return true
		}
	}
	return false
}

// MarshalText implements encoding.TextMarshaler.
func (s Specifiers) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Specifiers) UnmarshalText(b []byte) error {
	p, err := ParseSpecifiers(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
