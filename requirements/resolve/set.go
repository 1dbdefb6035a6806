package resolve

import "math/bits"

// vset is a set of candidate indexes of one package. Every package has a
// finite, fixed list of candidates (fetched once), so a version range is
// exactly a bit set over that list and set algebra is exact and cheap —
// no interval arithmetic over PEP 440's many special cases.
type vset []uint64

func words(n int) int { return (n + 63) / 64 }

func fullSet(n int) vset {
	s := make(vset, words(n))
	for i := range s {
		s[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		s[len(s)-1] = (1 << r) - 1
	}
	return s
}

func emptySet(n int) vset { return make(vset, words(n)) }

func singleton(n, i int) vset {
	s := emptySet(n)
	s[i/64] |= 1 << (i % 64)
	return s
}

func (s vset) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

func (s vset) add(i int) { s[i/64] |= 1 << (i % 64) }

func (s vset) and(t vset) vset {
	r := make(vset, len(s))
	for i := range s {
		r[i] = s[i] & t[i]
	}
	return r
}

func (s vset) or(t vset) vset {
	r := make(vset, len(s))
	for i := range s {
		r[i] = s[i] | t[i]
	}
	return r
}

func (s vset) not(n int) vset {
	r := make(vset, len(s))
	for i := range s {
		r[i] = ^s[i]
	}
	if rem := n % 64; rem != 0 && len(r) > 0 {
		r[len(r)-1] &= (1 << rem) - 1
	}
	return r
}

func (s vset) empty() bool {
	for _, w := range s {
		if w != 0 {
			return false
		}
	}
	return true
}

func (s vset) subsetOf(t vset) bool {
	for i := range s {
		if s[i]&^t[i] != 0 {
			return false
		}
	}
	return true
}

func (s vset) equal(t vset) bool {
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func (s vset) count() int {
	c := 0
	for _, w := range s {
		c += bits.OnesCount64(w)
	}
	return c
}

// indexes lists the members in increasing order (newest candidate first,
// as candidates are sorted newest first).
func (s vset) indexes() []int {
	var out []int
	for wi, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, wi*64+b)
			w &^= 1 << b
		}
	}
	return out
}

// term is a PubGrub term over one package, stored as the set of outcomes
// it allows: the candidate versions in set, plus "not selected at all"
// when none is true. A positive term "p in S" is {S, false}; a negative
// term "not p in S" is {¬S, true}. Intersection, union and inclusion are
// then plain set operations.
type term struct {
	set  vset
	none bool
}

func (t term) positive() bool { return !t.none }

func (t term) intersect(u term, n int) term {
	return term{t.set.and(u.set), t.none && u.none}
}

func (t term) union(u term, n int) term {
	return term{t.set.or(u.set), t.none || u.none}
}

func (t term) negate(n int) term { return term{t.set.not(n), !t.none} }

func (t term) isEmpty() bool { return !t.none && t.set.empty() }

// subsetOf reports whether every outcome t allows, u allows too ("t
// satisfies u").
func (t term) subsetOf(u term) bool {
	return t.set.subsetOf(u.set) && (!t.none || u.none)
}

func (t term) disjoint(u term) bool {
	if t.none && u.none {
		return false
	}
	for i := range t.set {
		if t.set[i]&u.set[i] != 0 {
			return false
		}
	}
	return true
}

func (t term) equal(u term) bool { return t.none == u.none && t.set.equal(u.set) }

// anyTerm allows everything: the state of a package nothing has said
// anything about.
func anyTerm(n int) term { return term{fullSet(n), true} }
