package pep440

import "slices"

// suffix ranks follow pypa/packaging's _cmpkey: a dev-only release sorts
// before any a/b/rc of the same release, and a final release after them.
func (v *Version) preRank() int {
	switch {
	case v.pre != preNone:
		return int(v.pre) - 1 // a=0, b=1, rc=2
	case !v.hasPost && v.hasDev:
		return -1
	}
	return 3
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	if a == b {
		return 0
	}
	if a {
		return 1
	}
	return -1
}

// cmpRelease compares release segments with trailing zeros ignored.
func cmpRelease(v, w *Version) int {
	a, b := v.release, w.release
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y || x == maxU {
			if c := cmpNum(x, y, v, w, int32(i)); c != 0 {
				return c
			}
		}
	}
	return 0
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w in PEP
// 440 order: epoch, release (trailing zeros ignored, so 1.0 == 1.0.0),
// dev-only < a < b < rc < final < post, dev before non-dev, then the local
// label (none < any; numeric segments above alphanumeric ones). It does
// not allocate.
func (v Version) Compare(w Version) int {
	return compareVersions(&v, &w)
}

func compareVersions(v, w *Version) int {
	if c := cmpNum(v.epoch, w.epoch, v, w, posEpoch); c != 0 {
		return c
	}
	if c := cmpRelease(v, w); c != 0 {
		return c
	}
	return compareSuffix(v, w)
}

// compareSuffix compares everything after the release segment.
func compareSuffix(v, w *Version) int {
	if c := cmpInt(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if c := cmpNum(v.preN, w.preN, v, w, posPre); c != 0 {
		return c
	}
	if c := cmpBool(v.hasPost, w.hasPost); c != 0 {
		return c
	}
	if c := cmpNum(v.postN, w.postN, v, w, posPost); c != 0 {
		return c
	}
	if c := cmpBool(!v.hasDev, !w.hasDev); c != 0 {
		return c
	}
	if c := cmpNum(v.devN, w.devN, v, w, posDev); c != 0 {
		return c
	}
	return compareLocal(v.local, w.local)
}

func compareLocal(a, b []localPart) int {
	if a == nil || b == nil {
		return cmpBool(a != nil, b != nil)
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := &a[i], &b[i]
		if x.isNum != y.isNum {
			return cmpBool(x.isNum, y.isNum)
		}
		var c int
		if x.isNum {
			c = cmpDigits(x.s, y.s)
		} else {
			switch {
			case x.s < y.s:
				c = -1
			case x.s > y.s:
				c = 1
			}
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(len(a), len(b))
}

// Equal reports whether v and w compare equal (1.0 equals 1.0.0).
func (v Version) Equal(w Version) bool { return compareVersions(&v, &w) == 0 }

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool { return compareVersions(&v, &w) < 0 }

func (v *Version) appendBase(b []byte) []byte {
	if v.epoch != 0 {
		b = v.appendNum(b, v.epoch, posEpoch)
		b = append(b, '!')
	}
	if len(v.release) == 0 {
		return append(b, '0')
	}
	for i, r := range v.release {
		if i > 0 {
			b = append(b, '.')
		}
		b = v.appendNum(b, r, int32(i))
	}
	return b
}

func (v *Version) appendPublic(b []byte) []byte {
	b = v.appendBase(b)
	if v.pre != preNone {
		b = append(b, preLabels[v.pre]...)
		b = v.appendNum(b, v.preN, posPre)
	}
	if v.hasPost {
		b = append(b, ".post"...)
		b = v.appendNum(b, v.postN, posPost)
	}
	if v.hasDev {
		b = append(b, ".dev"...)
		b = v.appendNum(b, v.devN, posDev)
	}
	return b
}

func (v *Version) appendLocal(b []byte) []byte {
	for i, p := range v.local {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, p.s...)
	}
	return b
}

// String returns the normalized form, as str(packaging.version.Version).
func (v Version) String() string {
	var buf [64]byte
	b := v.appendPublic(buf[:0])
	if v.local != nil {
		b = append(b, '+')
		b = v.appendLocal(b)
	}
	return string(b)
}

// Public returns the normalized version without its local label.
func (v Version) Public() string {
	var buf [64]byte
	return string(v.appendPublic(buf[:0]))
}

// BaseVersion returns the epoch and release only ("1!2.0" for "1!2.0rc1+x").
func (v Version) BaseVersion() string {
	var buf [64]byte
	return string(v.appendBase(buf[:0]))
}

// Local returns the normalized local label, "" when there is none.
func (v Version) Local() string {
	if v.local == nil {
		return ""
	}
	return string(v.appendLocal(nil))
}

// IsPrerelease reports whether v has a pre-release or dev segment.
func (v Version) IsPrerelease() bool { return v.pre != preNone || v.hasDev }

// IsPostrelease reports whether v has a post-release segment.
func (v Version) IsPostrelease() bool { return v.hasPost }

// IsDevrelease reports whether v has a dev segment.
func (v Version) IsDevrelease() bool { return v.hasDev }

// HasLocal reports whether v has a local label.
func (v Version) HasLocal() bool { return v.local != nil }

// Epoch returns the epoch (0 when absent). An epoch larger than a uint64
// is reported as the largest uint64; see HasLargeNumbers.
func (v Version) Epoch() uint64 { return v.epoch }

// Release returns the release segment as written (trailing zeros kept).
// Components larger than a uint64 are reported as the largest uint64.
func (v Version) Release() []uint64 {
	if len(v.release) == 0 {
		return []uint64{0}
	}
	return slices.Clone(v.release)
}

// ReleaseStrings returns the release components in decimal, exact for
// numbers of any size.
func (v Version) ReleaseStrings() []string {
	if len(v.release) == 0 {
		return []string{"0"}
	}
	out := make([]string, len(v.release))
	for i, r := range v.release {
		out[i] = string(v.appendNum(nil, r, int32(i)))
	}
	return out
}

// Pre returns the normalized pre-release label ("a", "b" or "rc") and
// number, or ok=false.
func (v Version) Pre() (label string, n uint64, ok bool) {
	if v.pre == preNone {
		return "", 0, false
	}
	return preLabels[v.pre], v.preN, true
}

// Post returns the post-release number, or ok=false.
func (v Version) Post() (n uint64, ok bool) { return v.postN, v.hasPost }

// Dev returns the development release number, or ok=false.
func (v Version) Dev() (n uint64, ok bool) { return v.devN, v.hasDev }

// HasLargeNumbers reports whether some number in v exceeds a uint64; the
// accessors then saturate, while String and Compare stay exact.
func (v Version) HasLargeNumbers() bool {
	large := func(x uint64, pos int32) bool { return x == maxU && v.digits(pos) != maxUDigits }
	if large(v.epoch, posEpoch) || large(v.preN, posPre) || large(v.postN, posPost) || large(v.devN, posDev) {
		return true
	}
	for i, r := range v.release {
		if large(r, int32(i)) {
			return true
		}
	}
	for _, l := range v.local {
		if l.isNum && cmpDigits(l.s, maxUDigits) > 0 {
			return true
		}
	}
	return false
}

// MarshalText implements encoding.TextMarshaler (the normalized form).
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Version) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// sameRelease reports whether the releases are equal with trailing zeros
// ignored.
func sameRelease(a, b *Version) bool { return cmpRelease(a, b) == 0 }

// samePre compares the pre-release segments.
func samePre(a, b *Version) bool {
	return a.pre == b.pre && (a.pre == preNone || cmpNum(a.preN, b.preN, a, b, posPre) == 0)
}

func samePost(a, b *Version) bool {
	return a.hasPost == b.hasPost && (!a.hasPost || cmpNum(a.postN, b.postN, a, b, posPost) == 0)
}

func sameDev(a, b *Version) bool {
	return a.hasDev == b.hasDev && (!a.hasDev || cmpNum(a.devN, b.devN, a, b, posDev) == 0)
}
