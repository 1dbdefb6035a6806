package resolve

import (
	"fmt"
	"strings"
)

// explain writes the derivation of the root incompatibility in words,
// following pub's error reporting
// (https://github.com/dart-lang/pub/blob/master/doc/solver.md#error-reporting):
// external facts are stated in a "Because …, …" chain; a derived fact
// used more than once gets a line number and is referred to by it.
func explain(s *solver, root *incompat) string {
	r := &reporter{s: s, counts: map[*incompat]int{}, numbers: map[*incompat]int{}}
	if root.kind != kindDerived {
		// A single fact is enough (a root requirement nothing matches).
		return "Because " + r.str(root) + ", version solving failed."
	}
	r.count(root)
	r.visit(root, true)
	var b strings.Builder
	for i, l := range r.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.text)
		if l.number > 0 {
			fmt.Fprintf(&b, " (%d)", l.number)
		}
	}
	return b.String()
}

type line struct {
	text   string
	number int
}

type reporter struct {
	s       *solver
	lines   []line
	counts  map[*incompat]int
	numbers map[*incompat]int
	next    int
}

func (r *reporter) count(inc *incompat) {
	r.counts[inc]++
	if r.counts[inc] > 1 || inc.kind != kindDerived {
		return
	}
	r.count(inc.c1)
	r.count(inc.c2)
}

func (r *reporter) write(inc *incompat, msg string, numbered bool) {
	l := line{text: msg}
	if numbered {
		r.next++
		l.number = r.next
		r.numbers[inc] = l.number
	}
	r.lines = append(r.lines, l)
}

func (r *reporter) visit(inc *incompat, conclusion bool) {
	numbered := conclusion || r.counts[inc] > 1
	conj := "And"
	if conclusion {
		conj = "So,"
	}
	str := r.str(inc)
	c1, c2 := inc.c1, inc.c2
	d1, d2 := c1.kind == kindDerived, c2.kind == kindDerived
	switch {
	case d1 && d2:
		n1, ok1 := r.numbers[c1]
		n2, ok2 := r.numbers[c2]
		switch {
		case ok1 && ok2:
			r.write(inc, fmt.Sprintf("Because %s (%d) and %s (%d), %s.", r.str(c1), n1, r.str(c2), n2, str), numbered)
		case ok1 || ok2:
			with, without, n := c1, c2, n1
			if ok2 {
				with, without, n = c2, c1, n2
			}
			r.visit(without, false)
			r.write(inc, fmt.Sprintf("%s because %s (%d), %s.", conj, r.str(with), n, str), numbered)
		default:
			single1, single2 := r.singleLine(c1), r.singleLine(c2)
			if single1 || single2 {
				first, second := c1, c2
				if single1 {
					first, second = c2, c1
				}
				r.visit(first, false)
				r.visit(second, false)
				r.write(inc, fmt.Sprintf("Thus, %s.", str), numbered)
			} else {
				r.visit(c1, true)
				r.lines = append(r.lines, line{})
				r.visit(c2, false)
				r.write(inc, fmt.Sprintf("%s because %s (%d), %s.", conj, r.str(c1), r.numbers[c1], str), numbered)
			}
		}
	case d1 || d2:
		derived, ext := c1, c2
		if d2 {
			derived, ext = c2, c1
		}
		if n, ok := r.numbers[derived]; ok {
			r.write(inc, fmt.Sprintf("Because %s and %s (%d), %s.", r.str(ext), r.str(derived), n, str), numbered)
		} else if r.collapsible(derived) {
			dc1, dc2 := derived.c1, derived.c2
			cd, ce := dc1, dc2
			if dc2.kind == kindDerived {
				cd, ce = dc2, dc1
			}
			r.visit(cd, false)
			r.write(inc, fmt.Sprintf("%s because %s and %s, %s.", conj, r.str(ce), r.str(ext), str), numbered)
		} else {
			r.visit(derived, false)
			r.write(inc, fmt.Sprintf("%s because %s, %s.", conj, r.str(ext), str), numbered)
		}
	default:
		r.write(inc, fmt.Sprintf("Because %s and %s, %s.", r.str(c1), r.str(c2), str), numbered)
	}
}

func (r *reporter) singleLine(inc *incompat) bool {
	return inc.kind == kindDerived && inc.c1.kind != kindDerived && inc.c2.kind != kindDerived
}

func (r *reporter) collapsible(inc *incompat) bool {
	if r.counts[inc] > 1 || inc.kind != kindDerived {
		return false
	}
	d1, d2 := inc.c1.kind == kindDerived, inc.c2.kind == kindDerived
	if d1 && d2 || !d1 && !d2 {
		return false
	}
	_, numbered := r.numbers[inc.c1]
	_, numbered2 := r.numbers[inc.c2]
	return !numbered && !numbered2
}

// str says what an incompatibility means.
func (r *reporter) str(inc *incompat) string {
	s := r.s
	switch inc.kind {
	case kindRoot:
		return "the requirements must be installed"
	case kindDependency:
		depender := inc.terms[0]
		who := "the requirements"
		if depender.p != rootID {
			who = r.s.termString(depender.p, depender.t)
		}
		verb := " depends on "
		if depender.p == rootID {
			verb = " ask for "
		}
		msg := who + verb + inc.req
		d := s.pkgs[inc.dep]
		if len(inc.terms) == 1 {
			// The dependency's term vanished: no candidate matches it.
			if len(d.cands) == 0 {
				msg += ", which no source provides" + s.searched()
			} else {
				msg += fmt.Sprintf(", which matches no available version (available: %s)", s.available(inc.dep))
			}
		}
		return msg
	case kindNoVersions:
		e := inc.terms[0]
		if len(s.pkgs[e.p].cands) == 0 {
			return fmt.Sprintf("no source provides %s%s", s.pkgs[e.p].label(), s.searched())
		}
		return fmt.Sprintf("no versions of %s match %s", s.pkgs[e.p].label(), s.setString(e.p, e.t.set))
	case kindPython:
		e := inc.terms[0]
		return fmt.Sprintf("%s requires Python %s (the target is %s)", s.termString(e.p, e.t), inc.msg, s.python)
	case kindConstraint:
		e := inc.terms[0]
		return fmt.Sprintf("the constraint %s forbids %s", inc.req, s.termString(e.p, e.t))
	case kindPrerelease:
		e := inc.terms[0]
		verb := "are pre-releases"
		if e.t.set.count() == 1 {
			verb = "is a pre-release"
		}
		return fmt.Sprintf("%s %s, used only when a requirement on %s names a pre-release (or with --pre)%s", s.termString(e.p, e.t), verb, s.pkgs[e.p].label(), s.withChosen(inc))
	case kindYanked:
		e := inc.terms[0]
		return fmt.Sprintf("%s is yanked (PEP 592), used only when pinned with == or ===%s", s.termString(e.p, e.t), s.withChosen(inc))
	}
	// Derived facts, by the shape of their terms.
	var pos, neg []tentry
	for _, e := range inc.terms {
		if e.t.positive() {
			pos = append(pos, e)
		} else {
			neg = append(neg, e)
		}
	}
	switch {
	case len(inc.terms) == 0:
		return "version solving failed"
	case len(inc.terms) == 1 && inc.terms[0].p == rootID:
		return "version solving failed"
	case len(pos) == 1 && len(neg) == 0:
		return s.termString(pos[0].p, pos[0].t) + " cannot be used"
	case len(pos) == 0 && len(neg) == 1:
		return s.termString(neg[0].p, neg[0].t.negate(s.n(neg[0].p))) + " is required"
	case len(pos) == 1 && len(neg) == 1:
		if pos[0].p == rootID {
			return "the requirements need " + s.termString(neg[0].p, neg[0].t.negate(s.n(neg[0].p)))
		}
		return s.termString(pos[0].p, pos[0].t) + " requires " + s.termString(neg[0].p, neg[0].t.negate(s.n(neg[0].p)))
	case len(neg) == 0:
		var parts []string
		for _, e := range pos {
			parts = append(parts, s.termString(e.p, e.t))
		}
		return strings.Join(parts, " and ") + " cannot be used together"
	default:
		var ps, ns []string
		for _, e := range pos {
			ps = append(ps, s.termString(e.p, e.t))
		}
		for _, e := range neg {
			ns = append(ns, s.termString(e.p, e.t.negate(s.n(e.p))))
		}
		if len(ps) == 0 {
			return "one of " + strings.Join(ns, " or ") + " is required"
		}
		return "if " + strings.Join(ps, " and ") + " then " + strings.Join(ns, " or ")
	}
}

// termString names a positive term's versions: "django ==3.2.25",
// "six >=1.2", "foo (any version)".
func (s *solver) termString(p pkgID, t term) string {
	if p == rootID {
		return "the requirements"
	}
	return s.pkgs[p].label() + " " + s.setString(p, t.set)
}

func (s *solver) available(p pkgID) string {
	cands := s.pkgs[p].cands
	var vs []string
	for i := len(cands) - 1; i >= 0 && len(vs) < 8; i-- {
		if cands[i].URL != "" {
			continue
		}
		vs = append(vs, cands[i].Version.String())
	}
	if len(cands) > 8 {
		vs = append(vs, "…")
	}
	return strings.Join(vs, ", ")
}

// setString writes a set of candidates as ranges over the known versions;
// a direct reference is written "@ URL".
func (s *solver) setString(p pkgID, set vset) string {
	cands := s.pkgs[p].cands
	all := set.indexes()
	if len(all) == 0 {
		return "(no version)"
	}
	if len(all) == len(cands) && len(cands) > 1 {
		return "(any version)"
	}
	// Direct references come after the index's versions.
	n := len(cands)
	for n > 0 && cands[n-1].URL != "" {
		n--
	}
	var idx []int
	var direct []string
	for _, i := range all {
		if cands[i].URL != "" {
			direct = append(direct, "@ "+cands[i].URL)
		} else {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return strings.Join(direct, " or ")
	}
	if len(idx) == 1 && len(direct) == 0 {
		return cands[idx[0]].Version.String()
	}
	if len(idx) == n && len(direct) == 0 {
		return "(any version)"
	}
	// Runs of consecutive indexes; index 0 is the newest.
	type run struct{ newest, oldest int }
	var runs []run
	for _, i := range idx {
		if len(runs) > 0 && runs[len(runs)-1].oldest == i-1 {
			runs[len(runs)-1].oldest = i
		} else {
			runs = append(runs, run{i, i})
		}
	}
	var parts []string
	for _, rn := range runs {
		hi, lo := cands[rn.newest].Version.String(), cands[rn.oldest].Version.String()
		switch {
		case rn.newest == rn.oldest:
			parts = append(parts, "=="+hi)
		case rn.newest == 0:
			parts = append(parts, ">="+lo)
		case rn.oldest == n-1:
			parts = append(parts, "<="+hi)
		default:
			parts = append(parts, ">="+lo+",<="+hi)
		}
	}
	if len(parts) > 4 {
		parts = []string{fmt.Sprintf("(%d of its %d versions)", len(idx), n)}
	}
	return strings.Join(append(parts, direct...), " or ")
}

// searched names the provider's sources, when it can list them.
func (s *solver) searched() string {
	sl, ok := s.f.p.(SourceLister)
	if !ok {
		return ""
	}
	src := sl.Sources()
	if len(src) == 0 {
		return " (no sources are configured)"
	}
	return " (searched " + strings.Join(src, ", ") + ")"
}

// withChosen names the decisions a pre-release or yanked fact depends on
// (its terms after the first): none of them asked for such a version.
func (s *solver) withChosen(inc *incompat) string {
	if len(inc.terms) < 2 {
		return ""
	}
	var parts []string
	for _, e := range inc.terms[1:] {
		parts = append(parts, s.termString(e.p, e.t))
	}
	return "; no requirement of " + strings.Join(parts, ", ") + " does"
}
