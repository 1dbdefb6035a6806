package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestPythonsAreRealAndOrdered(t *testing.T) {
	ps := Pythons(t)
	for i, p := range ps {
		out, err := exec.Command(p.Path, "-c", "import platform; print(platform.python_version())").Output()
		if err != nil {
			t.Fatalf("%s: %v", p.Path, err)
		}
		if got := strings.TrimSpace(string(out)); got != p.Version {
			t.Errorf("%s reports %s, listed as %s", p.Path, got, p.Version)
		}
		if i > 0 && versionLess(p.Version, ps[i-1].Version) {
			t.Errorf("not ordered: %s after %s", p.Version, ps[i-1].Version)
		}
	}
}

func TestVersionLess(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"3.9.18", "3.10.13", true},
		{"3.10.13", "3.9.18", false},
		{"3.11.2", "3.11.7", true},
		{"3.11", "3.11.0", true},
	}
	for _, c := range cases {
		if got := versionLess(c.a, c.b); got != c.want {
			t.Errorf("versionLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
