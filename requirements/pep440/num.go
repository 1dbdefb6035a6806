package pep440

import (
	"maps"
	"strconv"
)

// Numbers. PEP 440 puts no bound on them and pypa/packaging uses Python's
// unbounded ints. A Version keeps every number in a uint64 field; a number
// that does not fit is stored as maxU and its exact decimal digits go in
// the Version's big table, keyed by the number's position. Fields that
// differ order correctly by their uint64 alone (maxU is above every other
// value), so the table is consulted only when both sides hold maxU; in
// the common case it is nil and comparing never allocates or chases a
// pointer.

const maxU = ^uint64(0)

var maxUDigits = strconv.FormatUint(maxU, 10)

// Positions of the numbers that are not release components (those use
// their index).
const (
	posEpoch int32 = -1 - iota
	posPre
	posPost
	posDev
)

type bigNums struct {
	m map[int32]string
}

// trimZeros strips leading zeros from a run of ASCII digits.
func trimZeros(s string) string {
	i := 0
	for i < len(s)-1 && s[i] == '0' {
		i++
	}
	return s[i:]
}

// parseNum converts a non-empty run of ASCII digits; digits is "" unless
// the value exceeds the largest uint64, in which case n is maxU.
func parseNum(s string) (n uint64, digits string) {
	s = trimZeros(s)
	if len(s) <= 19 {
		for j := 0; j < len(s); j++ {
			n = n*10 + uint64(s[j]-'0')
		}
		return n, ""
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, ""
	}
	return maxU, s
}

// digits returns the exact digits of the number at pos, which holds maxU.
func (v *Version) digits(pos int32) string {
	if v.big != nil {
		if d, ok := v.big.m[pos]; ok {
			return d
		}
	}
	return maxUDigits
}

// setBig records the digits of a number at pos that holds maxU (copy on
// write: Versions share their tables).
func (v *Version) setBig(pos int32, d string) {
	if d == "" {
		d = maxUDigits
	}
	if v.big != nil {
		if cur, ok := v.big.m[pos]; ok && cur == d {
			return
		}
	}
	m := map[int32]string{}
	if v.big != nil {
		m = maps.Clone(v.big.m)
	}
	m[pos] = d
	v.big = &bigNums{m: m}
}

func cmpDigits(a, b string) int {
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpNum compares the numbers x of v and y of w at pos.
func cmpNum(x, y uint64, v, w *Version, pos int32) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x != maxU || (v.big == nil && w.big == nil):
		return 0
	}
	return cmpDigits(v.digits(pos), w.digits(pos))
}

func (v *Version) appendNum(b []byte, x uint64, pos int32) []byte {
	if x == maxU {
		return append(b, v.digits(pos)...)
	}
	return strconv.AppendUint(b, x, 10)
}

// incNum returns x+1 for the number x of v at pos, as a value and, when
// it does not fit, its digits.
func (v *Version) incNum(x uint64, pos int32) (uint64, string) {
	if x < maxU {
		return x + 1, ""
	}
	d := []byte(v.digits(pos))
	i := len(d) - 1
	for i >= 0 && d[i] == '9' {
		d[i] = '0'
		i--
	}
	if i < 0 {
		return maxU, "1" + string(d)
	}
	d[i]++
	return maxU, string(d)
}

// setNum stores a number at pos (see parseNum for digits).
func (v *Version) setNum(pos int32, x uint64, digits string) {
	switch pos {
	case posEpoch:
		v.epoch = x
	case posPre:
		v.preN = x
	case posPost:
		v.postN = x
	case posDev:
		v.devN = x
	default:
		v.release[pos] = x
	}
	if x == maxU {
		v.setBig(pos, digits)
	}
}
