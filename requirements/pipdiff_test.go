package requirements

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// diffEnv is the environment both pip and ParseFile see for ${VAR}.
var diffEnv = map[string]string{
	"DK_USER":    "deploy",
	"DK_TOKEN":   "s3cr3t",
	"DK_VERSION": "1.2.3",
	"DK_OSNAME":  "posix",
}

// pipView is the oracle's normalized output for one file.
type pipView struct {
	Error         string           `json:"error,omitempty"`
	Entries       []map[string]any `json:"entries"`
	IndexURLs     []string         `json:"index_urls"`
	FindLinks     []string         `json:"find_links"`
	NoIndex       bool             `json:"no_index"`
	Pre           bool             `json:"pre"`
	TrustedHosts  []string         `json:"trusted_hosts"`
	NoBinary      []string         `json:"no_binary"`
	OnlyBinary    []string         `json:"only_binary"`
	PreferBinary  bool             `json:"prefer_binary"`
	RequireHashes bool             `json:"require_hashes"`
}

// TestParseFileMatchesPip parses every file of testdata/reqfiles with pip's
// own parser (pip 24.x from a real interpreter, in one process) and with
// ParseFile, and requires the same entries, options and failures.
func TestParseFileMatchesPip(t *testing.T) {
	// The newest interpreter with pip is the oracle (pip 24.x on 3.13 here).
	var py testenv.Python
	pythons := testenv.Pythons(t)
	for i := len(pythons) - 1; i >= 0; i-- {
		if exec.Command(pythons[i].Path, "-c", "import pip._internal.req.req_file").Run() == nil {
			py = pythons[i]
			break
		}
	}
	if py.Path == "" {
		testenv.Skip(t, "no interpreter with pip installed")
	}
	t.Logf("oracle: pip from %s (%s)", py.Path, py.Version)
	dir, err := filepath.Abs(filepath.Join("testdata", "reqfiles"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 40 {
		t.Fatalf("corpus has %d files, want at least 40", len(names))
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, append([]string{filepath.Join(dir, "..", "pip_oracle.py"), dir}, names...)...)
	cmd.Env = append(os.Environ(), "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	// Requirements files served over HTTP, for -r URL includes.
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	env := map[string]string{"DK_REQDIR": dir, "DK_HTTP": srv.URL}
	for k, v := range diffEnv {
		env[k] = v
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pip oracle: %v\n%s", err, stderr.String())
	}
	var oracle map[string]pipView
	if err := json.Unmarshal(out, &oracle); err != nil {
		t.Fatalf("pip oracle output: %v", err)
	}

	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, name := range names {
		want, ok := oracle[name]
		if !ok {
			t.Errorf("%s: pip produced nothing", name)
			continue
		}
		// The corpus says which files pip must reject: their names hold "_err_".
		if wantErr := strings.Contains(name, "_err_"); wantErr != (want.Error != "") {
			t.Errorf("%s: pip error %q, but the file name says error=%v", name, want.Error, wantErr)
		}
		f, err := ParseFile(ctx, name, FileOptions{WorkDir: dir, LookupEnv: lookup, HTTPClient: srv.Client()})
		if want.Error != "" {
			if err == nil {
				t.Errorf("%s: pip fails (%s), ParseFile succeeds", name, firstLine(want.Error))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ParseFile: %v", name, err)
			continue
		}
		got := viewOf(t, f)
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(want, "", " ")
			t.Errorf("%s differs from pip\n--- deploykit\n%s\n--- pip\n%s", name, gj, wj)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// viewOf renders a File the way pip_oracle.py renders pip's result.
func viewOf(t *testing.T, f *File) pipView {
	t.Helper()
	v := pipView{
		IndexURLs:     []string{},
		FindLinks:     f.FindLinks,
		NoIndex:       f.NoIndex,
		Pre:           f.Pre,
		TrustedHosts:  f.TrustedHosts,
		NoBinary:      f.NoBinary,
		OnlyBinary:    f.OnlyBinary,
		PreferBinary:  f.PreferBinary,
		RequireHashes: f.RequireHashes,
		Entries:       []map[string]any{},
	}
	if f.IndexURL != "" {
		v.IndexURLs = append(v.IndexURLs, f.IndexURL)
	}
	v.IndexURLs = append(v.IndexURLs, f.ExtraIndexURLs...)
	for _, e := range f.Entries {
		// Round-trip through JSON so both sides have the same types.
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "local_path")
		if e.VCS != "" {
			// pip reports these three together for every VCS link.
			m["vcs"], m["revision"], m["subdirectory"] = e.VCS, e.Revision, e.Subdirectory
		}
		hs := append([]string(nil), e.Hashes...)
		sort.Strings(hs)
		m["hashes"] = toAny(hs)
		v.Entries = append(v.Entries, m)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var norm pipView
	if err := json.Unmarshal(data, &norm); err != nil {
		t.Fatal(err)
	}
	return norm
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
