package dist

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

func TestConformanceFilenames(t *testing.T) {
	var f struct {
		Wheels []struct {
			Filename      string
			ValidateOrder bool `json:"validate_order"`
			Valid         bool
			Name, Version string
			Build         []any
			Tags          []string
		} `json:"wheel_filenames"`
		Sdists []struct {
			Filename      string
			Valid         bool
			Name, Version string
		} `json:"sdist_filenames"`
	}
	b, err := os.ReadFile(testenv.Conformance(t, "names.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Wheels) == 0 || len(f.Sdists) == 0 {
		t.Fatal("names.json has no file name cases")
	}
	for _, c := range f.Wheels {
		w, err := ParseWheelFilename(c.Filename, c.ValidateOrder)
		if !c.Valid {
			if err == nil {
				t.Errorf("ParseWheelFilename(%q) = %+v, want error", c.Filename, w)
			} else if !errors.Is(err, ErrInvalidWheelFilename) {
				t.Errorf("ParseWheelFilename(%q) error %v does not wrap ErrInvalidWheelFilename", c.Filename, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseWheelFilename(%q): %v", c.Filename, err)
			continue
		}
		var tags []string
		for _, tg := range w.Tags {
			tags = append(tags, tg.String())
		}
		slices.Sort(tags)
		build := "[]"
		if w.Build.Present {
			build = "[" + w.Build.Number + " " + w.Build.Suffix + "]"
		}
		wantBuild := "[]"
		if len(c.Build) == 2 {
			wantBuild = "[" + strings.TrimSuffix(strings.TrimSuffix(jsonNum(c.Build[0]), ".0"), "") + " " + c.Build[1].(string) + "]"
		}
		if w.Name != c.Name || w.Version.String() != c.Version || build != wantBuild || strings.Join(tags, " ") != strings.Join(c.Tags, " ") {
			t.Errorf("ParseWheelFilename(%q) = %s %s %s %v, want %s %s %s %v", c.Filename, w.Name, w.Version, build, tags, c.Name, c.Version, wantBuild, c.Tags)
		}
	}
	for _, c := range f.Sdists {
		s, err := ParseSdistFilename(c.Filename)
		if !c.Valid {
			if err == nil || !errors.Is(err, ErrInvalidSdistFilename) {
				t.Errorf("ParseSdistFilename(%q) = %+v, %v; want ErrInvalidSdistFilename", c.Filename, s, err)
			}
			continue
		}
		if err != nil || s.Name != c.Name || s.Version.String() != c.Version {
			t.Errorf("ParseSdistFilename(%q) = %s %s %v, want %s %s", c.Filename, s.Name, s.Version, err, c.Name, c.Version)
		}
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWheelFilenameErrorsNameTheFile(t *testing.T) {
	_, err := ParseWheelFilename("foo-1.x-py3-none-any.whl", false)
	var fe *FilenameError
	if !errors.As(err, &fe) || fe.Filename != "foo-1.x-py3-none-any.whl" || !strings.Contains(err.Error(), "invalid version") {
		t.Errorf("error = %v", err)
	}
	_, err = ParseWheelFilename("foo-1.0-py3.py2-none-any.whl", true)
	if !errors.Is(err, ErrUnsortedTag) {
		t.Errorf("unsorted tags: %v", err)
	}
}

func TestBuildTagOrder(t *testing.T) {
	var bs []BuildTag
	for _, fn := range []string{"a-1-10b-py3-none-any.whl", "a-1-py3-none-any.whl", "a-1-9-py3-none-any.whl", "a-1-10a-py3-none-any.whl", "a-1-0000000000000000000000000000099-py3-none-any.whl"} {
		w, err := ParseWheelFilename(fn, false)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, w.Build)
	}
	slices.SortFunc(bs, BuildTag.Compare)
	var got []string
	for _, b := range bs {
		got = append(got, b.String())
	}
	if strings.Join(got, ",") != ",9,10a,10b,99" {
		t.Errorf("build order %q", got)
	}
}

const sampleMetadata = "Metadata-Version: 2.1\r\n" +
	"Name: demo-app\r\n" +
	"Version: 1.0.post1\r\n" +
	"Summary: A demo\r\n" +
	"License: line one\r\n" +
	"        line two\r\n" +
	"Requires-Python: >=3.8\r\n" +
	"Requires-Dist: Django>=4.2\r\n" +
	"Requires-Dist: celery[redis] ; extra == 'worker'\r\n" +
	"Provides-Extra: Worker\r\n" +
	"Dynamic: Requires-Dist\r\n" +
	"\r\n" +
	"# Demo\r\n\r\nThe body.\r\n"

func TestParseMetadata(t *testing.T) {
	m, err := ParseMetadata("METADATA", []byte(sampleMetadata))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "demo-app" || m.Version != "1.0.post1" || m.RequiresPython != ">=3.8" || len(m.RequiresDist) != 2 {
		t.Errorf("parsed %+v", m)
	}
	if lic, _ := m.Get("license"); lic != "line one\n        line two" {
		t.Errorf("License = %q", lic)
	}
	if m.Description != "# Demo\n\nThe body.\n" {
		t.Errorf("Description = %q", m.Description)
	}
	reqs, err := m.Requirements()
	if err != nil || len(reqs) != 2 || reqs[1].Name != "celery" || reqs[1].Marker == nil {
		t.Errorf("Requirements = %+v, %v", reqs, err)
	}
	if got := m.Extras(); !slices.Equal(got, []string{"worker"}) {
		t.Errorf("Extras = %v", got)
	}
	if s, err := m.PythonSpecifiers(); err != nil || s.String() != ">=3.8" {
		t.Errorf("PythonSpecifiers = %v, %v", s, err)
	}
}

func TestParseMetadataOldDescriptionField(t *testing.T) {
	m, err := ParseMetadata("PKG-INFO", []byte("Metadata-Version: 1.1\nName: old\nVersion: 0.1\nDescription: first\n        |  indented\n        |last\nPlatform: UNKNOWN\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Description != "first\n        |  indented\n        |last" || m.DescriptionText() != "first\n  indented\nlast" {
		t.Errorf("Description = %q, DescriptionText = %q", m.Description, m.DescriptionText())
	}
}

func TestParseMetadataErrors(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       error
		line       int
		field      string
	}{
		{"missing version", "Metadata-Version: 2.1\nName: x\n", ErrMissingField, 0, "Version"},
		{"bad utf8", "Metadata-Version: 2.1\nName: x\nSummary: \xff\xfe\nVersion: 1\n", ErrInvalidMetadata, 3, ""},
		{"bad version", "Metadata-Version: 2.1\nName: x\nVersion: one\n", ErrInvalidMetadata, 3, "Version"},
		{"bad name", "Metadata-Version: 2.1\nName: -x-\nVersion: 1\n", ErrInvalidMetadata, 2, "Name"},
		{"future", "Metadata-Version: 3.0\nName: x\nVersion: 1\n", ErrUnsupportedMetadataVersion, 1, "Metadata-Version"},
		{"dynamic name", "Metadata-Version: 2.2\nName: x\nVersion: 1\nDynamic: Name\n", ErrInvalidMetadata, 4, "Dynamic"},
		{"twice", "Metadata-Version: 2.1\nName: x\nName: y\nVersion: 1\n", ErrInvalidMetadata, 3, "Name"},
		{"continuation first", " oops\nName: x\n", ErrInvalidMetadata, 1, ""},
	} {
		_, err := ParseMetadata("f/METADATA", []byte(c.data))
		var me *MetadataError
		if !errors.Is(err, c.want) || !errors.As(err, &me) || me.Line != c.line || me.Field != c.field || me.File != "f/METADATA" {
			t.Errorf("%s: error %v (%+v), want %v at line %d field %q", c.name, err, me, c.want, c.line, c.field)
		}
	}
}

// TestWheelhouseMetadata reads every real wheel of the test wheelhouse and
// compares with the manifest its builder wrote from Python.
func TestWheelhouseMetadata(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	var manifest struct {
		Wheels []struct {
			Filename, Name, Version string
			RequiresDist            []string `json:"requires_dist"`
			RequiresPython          string   `json:"requires_python"`
		}
	}
	b, err := os.ReadFile(filepath.Join(wh.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Wheels) < 50 {
		t.Fatalf("manifest lists %d wheels", len(manifest.Wheels))
	}
	for _, w := range manifest.Wheels {
		wn, err := ParseWheelFilename(w.Filename, false)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		m, err := ReadWheelMetadata(context.Background(), filepath.Join(wh.Dir, w.Filename))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		mv, _ := m.ParsedVersion()
		if wn.Name != normalize(m.Name) || mv.Compare(wn.Version) != 0 || m.Version != w.Version || m.RequiresPython != w.RequiresPython {
			t.Errorf("%s: metadata %s %s %q, file name %s %s", w.Filename, m.Name, m.Version, m.RequiresPython, wn.Name, wn.Version)
		}
		if !slices.Equal(m.RequiresDist, w.RequiresDist) && !(len(m.RequiresDist) == 0 && len(w.RequiresDist) == 0) {
			t.Errorf("%s: Requires-Dist %q, manifest %q", w.Filename, m.RequiresDist, w.RequiresDist)
		}
		reqs, err := m.Requirements()
		if err != nil {
			// Debian's breezy declares "configobj>=4.7.2+ds", which PEP 440
			// forbids (a local label with >=); pip rejects it too. The
			// error must name the field, and the other entries still parse.
			var me *MetadataError
			if !errors.As(err, &me) || me.Field != "Requires-Dist" || len(reqs) != len(m.RequiresDist)-strings.Count(err.Error(), "\n")-1 {
				t.Errorf("%s: %v", w.Filename, err)
			}
			t.Logf("%s: %v", w.Filename, err)
		}
	}
}

func normalize(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(s))
}
