package pep440

import "strconv"

// num is one numeric component of a version. PEP 440 puts no bound on
// numbers, and pypa/packaging uses Python's unbounded ints, so a component
// that does not fit in a uint64 keeps its decimal digits (leading zeros
// removed) in big. Comparing two nums never allocates.
type num struct {
	n   uint64
	big string
}

// parseNum converts a non-empty run of ASCII digits.
func parseNum(s string) num {
	i := 0
	for i < len(s)-1 && s[i] == '0' {
		i++
	}
	s = s[i:]
	if len(s) <= 19 {
		var n uint64
		for j := 0; j < len(s); j++ {
			n = n*10 + uint64(s[j]-'0')
		}
		return num{n: n}
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return num{n: n}
	}
	return num{big: s}
}

func (a num) cmp(b num) int {
	if a.big == "" && b.big == "" {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	}
	if a.big == "" {
		return -1
	}
	if b.big == "" {
		return 1
	}
	if len(a.big) != len(b.big) {
		if len(a.big) < len(b.big) {
			return -1
		}
		return 1
	}
	switch {
	case a.big < b.big:
		return -1
	case a.big > b.big:
		return 1
	}
	return 0
}

func (a num) isZero() bool { return a.big == "" && a.n == 0 }

func (a num) String() string {
	if a.big != "" {
		return a.big
	}
	return strconv.FormatUint(a.n, 10)
}

func (a num) appendTo(b []byte) []byte {
	if a.big != "" {
		return append(b, a.big...)
	}
	return strconv.AppendUint(b, a.n, 10)
}

// inc returns a+1.
func (a num) inc() num {
	if a.big == "" {
		if a.n < ^uint64(0) {
			return num{n: a.n + 1}
		}
		return num{big: "18446744073709551616"}
	}
	d := []byte(a.big)
	i := len(d) - 1
	for i >= 0 && d[i] == '9' {
		d[i] = '0'
		i--
	}
	if i < 0 {
		return num{big: "1" + string(d)}
	}
	d[i]++
	return num{big: string(d)}
}

// uint64Value reports the value, saturated at the largest uint64.
func (a num) uint64Value() uint64 {
	if a.big != "" {
		return ^uint64(0)
	}
	return a.n
}
