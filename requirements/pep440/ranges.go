package pep440

import "slices"

// This file is the interval engine behind specifier matching. It follows
// pypa/packaging's _ranges module: each specifier becomes sorted,
// non-overlapping intervals whose ends are either real versions or two
// kinds of boundary points that sit between real versions:
//
//	V < V+local < afterLocals(V) < V.post0 < afterPosts(V)
//
// afterLocals(V) is the upper end of <=V, ==V and !=V (a local label is
// ignored by them); afterPosts(V) is the lower end of >V, which excludes
// V's post-releases unless V is itself one (PEP 440 "exclusive ordered
// comparison").

type boundKind uint8

const (
	kindVersion boundKind = iota
	kindAfterLocals
	kindAfterPosts
)

type point struct {
	v    Version
	kind boundKind
}

type bound struct {
	p         point
	unbounded bool
	inclusive bool
}

type interval struct{ lo, hi bound }

var (
	minVersion = Version{release: []uint64{0}, hasDev: true} // 0.dev0
	minRelease = Version{release: []uint64{0}}               // 0
	fullRange  = []interval{{lo: bound{unbounded: true}, hi: bound{unbounded: true}}}
)

func sameEpochRelease(a, b *Version) bool {
	return cmpNum(a.epoch, b.epoch, a, b, posEpoch) == 0 && sameRelease(a, b)
}

// localFamily: same public version, any local label.
func localFamily(v, x *Version) bool {
	return sameEpochRelease(v, x) && samePre(v, x) && samePost(v, x) && sameDev(v, x)
}

// postFamily is BoundaryVersion._is_family for afterPosts(V).
func postFamily(v, x *Version) bool {
	return sameEpochRelease(v, x) && samePre(v, x) && (sameDev(v, x) || x.hasPost)
}

func (p *point) family(x *Version) bool {
	if p.kind == kindAfterLocals {
		return localFamily(&p.v, x)
	}
	return postFamily(&p.v, x)
}

// boundaryLessVersion reports boundary p < version x.
func boundaryLessVersion(p *point, x *Version) bool {
	return compareVersions(&p.v, x) < 0 && !p.family(x)
}

// cmpBoundaries compares two boundary points by packaging's order key.
func cmpBoundaries(a, b *point) int {
	if c := cmpNum(a.v.epoch, b.v.epoch, &a.v, &b.v, posEpoch); c != 0 {
		return c
	}
	if c := cmpRelease(&a.v, &b.v); c != 0 {
		return c
	}
	if c := cmpInt(a.v.preRank(), b.v.preRank()); c != 0 {
		return c
	}
	if c := cmpNum(a.v.preN, b.v.preN, &a.v, &b.v, posPre); c != 0 {
		return c
	}
	postRank := func(p *point) bool { return p.kind == kindAfterPosts || p.v.hasPost }
	if c := cmpBool(postRank(a), postRank(b)); c != 0 {
		return c
	}
	aInf, bInf := a.kind == kindAfterPosts, b.kind == kindAfterPosts
	switch {
	case aInf && bInf:
	case aInf:
		return 1
	case bInf:
		return -1
	default:
		if c := cmpNum(a.v.postN, b.v.postN, &a.v, &b.v, posPost); c != 0 {
			return c
		}
	}
	devRank := func(p *point) bool { return p.kind == kindAfterPosts || !p.v.hasDev }
	if c := cmpBool(devRank(a), devRank(b)); c != 0 {
		return c
	}
	if !aInf && !bInf {
		return cmpNum(a.v.devN, b.v.devN, &a.v, &b.v, posDev)
	}
	if aInf && bInf {
		return 0
	}
	if aInf {
		return cmpBool(false, b.v.devN != 0)
	}
	return cmpBool(a.v.devN != 0, false)
}

func pointEq(a, b *point) bool {
	if a.kind == kindVersion && b.kind == kindVersion {
		return compareVersions(&a.v, &b.v) == 0
	}
	if a.kind == kindVersion || b.kind == kindVersion {
		return false
	}
	return cmpBoundaries(a, b) == 0
}

func pointLess(a, b *point) bool {
	switch {
	case a.kind == kindVersion && b.kind == kindVersion:
		return compareVersions(&a.v, &b.v) < 0
	case a.kind != kindVersion && b.kind != kindVersion:
		return cmpBoundaries(a, b) < 0
	case a.kind != kindVersion:
		return boundaryLessVersion(a, &b.v)
	default:
		return !boundaryLessVersion(b, &a.v)
	}
}

func lowerEq(a, b *bound) bool {
	if a.unbounded || b.unbounded {
		return a.unbounded == b.unbounded
	}
	return pointEq(&a.p, &b.p) && a.inclusive == b.inclusive
}

func lowerLess(a, b *bound) bool {
	if a.unbounded {
		return !b.unbounded
	}
	if b.unbounded {
		return false
	}
	if !pointEq(&a.p, &b.p) {
		return pointLess(&a.p, &b.p)
	}
	return a.inclusive && !b.inclusive
}

func upperLess(a, b *bound) bool {
	if a.unbounded {
		return false
	}
	if b.unbounded {
		return true
	}
	if !pointEq(&a.p, &b.p) {
		return pointLess(&a.p, &b.p)
	}
	return !a.inclusive && b.inclusive
}

// above reports whether x is at or above the lower bound.
func (b *bound) above(x *Version) bool {
	if b.unbounded {
		return true
	}
	v := &b.p.v
	switch b.p.kind {
	case kindAfterPosts:
		if compareVersions(v, x) >= 0 {
			return false
		}
		return !(sameEpochRelease(v, x) && samePre(v, x))
	case kindAfterLocals:
		if compareVersions(v, x) >= 0 {
			return false
		}
		return !localFamily(v, x)
	}
	if b.inclusive {
		return compareVersions(v, x) <= 0
	}
	return compareVersions(v, x) < 0
}

// below reports whether x is at or below the upper bound.
func (b *bound) below(x *Version) bool {
	if b.unbounded {
		return true
	}
	v := &b.p.v
	switch b.p.kind {
	case kindAfterLocals:
		return compareVersions(v, x) >= 0 || localFamily(v, x)
	case kindAfterPosts:
		return !boundaryLessVersion(&b.p, x)
	}
	if b.inclusive {
		return compareVersions(v, x) >= 0
	}
	return compareVersions(v, x) > 0
}

func matchRanges(rs []interval, x *Version) bool {
	for i := range rs {
		if !rs[i].lo.above(x) {
			return false
		}
		if rs[i].hi.below(x) {
			return true
		}
	}
	return false
}

// Version surgery used to build bounds (packaging's __replace__).

func withDev(v Version, n uint64, digits string) Version {
	v.hasDev, v.local = true, nil
	v.setNum(posDev, n, digits)
	return v
}

// withNextDev is v with its dev number plus one.
func withNextDev(v Version) Version {
	n, d := v.incNum(v.devN, posDev)
	return withDev(v, n, d)
}

// withNextPostDev0 is v.post(N+1).dev0 (v.post0.dev0 without a post).
func withNextPostDev0(v Version) Version {
	var n uint64
	var d string
	if v.hasPost {
		n, d = v.incNum(v.postN, posPost)
	}
	v.hasPost = true
	v.setNum(posPost, n, d)
	v.hasDev, v.devN, v.local = true, 0, nil
	return v
}

func nextPrefixDev0(v Version) Version {
	rel := slices.Clone(v.release)
	out := Version{epoch: v.epoch, release: rel, hasDev: true, big: v.big}
	last := int32(len(rel) - 1)
	n, d := v.incNum(rel[last], last)
	out.setNum(last, n, d)
	return out
}

func baseDev0(v Version) Version {
	return Version{epoch: v.epoch, release: v.release, hasDev: true, big: v.big}
}

// leastVersionAbove is the smallest real version above a boundary, ok=false
// when there is none.
func leastVersionAbove(p *point) (Version, bool) {
	base := p.v
	if p.kind == kindAfterLocals {
		if base.hasDev {
			return withNextDev(base), true
		}
		return withNextPostDev0(base), true
	}
	if base.pre != preNone {
		n, d := base.incNum(base.preN, posPre)
		base.setNum(posPre, n, d)
		base.hasPost, base.postN = false, 0
		return withDev(base, 0, ""), true
	}
	return Version{}, false
}

func rangeIsEmpty(lo, hi *bound) bool {
	if hi.unbounded {
		return false
	}
	if lo.unbounded {
		return !hi.inclusive && hi.p.kind == kindVersion && compareVersions(&hi.p.v, &minVersion) <= 0
	}
	if lo.p.kind != kindVersion {
		if succ, ok := leastVersionAbove(&lo.p); ok {
			sp := point{v: succ}
			if pointEq(&hi.p, &sp) {
				return !hi.inclusive
			}
			return pointLess(&hi.p, &sp)
		}
	}
	if pointEq(&lo.p, &hi.p) {
		return !(lo.inclusive && hi.inclusive)
	}
	return pointLess(&hi.p, &lo.p)
}

func intersectRanges(left, right []interval) []interval {
	var out []interval
	i, j := 0, 0
	for i < len(left) && j < len(right) {
		l, r := &left[i], &right[j]
		lo := l.lo
		if !lowerLess(&r.lo, &l.lo) && !lowerEq(&r.lo, &l.lo) { // max: r.lo > l.lo
			lo = r.lo
		}
		hi := l.hi
		if upperLess(&r.hi, &l.hi) { // min: r.hi < l.hi
			hi = r.hi
		}
		if !rangeIsEmpty(&lo, &hi) {
			out = append(out, interval{lo, hi})
		}
		if upperLess(&l.hi, &r.hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

func nearestReleaseAbovePre(v Version) Version {
	if v.pre != preNone {
		return Version{epoch: v.epoch, release: v.release, big: v.big}
	}
	v.hasDev, v.devN, v.local = false, 0, nil
	return v
}

func lowestReleaseAtOrAbove(b *bound) Version {
	if b.unbounded {
		return minRelease
	}
	v := b.p.v
	if b.p.kind != kindVersion {
		if v.IsPrerelease() {
			return nearestReleaseAbovePre(v)
		}
		var n uint64
		var d string
		if v.hasPost {
			n, d = v.incNum(v.postN, posPost)
		}
		v.hasPost, v.local = true, nil
		v.setNum(posPost, n, d)
		return v
	}
	if !v.IsPrerelease() {
		return v
	}
	return nearestReleaseAbovePre(v)
}

func rangesArePrereleaseOnly(rs []interval) bool {
	for i := range rs {
		nearest := point{v: lowestReleaseAtOrAbove(&rs[i].lo)}
		hi := &rs[i].hi
		if hi.unbounded || pointLess(&nearest, &hi.p) {
			return false
		}
		if pointEq(&nearest, &hi.p) && hi.inclusive {
			return false
		}
	}
	return true
}

func vb(v Version, inclusive bool) bound { return bound{p: point{v: v}, inclusive: inclusive} }

func boundaryB(v Version, k boundKind, inclusive bool) bound {
	return bound{p: point{v: v, kind: k}, inclusive: inclusive}
}

var unboundedB = bound{unbounded: true}

func wildcardRanges(op string, base Version) []interval {
	lo, hi := baseDev0(base), nextPrefixDev0(base)
	if op == "==" {
		return []interval{{vb(lo, true), vb(hi, false)}}
	}
	return []interval{{unboundedB, vb(lo, false)}, {vb(hi, true), unboundedB}}
}

func standardRanges(op string, v Version, hasLocal bool) []interval {
	switch op {
	case ">=":
		return []interval{{vb(v, true), unboundedB}}
	case "<=":
		return []interval{{unboundedB, boundaryB(v, kindAfterLocals, true)}}
	case ">":
		if v.hasDev {
			return []interval{{vb(withNextDev(v), true), unboundedB}}
		}
		if v.hasPost {
			return []interval{{vb(withNextPostDev0(v), true), unboundedB}}
		}
		return []interval{{boundaryB(v, kindAfterPosts, false), unboundedB}}
	case "<":
		b := v
		if !v.IsPrerelease() {
			b = withDev(v, 0, "")
		}
		if compareVersions(&b, &minVersion) <= 0 {
			return []interval{}
		}
		return []interval{{unboundedB, vb(b, false)}}
	case "==", "!=":
		upper := boundaryB(v, kindAfterLocals, true)
		if hasLocal {
			upper = vb(v, true)
		}
		if op == "==" {
			return []interval{{vb(v, true), upper}}
		}
		upper.inclusive = false
		return []interval{{unboundedB, vb(v, false)}, {upper, unboundedB}}
	case "~=":
		prefix := v
		prefix.release = v.release[:len(v.release)-1]
		return []interval{{vb(v, true), vb(nextPrefixDev0(prefix), false)}}
	}
	panic("pep440: unknown operator " + op)
}
