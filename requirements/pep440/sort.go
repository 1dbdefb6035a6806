package pep440

import "slices"

// sortKey packs a prefix of a version's order into two words (epoch,
// release components, then the pre/post/dev suffix when the release fits),
// each field saturated at its width. Fields after the first saturated one
// are left zero, so keys that differ order their versions exactly and
// equal keys fall back to the full comparison. The keys sit in one
// contiguous array: most comparisons while sorting touch no Version.
type sortKey struct {
	w0, w1 uint64
	idx    int32
	exact  bool // the key holds the whole version: equal keys, equal versions
}

// keyPacker appends fixed-width fields to a two-word key.
type keyPacker struct {
	w        [2]uint64
	used     uint // bits used in total
	overflow bool // a field saturated: stop adding
}

func (p *keyPacker) add(x uint64, bits uint) {
	if p.overflow {
		return
	}
	maxv := uint64(1)<<bits - 1
	if x >= maxv {
		x = maxv
		p.overflow = true
	}
	word := p.used / 64
	shift := 64 - (p.used%64 + bits)
	p.w[word] |= x << shift
	p.used += bits
}

func makeSortKey(v *Version, idx int) sortKey {
	var p keyPacker
	// Trailing zeros do not count in the release.
	n := len(v.release)
	for n > 0 && v.release[n-1] == 0 {
		n--
	}
	p.add(v.epoch, 4)
	widths := [...]uint{20, 20, 20, 24} // 4+20+20+20 = 64: word 0; 24 bits of word 1
	for j, bits := range widths {
		var x uint64
		if j < n {
			x = v.release[j]
		}
		p.add(x, bits)
	}
	// One bit says the release goes on; the suffix only counts when not.
	p.add(boolBit(n > len(widths)), 1)
	if n > len(widths) {
		p.overflow = true
	}
	// 39 bits left: the suffix, in _cmpkey order.
	p.add(uint64(v.preRank()+1), 3)
	p.add(v.preN, 8)
	p.add(boolBit(v.hasPost), 1)
	p.add(v.postN, 10)
	p.add(boolBit(!v.hasDev), 1)
	p.add(v.devN, 9)
	return sortKey{w0: p.w[0], w1: p.w[1], idx: int32(idx), exact: !p.overflow && v.local == nil}
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Sort sorts vs in ascending PEP 440 order. It is stable: versions that
// compare equal (1.0 and 1.0.0) keep their relative order, as Python's
// sorted(..., key=Version) does.
func Sort(vs []Version) {
	if len(vs) < 64 {
		slices.SortStableFunc(vs, func(a, b Version) int { return compareVersions(&a, &b) })
		return
	}
	keys := make([]sortKey, len(vs))
	for i := range vs {
		keys[i] = makeSortKey(&vs[i], i)
	}
	sortKeys(vs, keys)
	permute(vs, keys)

}

func keyCmp(a, b sortKey) int {
	switch {
	case a.w0 < b.w0:
		return -1
	case a.w0 > b.w0:
		return 1
	case a.w1 < b.w1:
		return -1
	case a.w1 > b.w1:
		return 1
	}
	return int(a.idx) - int(b.idx)
}

// sortKeys orders keys by the packed words (ties by index, so the sort is
// stable), then settles each run of equal words that holds an inexact key
// with the full comparison.
func sortKeys(vs []Version, keys []sortKey) {
	slices.SortFunc(keys, keyCmp)
	for i := 0; i < len(keys); {
		j := i + 1
		exact := keys[i].exact
		for j < len(keys) && keys[j].w0 == keys[i].w0 && keys[j].w1 == keys[i].w1 {
			exact = exact && keys[j].exact
			j++
		}
		if !exact && j-i > 1 {
			slices.SortStableFunc(keys[i:j], func(a, b sortKey) int {
				return compareVersions(&vs[a.idx], &vs[b.idx])
			})
		}
		i = j
	}
}

func permute(vs []Version, keys []sortKey) {
	// Apply the permutation in place, one cycle at a time: position k
	// receives vs[keys[k].idx]. Each Version moves once.
	for start := range keys {
		if keys[start].idx < 0 || int(keys[start].idx) == start {
			continue
		}
		tmp := vs[start]
		j := start
		for {
			src := int(keys[j].idx)
			keys[j].idx = -1
			if src == start {
				vs[j] = tmp
				break
			}
			vs[j] = vs[src]
			j = src
		}
	}
}
