package pep440

import "errors"

// ErrArbitraryRelation is returned by the set relations when a side uses
// "===", whose literal-string matching has no version-range meaning.
var ErrArbitraryRelation = errors.New("pep440: set relations do not support === specifiers")

// complementRanges is packaging's _complement_ranges: the gaps between
// sorted, disjoint intervals, with the bounds' inclusivity flipped.
func complementRanges(rs []interval) []interval {
	if len(rs) == 0 {
		return fullRange
	}
	var out []interval
	var prev *bound
	for i := range rs {
		lo, hi := rs[i].lo, rs[i].hi
		if prev == nil {
			if !lo.unbounded {
				out = append(out, interval{unboundedB, bound{p: lo.p, inclusive: !lo.inclusive}})
			}
		} else {
			out = append(out, interval{bound{p: prev.p, inclusive: !prev.inclusive}, bound{p: lo.p, inclusive: !lo.inclusive}})
		}
		prev = &rs[i].hi
		_ = hi
	}
	if !prev.unbounded {
		out = append(out, interval{bound{p: prev.p, inclusive: !prev.inclusive}, unboundedB})
	}
	return out
}

// relationCheck is packaging's _check_relation_operand and
// VersionRange._check_policy_compat.
func (s *Specifiers) relationCheck(o *Specifiers) error {
	if s.arbitrary || o.arbitrary {
		return ErrArbitraryRelation
	}
	if s.pre != o.pre {
		return ErrPrereleaseConflict
	}
	return nil
}

// rangeEmpty is VersionRange.is_empty for the bounds of a set with no
// "===": under an explicit Deny, pre-release-only ranges are empty.
func (s *Specifiers) rangeEmpty(rs []interval) bool {
	return len(rs) == 0 || (s.pre == PrereleaseDeny && rangesArePrereleaseOnly(rs))
}

// IsSubset reports whether every version s accepts is accepted by o
// (packaging's SpecifierSet.is_subset, 26.3). Both sets must have the
// same explicit pre-release policy and no "===" member. The empty set
// accepts every version and every string, so it is a subset only of
// another empty set.
func (s Specifiers) IsSubset(o Specifiers) (bool, error) {
	if err := s.relationCheck(&o); err != nil {
		return false, err
	}
	switch {
	case s.IsEmpty():
		return o.IsEmpty(), nil
	case o.IsEmpty():
		return true, nil
	}
	return s.rangeEmpty(intersectRanges(s.ranges, complementRanges(o.ranges))), nil
}

// IsSuperset reports whether every version o accepts is accepted by s.
func (s Specifiers) IsSuperset(o Specifiers) (bool, error) {
	if err := s.relationCheck(&o); err != nil {
		return false, err
	}
	return o.IsSubset(s)
}

// IsDisjoint reports whether no version is accepted by both s and o.
func (s Specifiers) IsDisjoint(o Specifiers) (bool, error) {
	if err := s.relationCheck(&o); err != nil {
		return false, err
	}
	switch {
	case s.IsEmpty() && o.IsEmpty():
		return false, nil
	case s.IsEmpty():
		return o.rangeEmpty(o.ranges), nil
	case o.IsEmpty():
		return s.rangeEmpty(s.ranges), nil
	}
	return s.rangeEmpty(intersectRanges(s.ranges, o.ranges)), nil
}
