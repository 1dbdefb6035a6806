package dist

import (
	"strings"
	"testing"
)

func FuzzParseWheelFilename(f *testing.F) {
	for _, s := range []string{"foo-1.0-py3-none-any.whl", "foo_bár-1.0-1000abc-py2.py3-none-any.whl", "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "foo-1.0--none-any.whl"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, validate bool) {
		w, err := ParseWheelFilename(s, validate)
		if err != nil {
			return
		}
		if len(w.Tags) == 0 || w.Name == "" {
			t.Fatalf("%q parsed to %+v", s, w)
		}
		// The parts re-assemble into a name that parses the same way.
		again, err := ParseWheelFilename(strings.ReplaceAll(w.Name, "-", "_")+"-"+w.Version.String()+buildPart(w.Build)+"-"+w.Tags[0].String()+".whl", false)
		if err != nil && w.Build.Present {
			return // a suffix may contain dashes-free junk that is fine alone
		}
		if err == nil && (again.Version.Compare(w.Version) != 0 || again.Build.Compare(w.Build) != 0) {
			t.Fatalf("%q: re-assembled differs: %+v vs %+v", s, again, w)
		}
	})
}

func buildPart(b BuildTag) string {
	if !b.Present {
		return ""
	}
	return "-" + b.String()
}

func FuzzParseSdistFilename(f *testing.F) {
	for _, s := range []string{"foo-1.0.tar.gz", "Foo.Bar-1.0rc1.zip", "-1.0.zip", "foo-1.0-1.tar.gz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSdistFilename(s)
		if err != nil {
			return
		}
		if n.Name == "" {
			t.Fatalf("%q: empty name", s)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(sampleMetadata))
	f.Add([]byte("Metadata-Version: 1.1\nName: old\nVersion: 0.1\nDescription: first\n        |last\n"))
	f.Add([]byte("Metadata-Version: 2.4\nName: x\nVersion: 1\nDynamic: Requires-Dist\n\nbody"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMetadata("METADATA", data)
		if err != nil {
			return
		}
		if m.Name == "" || m.Version == "" || m.MetadataVersion == "" {
			t.Fatalf("accepted without required fields: %+v", m)
		}
		if _, err := m.ParsedVersion(); err != nil {
			t.Fatalf("accepted invalid version %q", m.Version)
		}
		m.Requirements()
		m.PythonSpecifiers()
	})
}
