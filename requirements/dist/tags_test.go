package dist

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// oracleScript prints packaging.tags.sys_tags() from pip's vendored
// packaging, or from a copy of another interpreter's vendored packaging
// (as package packaging_oracle on sys.path) when this interpreter's pip
// has none.
const oracleScript = `
import sys
try:
    from pip._vendor.packaging import tags
    import pip._vendor.packaging as pkg
except ImportError:
    sys.path.insert(0, sys.argv[1])
    from packaging_oracle import tags
    import packaging_oracle as pkg
about = getattr(pkg, "__version__", None)
if about is None:
    from pip._vendor.packaging import __about__ as a
    about = a.__version__
sys.stderr.write("packaging %s\n" % about)
sys.stdout.write("\n".join(str(t) for t in tags.sys_tags()) + "\n")
`

// donorPackaging copies pip's vendored packaging 20.x/21.x (which still
// runs on Python 3.6) from one of the machine's interpreters to
// dir/packaging_oracle, for interpreters whose pip has no packaging.tags
// (Python 3.6's pip 18) or no pip at all (Debian's /usr/bin/python3).
func donorPackaging(t *testing.T, pythons []testenv.Python, dir string) bool {
	t.Helper()
	for _, py := range pythons {
		out, err := exec.Command(py.Path, "-c", "import os, pip._vendor.packaging as p, pip._vendor.packaging.tags; from pip._vendor.packaging import __about__ as a; print(os.path.dirname(p.__file__)); print(a.__version__)").Output()
		if err != nil {
			continue
		}
		lines := strings.Fields(string(out))
		if len(lines) != 2 || !(strings.HasPrefix(lines[1], "20.") || strings.HasPrefix(lines[1], "21.")) {
			continue
		}
		dst := filepath.Join(dir, "packaging_oracle")
		if err := os.CopyFS(dst, os.DirFS(lines[0])); err != nil {
			t.Fatal(err)
		}
		return true
	}
	return false
}

// TestSupportedTagsMatchPackaging compares SupportedTags with
// packaging.tags.sys_tags(), in order, for every interpreter on the
// machine.
func TestSupportedTagsMatchPackaging(t *testing.T) {
	pythons := testenv.Pythons(t)
	donorDir := t.TempDir()
	haveDonor := donorPackaging(t, pythons, donorDir)
	for _, py := range pythons {
		t.Run(py.Version+strings.ReplaceAll(py.Path, "/", "_"), func(t *testing.T) {
			facts, err := ProbeTagFacts(context.Background(), py.Path)
			if err != nil {
				t.Fatal(err)
			}
			got := SupportedTags(facts)
			cmd := exec.Command(py.Path, "-I", "-c", oracleScript, donorDir)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				if !haveDonor {
					testenv.Skip(t, "no packaging.tags to compare with for %s: %v %s", py.Path, err, stderr.String())
				}
				t.Fatalf("oracle: %v\n%s", err, stderr.String())
			}
			want := strings.Fields(string(out))
			// packaging before 22.0 had no cp3X-none-any.
			if v := strings.TrimSpace(strings.TrimPrefix(stderr.String(), "packaging ")); strings.HasPrefix(v, "20.") || strings.HasPrefix(v, "21.") {
				got = SupportedTagsWith(facts, TagOptions{NoInterpreterAny: true})
			}
			if len(want) < 10 {
				t.Fatalf("oracle printed %d tags", len(want))
			}
			for i := 0; i < len(got) || i < len(want); i++ {
				var g, w string
				if i < len(got) {
					g = got[i].String()
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Fatalf("tag %d: got %q, want %q (%s; %d tags vs %d)", i, g, w, strings.TrimSpace(stderr.String()), len(got), len(want))
				}
			}
			t.Logf("%d tags equal (%s)", len(got), strings.TrimSpace(stderr.String()))
		})
	}
}

func factsFor(major, minor int) TagFacts {
	f := false
	return TagFacts{
		Implementation: "cpython", VersionMajor: major, VersionMinor: minor,
		PyVersionNodot: "3" + string(rune('0'+minor)), Platform: "linux-x86_64", System: "Linux",
		PyDebug: &f, WithPymalloc: new(bool), Glibc: "2.17",
		ELF: &ELFHeader{Class: 2, Data: 1, Machine: 62},
	}
}

func TestSupportedTagsManylinuxAliasesAndMusl(t *testing.T) {
	f := factsFor(3, 9)
	tags := SupportedTags(f)
	if tags[0].String() != "cp39-cp39-manylinux_2_17_x86_64" || tags[1].String() != "cp39-cp39-manylinux2014_x86_64" {
		t.Errorf("first tags %v", tags[:2])
	}
	set := NewTagSet(tags)
	for _, want := range []string{"cp39-cp39-manylinux2010_x86_64", "cp39-cp39-manylinux1_x86_64", "cp39-cp39-manylinux_2_5_x86_64", "cp36-abi3-linux_x86_64", "py3-none-any", "cp39-none-any"} {
		ts, _ := ParseTag(want, false)
		if !set.Contains(ts[0]) {
			t.Errorf("%s not supported", want)
		}
	}
	if ts, _ := ParseTag("cp39-cp39-manylinux_2_4_x86_64", false); set.Contains(ts[0]) {
		t.Error("glibc 2.4 is too old for manylinux")
	}
	// musl: no manylinux (no glibc), musllinux_1_2 down to 1_0.
	f.Glibc, f.Musl = "", "1.2"
	var plats []string
	for _, p := range f.PlatformTags() {
		plats = append(plats, p)
	}
	if strings.Join(plats, " ") != "musllinux_1_2_x86_64 musllinux_1_1_x86_64 musllinux_1_0_x86_64 linux_x86_64" {
		t.Errorf("musl platforms = %v", plats)
	}
	// A _manylinux module veto removes exactly that version.
	f.Glibc, f.Musl, f.ManylinuxVetoed = "2.17", "", []string{"2_12_x86_64"}
	if strings.Contains(strings.Join(f.PlatformTags(), " "), "2010") {
		t.Error("vetoed manylinux2010 still offered")
	}
	// 32-bit interpreter on a 64-bit kernel uses i686 and needs an i386 ELF.
	f.Is32Bit, f.ManylinuxVetoed = true, nil
	if got := strings.Join(f.PlatformTags(), " "); got != "linux_i686" {
		t.Errorf("32-bit with a 64-bit ELF: %q", got)
	}
}

func TestTagSetRanksWheels(t *testing.T) {
	set := NewTagSet(SupportedTags(factsFor(3, 11)))
	var wheels []WheelName
	for _, fn := range []string{"pkg-1.0-py2-none-any.whl", "pkg-1.0-py3-none-any.whl", "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"} {
		w, err := ParseWheelFilename(fn, false)
		if err != nil {
			t.Fatal(err)
		}
		wheels = append(wheels, w)
	}
	if best := set.Best(wheels); best != 2 {
		t.Errorf("Best = %d, want the cp311 manylinux wheel", best)
	}
	if _, ok := set.Rank(wheels[3].Tags); ok {
		t.Error("cp312 wheel is not supported by 3.11")
	}
	if _, ok := set.Rank(wheels[0].Tags); ok {
		t.Error("py2 wheel is not supported by 3.11")
	}
	// Same tags: the higher build tag wins.
	a, _ := ParseWheelFilename("pkg-1.0-1-py3-none-any.whl", false)
	b, _ := ParseWheelFilename("pkg-1.0-2-py3-none-any.whl", false)
	c, _ := ParseWheelFilename("pkg-1.0-py3-none-any.whl", false)
	if best := set.Best([]WheelName{c, a, b}); best != 2 {
		t.Errorf("Best by build tag = %d, want 2", best)
	}
}
