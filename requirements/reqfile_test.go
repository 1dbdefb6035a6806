package requirements

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func noEnv(string) (string, bool) { return "", false }

func TestParseFileIncludeCycleNamesTheChain(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"requirements.txt": "django\n-r sub/a.txt\n",
		"sub/a.txt":        "celery\n-c b.txt\n",
		"sub/b.txt":        "# comment\nredis\n-r a.txt\n",
	})
	_, err := ParseFile(context.Background(), "requirements.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
	if !errors.Is(err, ErrIncludeCycle) || !errors.Is(err, ErrInvalidFile) {
		t.Fatalf("err = %v, want an include cycle", err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err is %T, want *ParseError", err)
	}
	if pe.File != "sub/b.txt" || pe.Line != 3 {
		t.Errorf("error at %s:%d, want sub/b.txt:3", pe.File, pe.Line)
	}
	if want := "sub/a.txt -> sub/b.txt -> sub/a.txt"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the chain %q", err, want)
	}
}

func TestParseFileSelfInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.txt": "-r ./r.txt\n"})
	_, err := ParseFile(context.Background(), "r.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
	if !errors.Is(err, ErrIncludeCycle) {
		t.Fatalf("err = %v, want an include cycle", err)
	}
}

func TestParseFileDiamondIncludeIsNotACycle(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"top.txt":    "-r a.txt\n-r b.txt\n",
		"a.txt":      "-r common.txt\n",
		"b.txt":      "-c common.txt\n",
		"common.txt": "six==1.16.0\n",
	})
	f, err := ParseFile(context.Background(), "top.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 2 || f.Entries[0].Constraint || !f.Entries[1].Constraint {
		t.Fatalf("entries = %+v, want six twice, the second as a constraint", f.Entries)
	}
}

func TestParseFileErrorsCarryFileAndLine(t *testing.T) {
	cases := []struct {
		content string
		line    int
		is      error
	}{
		{"django\n\n# c\nnot valid==\n", 4, ErrInvalidRequirement},
		{"django\n--frobnicate\n", 2, ErrInvalidFile},
		{"a==1 \\\n  --hash=md5:00\n", 1, ErrInvalidFile},
		{"x; python_version >= 3\n", 1, ErrInvalidMarker},
		{"-e git+https://example.com/repo.git\n", 1, ErrInvalidRequirement},
		{"-r missing.txt\n", 1, ErrInvalidFile},
		{"pkg --hash='sha256:abc\n", 1, ErrInvalidFile},
		{"-r https://example.com/reqs.txt\n", 1, ErrInvalidFile},
	}
	for _, c := range cases {
		dir := writeFiles(t, map[string]string{"req.txt": c.content})
		_, err := ParseFile(context.Background(), "req.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, c.is) {
			t.Errorf("%q: err = %v, want *ParseError wrapping %v", c.content, err, c.is)
			continue
		}
		if pe.File != "req.txt" || pe.Line != c.line {
			t.Errorf("%q: error at %s:%d, want req.txt:%d (%v)", c.content, pe.File, pe.Line, c.line, err)
		}
		if !strings.HasPrefix(err.Error(), "req.txt:") {
			t.Errorf("%q: message %q does not start with the position", c.content, err)
		}
	}
}

func TestParseFileMissingTopLevelFile(t *testing.T) {
	_, err := ParseFile(context.Background(), filepath.Join(t.TempDir(), "nope.txt"), FileOptions{})
	if !errors.Is(err, ErrInvalidFile) || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseFileEnvExpansionOnlyInBracedUpperForm(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.txt": "" +
		"a==${VER}\n" +
		"b==1.0; os_name == \"$VER\"\n" +
		"c==1.0; os_name == \"${ver}\"\n" +
		"d==${UNSET}\n" +
		"e==${EMPTY}\n"})
	env := map[string]string{"VER": "2.0", "ver": "x", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err := ParseFile(context.Background(), "r.txt", FileOptions{WorkDir: dir, LookupEnv: lookup})
	// d==${UNSET} stays unexpanded and is then an invalid requirement, as in pip.
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 4 {
		t.Fatalf("err = %v, want the unexpanded ${UNSET} on line 4 rejected", err)
	}
	dir = writeFiles(t, map[string]string{"r.txt": "a==${VER}\nb==1.0; os_name == \"$VER\"\nc==1.0; os_name == \"${ver}\"\n"})
	f, err := ParseFile(context.Background(), "r.txt", FileOptions{WorkDir: dir, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{f.Entries[0].Specifier, f.Entries[1].Marker, f.Entries[2].Marker}
	want := []string{"==2.0", `os_name == "$VER"`, `os_name == "${ver}"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseFileRelativePathsUseWorkDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"reqs/r.txt":             "./src/app\n-e ./src/app\nsrc/app-1.0.tar.gz\n",
		"src/app/pyproject.toml": "[project]\nname='app'\nversion='1'\n",
	})
	f, err := ParseFile(context.Background(), "reqs/r.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	app := "file://" + filepath.Join(dir, "src", "app")
	if f.Entries[0].URL != app || f.Entries[1].URL != app || !f.Entries[1].Editable {
		t.Errorf("entries %+v, want %s", f.Entries[:2], app)
	}
	if f.Entries[0].LocalPath != filepath.Join(dir, "src", "app") {
		t.Errorf("local path %q", f.Entries[0].LocalPath)
	}
	// A missing archive still becomes a file URL (pip only warns).
	if want := "file://" + filepath.Join(dir, "src", "app-1.0.tar.gz"); f.Entries[2].URL != want {
		t.Errorf("archive URL %q, want %q", f.Entries[2].URL, want)
	}
}

func TestFileJSONShape(t *testing.T) {
	dir := writeFiles(t, map[string]string{"req.txt": "" +
		"--index-url https://pypi.example.com/simple\n" +
		"Django>=4.2 --hash=sha256:abc\n"})
	f, err := ParseFile(context.Background(), "req.txt", FileOptions{WorkDir: dir, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"entries", "index_url", "extra_index_urls", "find_links", "no_index", "pre", "trusted_hosts"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, data)
		}
	}
	var entries []map[string]any
	if err := json.Unmarshal(top["entries"], &entries); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"requirement": "Django>=4.2", "name": "django", "extras": []any{}, "specifier": ">=4.2",
		"marker": "", "url": "", "editable": false, "constraint": false,
		"hashes": []any{"sha256:abc"}, "file": "req.txt", "line": float64(2),
	}
	if !reflect.DeepEqual(entries[0], want) {
		t.Errorf("entry JSON = %v\nwant %v", entries[0], want)
	}
	if string(top["index_url"]) != `"https://pypi.example.com/simple"` || string(top["extra_index_urls"]) != "[]" {
		t.Errorf("index JSON: %s", data)
	}
	// Other tools read it back with the same types.
	var back File
	if err := json.Unmarshal(data, &back); err != nil || back.Entries[0].Name != "django" {
		t.Errorf("decode: %v %+v", err, back)
	}
}

func TestParseFileCancelled(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.txt": "six\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ParseFile(ctx, "r.txt", FileOptions{WorkDir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestParseFileEncodings(t *testing.T) {
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range "six==1.0\n" {
		utf16 = append(utf16, byte(r), 0)
	}
	dir := writeFiles(t, map[string]string{
		"bom.txt":   "\xEF\xBB\xBFsix==1.0\n",
		"utf16.txt": string(utf16),
	})
	for _, name := range []string{"bom.txt", "utf16.txt"} {
		f, err := ParseFile(context.Background(), name, FileOptions{WorkDir: dir, LookupEnv: noEnv})
		if err != nil || len(f.Entries) != 1 || f.Entries[0].Name != "six" {
			t.Errorf("%s: %v %+v", name, err, f)
		}
	}
}

func TestShlexSplit(t *testing.T) {
	cases := map[string][]string{
		`--hash=sha256:a --hash sha256:b`: {"--hash=sha256:a", "--hash", "sha256:b"},
		`-C "a=b c" 'd e'`:                {"-C", "a=b c", "d e"},
		`x\ y "q\"q" "a\b"`:               {"x y", `q"q`, `a\b`},
		`'' ""`:                           {"", ""},
		"  \t ":                           nil,
	}
	for in, want := range cases {
		got, err := shlexSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `end\`} {
		if _, err := shlexSplit(bad); err == nil {
			t.Errorf("shlexSplit(%q) succeeded", bad)
		}
	}
}

func TestPySplitLines(t *testing.T) {
	got := pySplitLines("a\nb\r\nc\rd\x0be\x0cf\x1cg\u2028h\n\n")
	want := []string{"a", "b", "c", "d", "e", "f", "g", "h", ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pySplitLines = %q, want %q", got, want)
	}
}

func TestFormatControl(t *testing.T) {
	fc := newFormatControl()
	steps := []struct{ no, only string }{
		{"", ":all:"}, {"psycopg2,LXML", ""}, {"", "lxml"}, {":all:", ""}, {":none:", "numpy"},
	}
	for _, s := range steps {
		if s.no != "" {
			if err := fc.mutualExcludes(s.no, fc.noBinary, fc.onlyBinary); err != nil {
				t.Fatal(err)
			}
		}
		if s.only != "" {
			if err := fc.mutualExcludes(s.only, fc.onlyBinary, fc.noBinary); err != nil {
				t.Fatal(err)
			}
		}
	}
	no, only := sortedKeys(fc.noBinary), sortedKeys(fc.onlyBinary)
	sort.Strings(no)
	if len(no) != 0 || !reflect.DeepEqual(only, []string{"numpy"}) {
		t.Errorf("no=%q only=%q", no, only)
	}
}

func TestParseFileRemoteNeedsAClient(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir(writeFiles(t, map[string]string{
		"r.txt":     "-r sub/s.txt\n",
		"sub/s.txt": "six==1.16.0\n-r ../missing.txt\n",
	}))))
	defer srv.Close()
	_, err := ParseFile(context.Background(), srv.URL+"/r.txt", FileOptions{})
	if !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), "HTTPClient") {
		t.Fatalf("without a client: %v", err)
	}
	_, err = ParseFile(context.Background(), srv.URL+"/r.txt", FileOptions{HTTPClient: srv.Client()})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != srv.URL+"/sub/s.txt" || pe.Line != 2 || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing remote include: %v", err)
	}
}
