package requirements

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

func loadVectors(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(testenv.Conformance(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestConformanceNames(t *testing.T) {
	var v struct {
		Names []struct {
			Input        string `json:"input"`
			Canonical    string `json:"canonical"`
			Valid        bool   `json:"valid"`
			IsNormalized bool   `json:"is_normalized"`
		} `json:"names"`
		CanonicalizeVersion []struct {
			Input             string `json:"input"`
			StripTrailingZero bool   `json:"strip_trailing_zero"`
			Expected          string `json:"expected"`
		} `json:"canonicalize_version"`
	}
	loadVectors(t, "names.json", &v)
	if len(v.Names) == 0 {
		t.Fatal("no name vectors")
	}
	for _, c := range v.Names {
		if got := NormalizeName(c.Input); got != c.Canonical {
			t.Errorf("NormalizeName(%q) = %q, want %q", c.Input, got, c.Canonical)
		}
		if got := ValidName(c.Input); got != c.Valid {
			t.Errorf("ValidName(%q) = %v, want %v", c.Input, got, c.Valid)
		}
		if got := IsNormalizedName(c.Input); got != c.IsNormalized {
			t.Errorf("IsNormalizedName(%q) = %v, want %v", c.Input, got, c.IsNormalized)
		}
	}
	for _, c := range v.CanonicalizeVersion {
		if got := CanonicalizeVersion(c.Input, c.StripTrailingZero); got != c.Expected {
			t.Errorf("CanonicalizeVersion(%q, %v) = %q, want %q", c.Input, c.StripTrailingZero, got, c.Expected)
		}
	}
}

func TestConformanceRequirements(t *testing.T) {
	var v struct {
		Valid []struct {
			Input         string   `json:"input"`
			Name          string   `json:"name"`
			CanonicalName string   `json:"canonical_name"`
			Extras        []string `json:"extras"`
			Specifier     string   `json:"specifier"`
			URL           *string  `json:"url"`
			Marker        *string  `json:"marker"`
			Str           string   `json:"str"`
		} `json:"valid"`
		Invalid []struct {
			Input string `json:"input"`
			Error string `json:"error_contains"`
		} `json:"invalid"`
		Equality []struct {
			Left, Right string
			Equal       bool `json:"equal"`
			SameStr     bool `json:"same_str"`
		} `json:"equality"`
	}
	loadVectors(t, "requirements.json", &v)
	if len(v.Valid) == 0 {
		t.Fatal("no requirement vectors")
	}
	for _, c := range v.Valid {
		r, err := ParseRequirement(c.Input)
		if err != nil {
			t.Errorf("ParseRequirement(%q): %v", c.Input, err)
			continue
		}
		if r.Name != c.Name || r.NormalizedName() != c.CanonicalName {
			t.Errorf("%q: name %q (%q), want %q (%q)", c.Input, r.Name, r.NormalizedName(), c.Name, c.CanonicalName)
		}
		want := map[string]bool{}
		for _, e := range c.Extras {
			want[NormalizeName(e)] = true
		}
		if len(want) != len(r.Extras) {
			t.Errorf("%q: extras %q, want %q", c.Input, r.Extras, c.Extras)
		}
		for _, e := range r.Extras {
			if !want[e] {
				t.Errorf("%q: extras %q, want %q", c.Input, r.Extras, c.Extras)
			}
		}
		if got := r.Specifiers.String(); got != c.Specifier {
			t.Errorf("%q: specifier %q, want %q", c.Input, got, c.Specifier)
		}
		wantURL := ""
		if c.URL != nil {
			wantURL = *c.URL
		}
		if r.URL != wantURL {
			t.Errorf("%q: url %q, want %q", c.Input, r.URL, wantURL)
		}
		switch {
		case c.Marker == nil && r.Marker != nil:
			t.Errorf("%q: marker %q, want none", c.Input, r.Marker)
		case c.Marker != nil && r.Marker == nil:
			t.Errorf("%q: no marker, want %q", c.Input, *c.Marker)
		case c.Marker != nil && r.Marker.String() != *c.Marker:
			t.Errorf("%q: marker %q, want %q", c.Input, r.Marker.String(), *c.Marker)
		}
		if got := r.String(); got != c.Str {
			t.Errorf("%q: String() = %q, want %q", c.Input, got, c.Str)
		}
		// String must read back as an equal requirement.
		r2, err := ParseRequirement(r.String())
		if err != nil || !r2.Equal(r) || r2.String() != r.String() {
			t.Errorf("%q: round trip via %q: %v", c.Input, r.String(), err)
		}
	}
	for _, c := range v.Invalid {
		_, err := ParseRequirement(c.Input)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidRequirement) {
			t.Errorf("ParseRequirement(%q) = %v, want a *ParseError (%s)", c.Input, err, c.Error)
			continue
		}
		// Syntax errors carry packaging's own message and a column; errors
		// from the specifier set are pep440's wording.
		if pe.Column > 0 && !containsFold(pe.Msg, c.Error) {
			t.Errorf("ParseRequirement(%q): message %q, want %q", c.Input, pe.Msg, c.Error)
		}
	}
	for _, c := range v.Equality {
		l, err1 := ParseRequirement(c.Left)
		r, err2 := ParseRequirement(c.Right)
		if err1 != nil || err2 != nil {
			t.Errorf("equality %q/%q: %v %v", c.Left, c.Right, err1, err2)
			continue
		}
		if got := l.Equal(r); got != c.Equal {
			t.Errorf("Equal(%q, %q) = %v, want %v", c.Left, c.Right, got, c.Equal)
		}
		if got := l.String() == r.String(); got != c.SameStr {
			t.Errorf("same String(%q, %q) = %v, want %v", c.Left, c.Right, got, c.SameStr)
		}
	}
}

func TestConformanceMarkers(t *testing.T) {
	var v struct {
		Evaluate []struct {
			Marker      string         `json:"marker"`
			Context     string         `json:"context"`
			Environment map[string]any `json:"environment"`
			Expected    *bool          `json:"expected"`
			Error       *string        `json:"error"`
		} `json:"evaluate"`
		Invalid []struct {
			Input string `json:"input"`
			Error string `json:"error_contains"`
		} `json:"invalid"`
		Normalized []struct {
			Input string `json:"input"`
			Str   string `json:"str"`
		} `json:"normalized"`
		Equality []struct {
			Left, Right string
			Equal       bool `json:"equal"`
		} `json:"equality"`
	}
	loadVectors(t, "markers.json", &v)
	if len(v.Evaluate) == 0 || len(v.Normalized) == 0 {
		t.Fatal("no marker vectors")
	}
	for _, c := range v.Evaluate {
		m, err := ParseMarker(c.Marker)
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", c.Marker, err)
			continue
		}
		env := Environment{}
		var opts EvalOptions
		switch c.Context {
		case "requirement":
			opts.Context = ContextRequirement
		case "lock_file":
			opts.Context = ContextLockFile
		}
		for k, val := range c.Environment {
			switch x := val.(type) {
			case string:
				env[k] = x
			case nil:
				env[k] = "" // Python None for extra behaves like ""
			case []any:
				set := []string{}
				for _, s := range x {
					set = append(set, s.(string))
				}
				if k == "extras" {
					opts.Extras = set
				} else {
					opts.DependencyGroups = set
				}
			}
		}
		got, err := m.EvaluateWith(env, opts)
		if c.Error != nil {
			want := map[string]error{"UndefinedComparison": ErrUndefinedComparison, "UndefinedEnvironmentName": ErrUndefinedEnvironmentName}[*c.Error]
			if !errors.Is(err, want) {
				t.Errorf("%q (%s, %v): got %v, %v; want %s", c.Marker, c.Context, c.Environment, got, err, *c.Error)
			}
			continue
		}
		if err != nil || got != *c.Expected {
			t.Errorf("%q (%s, %v): got %v, %v; want %v", c.Marker, c.Context, c.Environment, got, err, *c.Expected)
		}
	}
	for _, c := range v.Invalid {
		_, err := ParseMarker(c.Input)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidMarker) {
			t.Errorf("ParseMarker(%q) = %v, want *ParseError (%s)", c.Input, err, c.Error)
		} else if !containsFold(pe.Msg, c.Error) {
			t.Errorf("ParseMarker(%q): message %q, want %q", c.Input, pe.Msg, c.Error)
		}
	}
	for _, c := range v.Normalized {
		m, err := ParseMarker(c.Input)
		if err != nil {
			t.Errorf("ParseMarker(%q): %v", c.Input, err)
			continue
		}
		if got := m.String(); got != c.Str {
			t.Errorf("ParseMarker(%q).String() = %q, want %q", c.Input, got, c.Str)
		}
		m2, err := ParseMarker(m.String())
		if err != nil || m2.String() != m.String() {
			t.Errorf("%q: round trip via %q: %v", c.Input, m.String(), err)
		}
	}
	for _, c := range v.Equality {
		l, err1 := ParseMarker(c.Left)
		r, err2 := ParseMarker(c.Right)
		if err1 != nil || err2 != nil {
			t.Errorf("equality %q/%q: %v %v", c.Left, c.Right, err1, err2)
			continue
		}
		if got := l.Equal(r); got != c.Equal {
			t.Errorf("Equal(%q, %q) = %v, want %v", c.Left, c.Right, got, c.Equal)
		}
	}
}

func containsFold(s, sub string) bool {
	return len(sub) == 0 || indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	// packaging's messages may be longer than ours; compare a prefix.
	if len(sub) > 40 && len(s) >= 40 && s[:40] == sub[:40] {
		return 0
	}
	return -1
}
