package requirements

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseRequirementParts(t *testing.T) {
	cases := []struct {
		in                     string
		name                   string
		extras                 []string
		spec, url, marker, str string
	}{
		{"Django>=4.2,<5", "Django", []string{}, "<5,>=4.2", "", "", "Django<5,>=4.2"},
		{"celery[Redis, msgpack] (==5.3.6)", "celery", []string{"msgpack", "redis"}, "==5.3.6", "", "", "celery[Redis,msgpack]==5.3.6"},
		{"pkg @ https://example.com/pkg.whl ; os_name=='nt'", "pkg", []string{}, "", "https://example.com/pkg.whl", `os_name == "nt"`, `pkg @ https://example.com/pkg.whl ; os_name == "nt"`},
		{"zope.interface", "zope.interface", []string{}, "", "", "", "zope.interface"},
		{"a[b_c,B-C]", "a", []string{"b-c"}, "", "", "", "a[B-C,b_c]"},
		{"x===weird.version", "x", []string{}, "===weird.version", "", "", "x===weird.version"},
	}
	for _, c := range cases {
		r, err := ParseRequirement(c.in)
		if err != nil {
			t.Errorf("ParseRequirement(%q): %v", c.in, err)
			continue
		}
		m := ""
		if r.Marker != nil {
			m = r.Marker.String()
		}
		if r.Name != c.name || !reflect.DeepEqual(r.Extras, c.extras) || r.Specifiers.String() != c.spec || r.URL != c.url || m != c.marker {
			t.Errorf("%q: got name=%q extras=%q spec=%q url=%q marker=%q", c.in, r.Name, r.Extras, r.Specifiers.String(), r.URL, m)
		}
		if got := r.String(); got != c.str {
			t.Errorf("%q: String() = %q, want %q", c.in, got, c.str)
		}
	}
}

func TestParseRequirementErrorsPointAtTheProblem(t *testing.T) {
	cases := []struct {
		in     string
		column int
		msg    string
	}{
		{"", 1, "Expected package name at the start of dependency specifier"},
		{"name[bar baz]", 10, "Expected comma between extra names"},
		{"name (>= 1.0", 6, "Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS, after version specifier"},
		{"name >= 1.0 <= 2.0", 6, "Expected comma (within version specifier), semicolon (after version specifier) or end"},
		{"name @ https://x/; extra == 'a'", 8, "Expected semicolon (after URL and whitespace) or end"},
		{"nämé", 1, "Expected package name at the start of dependency specifier"},
		{"name==1.0.*+local", 5, "Local version label can only be used with `==` or `!=` operators"},
	}
	for _, c := range cases {
		_, err := ParseRequirement(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidRequirement) {
			t.Errorf("%q: err = %v", c.in, err)
			continue
		}
		if pe.Column != c.column || pe.Msg != c.msg {
			t.Errorf("%q: column %d %q, want %d %q", c.in, pe.Column, pe.Msg, c.column, c.msg)
		}
	}
}

func TestRequirementBuiltByHand(t *testing.T) {
	m := MustParseMarker(`python_version < "3.11"`)
	r := Requirement{Name: "tomli", Extras: []string{"x"}, Marker: &m}
	if got, want := r.String(), `tomli[x]; python_version < "3.11"`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	back, err := ParseRequirement(r.String())
	if err != nil || !back.Equal(r) {
		t.Errorf("round trip: %v", err)
	}
}
