package dist

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Tag is one PEP 425 compatibility tag: interpreter, ABI and platform,
// lower-cased ("cp311-cp311-manylinux_2_17_x86_64", "py3-none-any").
type Tag struct {
	Interpreter string
	ABI         string
	Platform    string
}

// String returns "interpreter-abi-platform".
func (t Tag) String() string { return t.Interpreter + "-" + t.ABI + "-" + t.Platform }

// Sentinel errors for tags.
var (
	ErrInvalidTag  = errors.New("invalid wheel tag")
	ErrUnsortedTag = errors.New("compressed tag set components are not in sorted order (PEP 425)")
)

// ParseTag expands a possibly compressed tag set ("py2.py3-none-any") into
// its tags, in interpreter, ABI, platform order. With validateOrder, each
// dot-separated component must be sorted, as PEP 425 asks of wheel
// builders. Rules follow packaging.tags.parse_tag: three components, no
// empty member, and interpreter members that are Python identifiers.
func ParseTag(s string, validateOrder bool) ([]Tag, error) {
	comps := strings.Split(s, "-")
	parts := make([][]string, len(comps))
	for i, c := range comps {
		parts[i] = strings.Split(c, ".")
		if slices.Contains(parts[i], "") {
			return nil, fmt.Errorf("%w: tag %q has an empty component %q", ErrInvalidTag, s, c)
		}
		if validateOrder && !slices.IsSorted(parts[i]) {
			return nil, fmt.Errorf("%w: %q in %q", ErrUnsortedTag, c, s)
		}
	}
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: tag %q must have exactly three components", ErrInvalidTag, s)
	}
	for _, in := range parts[0] {
		if !isIdentifier(in) {
			return nil, fmt.Errorf("%w: tag %q has an invalid interpreter %q", ErrInvalidTag, s, in)
		}
	}
	var out []Tag
	seen := map[Tag]bool{}
	for _, in := range parts[0] {
		for _, abi := range parts[1] {
			for _, plat := range parts[2] {
				t := Tag{strings.ToLower(in), strings.ToLower(abi), strings.ToLower(plat)}
				if !seen[t] {
					seen[t] = true
					out = append(out, t)
				}
			}
		}
	}
	return out, nil
}

// isIdentifier approximates Python's str.isidentifier (XID_Start followed
// by XID_Continue).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', unicode.IsLetter(r), unicode.Is(unicode.Nl, r):
		case i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nd, r)):
		default:
			return false
		}
	}
	return true
}

// TagSet ranks tags by preference: the order of an interpreter's
// SupportedTags, best first. The zero TagSet supports nothing.
type TagSet struct {
	rank map[Tag]int
}

// NewTagSet indexes tags, best first; a repeated tag keeps its first rank.
func NewTagSet(tags []Tag) TagSet {
	s := TagSet{rank: make(map[Tag]int, len(tags))}
	for i, t := range tags {
		if _, ok := s.rank[t]; !ok {
			s.rank[t] = i
		}
	}
	return s
}

// Len returns the number of distinct tags.
func (s TagSet) Len() int { return len(s.rank) }

// Contains reports whether t is supported.
func (s TagSet) Contains(t Tag) bool {
	_, ok := s.rank[t]
	return ok
}

// Rank returns the best (lowest) rank among tags, ok=false when none is
// supported. Lower is better: pick the wheel with the lowest rank, as
// pip and packaging's create_compatible_tags_selector do.
func (s TagSet) Rank(tags []Tag) (rank int, ok bool) {
	rank = -1
	for _, t := range tags {
		if r, found := s.rank[t]; found && (rank < 0 || r < rank) {
			rank = r
		}
	}
	return rank, rank >= 0
}

// Best returns the index of the wheel to install among wheels of one
// version, as pip prefers them: the best-ranked tag, then the highest
// build tag, then the earliest; -1 when none is supported.
func (s TagSet) Best(wheels []WheelName) int {
	best, bestRank := -1, 0
	for i, w := range wheels {
		r, ok := s.Rank(w.Tags)
		if !ok {
			continue
		}
		if best < 0 || r < bestRank || (r == bestRank && w.Build.Compare(wheels[best].Build) > 0) {
			best, bestRank = i, r
		}
	}
	return best
}
