package requirements

import (
	"errors"
	"testing"
)

var linux311 = Environment{
	"implementation_name": "cpython", "implementation_version": "3.11.7",
	"os_name": "posix", "platform_machine": "x86_64", "platform_release": "6.1.0-18-amd64",
	"platform_system": "Linux", "platform_version": "#1 SMP Debian 6.1.76-1",
	"python_full_version": "3.11.7", "platform_python_implementation": "CPython",
	"python_version": "3.11", "sys_platform": "linux",
}

func TestMarkerNormalizesLikePackaging(t *testing.T) {
	cases := map[string]string{
		`python_version>'3.8'`:                                  `python_version > "3.8"`,
		`(os_name=='posix')`:                                    `os_name == "posix"`,
		`((a_b))` + `== "x"`:                                    "",
		`os.name == "nt" or (sys.platform == "win32")`:          `os_name == "nt" or sys_platform == "win32"`,
		`python_implementation == "CPython"`:                    `platform_python_implementation == "CPython"`,
		`extra == "Test_Suite"`:                                 `extra == "test-suite"`,
		`"Foo.Bar" in extras`:                                   `"foo-bar" in extras`,
		`a_var == "x"`:                                          "",
		`os_name == "a" and (os_name == "b" or os_name == "c")`: `os_name == "a" and (os_name == "b" or os_name == "c")`,
		`(os_name == "a" and os_name == "b") or os_name == "c"`: `(os_name == "a" and os_name == "b") or os_name == "c"`,
		`os_name == 'it"s'`:                                     `os_name == 'it"s'`,
		`os_name not  in 'posix nt'`:                            `os_name not in "posix nt"`,
	}
	for in, want := range cases {
		m, err := ParseMarker(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseMarker(%q) succeeded, want an error", in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", in, err)
			continue
		}
		if got := m.String(); got != want {
			t.Errorf("ParseMarker(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestMarkerStringRoundTripsAwkwardValues(t *testing.T) {
	for _, in := range []string{
		`os_name == 'both " and \x27'`,
		`os_name == "back\\slash"`,
		`os_name == "new\nline"`,
		`os_name == "nul\0"`,
	} {
		m, err := ParseMarker(in)
		if err != nil {
			t.Fatalf("ParseMarker(%q): %v", in, err)
		}
		m2, err := ParseMarker(m.String())
		if err != nil {
			t.Fatalf("reparse of %q (%q): %v", in, m.String(), err)
		}
		if m2.String() != m.String() || m2.root.atoms[0].item.rhs != m.root.atoms[0].item.rhs {
			t.Errorf("%q: %q does not read back to the same value", in, m.String())
		}
	}
}

func TestMarkerEvaluate(t *testing.T) {
	cases := []struct {
		marker string
		env    Environment
		want   bool
	}{
		{`python_version >= "3.8"`, linux311, true},
		{`python_version < "3.10"`, linux311, false},
		{`python_version > "3.9" and sys_platform == "linux"`, linux311, true},
		{`sys_platform == "win32" or python_version == "3.11"`, linux311, true},
		{`sys_platform == "win32" or os_name == "nt" and python_version == "3.11"`, linux311, false},
		{`(sys_platform == "win32" or os_name == "posix") and python_version == "3.11"`, linux311, true},
		{`python_full_version == "3.11.*"`, linux311, true},
		{`platform_release >= "6"`, linux311, false}, // "6.1.0-18-amd64" is not a version: string rules
		{`platform_release == "6.1.0-18-amd64"`, linux311, true},
		{`"x86" in platform_machine`, linux311, true},
		{`platform_machine not in "aarch64 arm64"`, linux311, true},
		{`os_name < "z"`, linux311, false}, // string "<" is never true
		{`extra == "tests"`, linux311, false},
		{`extra == "tests"`, Environment{"extra": "Tests"}, true},
		{`python_full_version < "3.12"`, Environment{"python_full_version": "3.11.4+"}, true},
		{`implementation_version >= "7.3"`, Environment{"implementation_version": "7.3.13"}, true},
	}
	for _, c := range cases {
		m, err := ParseMarker(c.marker)
		if err != nil {
			t.Fatalf("ParseMarker(%q): %v", c.marker, err)
		}
		got, err := m.Evaluate(c.env)
		if err != nil || got != c.want {
			t.Errorf("%q.Evaluate = %v, %v; want %v", c.marker, got, err, c.want)
		}
	}
}

func TestMarkerEvaluateErrors(t *testing.T) {
	m := MustParseMarker(`os_name ~= "1.0"`)
	if _, err := m.Evaluate(linux311); !errors.Is(err, ErrUndefinedComparison) {
		t.Errorf("~= on strings: err = %v", err)
	}
	m = MustParseMarker(`sys_platform == "linux"`)
	var ee *EvalError
	if _, err := m.Evaluate(Environment{}); !errors.Is(err, ErrUndefinedEnvironmentName) || !errors.As(err, &ee) {
		t.Errorf("missing variable: err = %v", err)
	}
	// Like packaging, every comparison is evaluated: "or" does not hide an error.
	m = MustParseMarker(`os_name == "posix" or sys_platform == "linux"`)
	if _, err := m.Evaluate(Environment{"os_name": "posix"}); !errors.Is(err, ErrUndefinedEnvironmentName) {
		t.Errorf("short-circuit: err = %v", err)
	}
	m = MustParseMarker(`extra == "x"`)
	if _, err := m.EvaluateWith(Environment{}, EvalOptions{Context: ContextRequirement}); !errors.Is(err, ErrUndefinedEnvironmentName) {
		t.Errorf("extra in requirement context: err = %v", err)
	}
}

func TestMarkerLockFileContext(t *testing.T) {
	m := MustParseMarker(`"Docs" in extras or "dev" in dependency_groups`)
	lock := EvalOptions{Context: ContextLockFile}
	if got, err := m.EvaluateWith(linux311, lock); err != nil || got {
		t.Errorf("empty sets: %v %v", got, err)
	}
	lock.Extras = []string{"DOCS"}
	if got, err := m.EvaluateWith(linux311, lock); err != nil || !got {
		t.Errorf("extras {docs}: %v %v", got, err)
	}
	if _, err := MustParseMarker(`extras == "docs"`).EvaluateWith(linux311, lock); !errors.Is(err, ErrUndefinedComparison) {
		t.Errorf("set on the left: %v", err)
	}
}

func TestMarkerCombine(t *testing.T) {
	a := MustParseMarker(`os_name == "a" or os_name == "b"`)
	b := MustParseMarker(`python_version >= "3"`)
	if got, want := a.And(b).String(), `(os_name == "a" or os_name == "b") and python_version >= "3"`; got != want {
		t.Errorf("And = %q, want %q", got, want)
	}
	if got := (Marker{}).Or(b).String(); got != b.String() {
		t.Errorf("empty Or = %q", got)
	}
	if ok, err := (Marker{}).Evaluate(nil); !ok || err != nil {
		t.Errorf("zero marker evaluates to %v, %v", ok, err)
	}
}

func TestMarkerParseErrorColumn(t *testing.T) {
	_, err := ParseMarker(`python_version >= "3" andd os_name == "x"`)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Column != 23 || pe.Msg != "Expected end of marker expression" {
		t.Fatalf("err = %#v", err)
	}
	deep := ""
	for i := 0; i < 500; i++ {
		deep += "("
	}
	if _, err := ParseMarker(deep + `os_name == "x"`); !errors.Is(err, ErrInvalidMarker) {
		t.Errorf("deep nesting: %v", err)
	}
}
