package pep440

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

var zeroNum num

// cmpRelease compares release segments with trailing zeros ignored.
func cmpRelease(a, b []num) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := zeroNum, zeroNum
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := x.cmp(y); c != 0 {
			return c
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
	if c := v.epoch.cmp(w.epoch); c != 0 {
		return c
	}
	if c := cmpRelease(v.release, w.release); c != 0 {
		return c
	}
	return compareSuffix(v, w)
}

// compareSuffix compares everything after the release segment.
func compareSuffix(v, w *Version) int {
	if c := cmpInt(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if c := v.preN.cmp(w.preN); c != 0 {
		return c
	}
	if c := cmpBool(v.hasPost, w.hasPost); c != 0 {
		return c
	}
	if c := v.postN.cmp(w.postN); c != 0 {
		return c
	}
	if c := cmpBool(!v.hasDev, !w.hasDev); c != 0 {
		return c
	}
	if c := v.devN.cmp(w.devN); c != 0 {
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
			c = x.n.cmp(y.n)
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
	if !v.epoch.isZero() {
		b = v.epoch.appendTo(b)
		b = append(b, '!')
	}
	if len(v.release) == 0 {
		return append(b, '0')
	}
	for i, r := range v.release {
		if i > 0 {
			b = append(b, '.')
		}
		b = r.appendTo(b)
	}
	return b
}

func (v *Version) appendPublic(b []byte) []byte {
	b = v.appendBase(b)
	if v.pre != preNone {
		b = append(b, preLabels[v.pre]...)
		b = v.preN.appendTo(b)
	}
	if v.hasPost {
		b = append(b, ".post"...)
		b = v.postN.appendTo(b)
	}
	if v.hasDev {
		b = append(b, ".dev"...)
		b = v.devN.appendTo(b)
	}
	return b
}

func (v *Version) appendLocal(b []byte) []byte {
	for i, p := range v.local {
		if i > 0 {
			b = append(b, '.')
		}
		if p.isNum {
			b = p.n.appendTo(b)
		} else {
			b = append(b, p.s...)
		}
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
func (v Version) Epoch() uint64 { return v.epoch.uint64Value() }

// Release returns the release segment as written (trailing zeros kept).
// Components larger than a uint64 are reported as the largest uint64.
func (v Version) Release() []uint64 {
	if len(v.release) == 0 {
		return []uint64{0}
	}
	out := make([]uint64, len(v.release))
	for i, r := range v.release {
		out[i] = r.uint64Value()
	}
	return out
}

// ReleaseStrings returns the release components in decimal, exact for
// numbers of any size.
func (v Version) ReleaseStrings() []string {
	if len(v.release) == 0 {
		return []string{"0"}
	}
	out := make([]string, len(v.release))
	for i, r := range v.release {
		out[i] = r.String()
	}
	return out
}

// Pre returns the normalized pre-release label ("a", "b" or "rc") and
// number, or ok=false.
func (v Version) Pre() (label string, n uint64, ok bool) {
	if v.pre == preNone {
		return "", 0, false
	}
	return preLabels[v.pre], v.preN.uint64Value(), true
}

// Post returns the post-release number, or ok=false.
func (v Version) Post() (n uint64, ok bool) { return v.postN.uint64Value(), v.hasPost }

// Dev returns the development release number, or ok=false.
func (v Version) Dev() (n uint64, ok bool) { return v.devN.uint64Value(), v.hasDev }

// HasLargeNumbers reports whether some number in v exceeds a uint64; the
// accessors then saturate, while String and Compare stay exact.
func (v Version) HasLargeNumbers() bool {
	if v.epoch.big != "" || v.preN.big != "" || v.postN.big != "" || v.devN.big != "" {
		return true
	}
	for _, r := range v.release {
		if r.big != "" {
			return true
		}
	}
	for _, l := range v.local {
		if l.n.big != "" {
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
func sameRelease(a, b []num) bool { return cmpRelease(a, b) == 0 }

// samePre compares the pre-release segments.
func samePre(a, b *Version) bool {
	return a.pre == b.pre && (a.pre == preNone || a.preN.cmp(b.preN) == 0)
}

func samePost(a, b *Version) bool {
	return a.hasPost == b.hasPost && (!a.hasPost || a.postN.cmp(b.postN) == 0)
}

func sameDev(a, b *Version) bool {
	return a.hasDev == b.hasDev && (!a.hasDev || a.devN.cmp(b.devN) == 0)
}
