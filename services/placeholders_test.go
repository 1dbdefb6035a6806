package services

import (
	"errors"
	"testing"
)

func TestExpandPlaceholders(t *testing.T) {
	p := Placeholders{Instance: "prod", Home: "/srv/h", Venv: "/srv/h/venv", Port: "8001", Run: "/run/x", Data: "/d"}
	got, err := p.ExpandAll([]string{"{venv}/bin/gunicorn", "--bind", "127.0.0.1:{port}", "{{literal}}", "{instance}-{data}{run}{home}"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/srv/h/venv/bin/gunicorn", "--bind", "127.0.0.1:8001", "{literal}", "prod-/d/run/x/srv/h"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestExpandRejectsBadPlaceholders(t *testing.T) {
	p := Placeholders{Instance: "prod"}
	for _, s := range []string{"{nope}", "a{instance", "{port}", "x}y"} {
		_, err := p.Expand(s)
		var pe *PlaceholderError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Expand(%q) = %v, want *PlaceholderError", s, err)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"{venv}/bin/x", "{{", "}}", "{", "a{port}b", "{x}"} {
		f.Add(s)
	}
	p := Placeholders{Instance: "i", Home: "h", Venv: "v", Port: "1", Run: "r", Data: "d"}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := p.Expand(s)
		if err != nil {
			return
		}
		// Without braces in the values, an expanded result never needs more
		// expansion: '{' only comes from "{{".
		if len(out) > len(s)*2+8 {
			t.Fatalf("expansion grew too much: %q -> %q", s, out)
		}
	})
}
