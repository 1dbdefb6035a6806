package indextest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const page = `<!DOCTYPE html>
<html><body>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=aa11" data-requires-python="&gt;=3.6" data-dist-info-metadata="sha256=bb22" data-core-metadata="sha256=bb22">demo-1.0-py3-none-any.whl</a><br/>
</body></html>
`

func tree(t *testing.T) string {
	dir := t.TempDir()
	for p, body := range map[string]string{
		"simple/demo/index.html":                   page,
		"files/demo-1.0-py3-none-any.whl":          "wheel bytes",
		"files/demo-1.0-py3-none-any.whl.metadata": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
	} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(t *testing.T, url string, reused *int) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				*reused++
			}
		},
	}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerCountsByKindDelaysAndKeepsAlive(t *testing.T) {
	srv := New(t, tree(t), Options{Delay: 30 * time.Millisecond})
	reused := 0
	start := time.Now()
	if code, body := get(t, srv.IndexURL()+"demo/", &reused); code != 200 || body != page {
		t.Fatalf("page: %d %q", code, body)
	}
	get(t, srv.URL+"/files/demo-1.0-py3-none-any.whl.metadata", &reused)
	get(t, srv.URL+"/files/demo-1.0-py3-none-any.whl", &reused)
	if code, _ := get(t, srv.IndexURL()+"missing/", &reused); code != 404 {
		t.Errorf("missing project: %d, want 404", code)
	}
	if d := time.Since(start); d < 4*30*time.Millisecond {
		t.Errorf("4 requests took %v, less than 4 delays", d)
	}
	if reused != 3 {
		t.Errorf("%d of 4 requests reused a connection, want 3 (keep-alive)", reused)
	}
	c := srv.Counts()
	if c.Pages != 2 || c.Metadata != 1 || c.Wheels != 1 || c.Sdists != 0 || c.Other != 0 || c.MaxInFlight != 1 || c.Busy < 4*30*time.Millisecond {
		t.Errorf("counts: %+v", c)
	}
	// The control endpoints are neither counted nor delayed.
	code, body := get(t, srv.URL+ControlPrefix+"counts", &reused)
	var remote Counts
	if code != 200 || json.Unmarshal([]byte(body), &remote) != nil || remote != c {
		t.Errorf("remote counts %d %s, want %+v", code, body, c)
	}
	resp, err := http.Post(srv.URL+ControlPrefix+"reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := srv.Counts(); c.Total() != 0 {
		t.Errorf("after reset: %+v", c)
	}
}

func TestServerTakesHashesAndMetadataAway(t *testing.T) {
	srv := New(t, tree(t), Options{NoHashes: true, NoMetadata: true})
	reused := 0
	_, body := get(t, srv.IndexURL()+"demo/", &reused)
	want := `<a href="../../files/demo-1.0-py3-none-any.whl" data-requires-python="&gt;=3.6">demo-1.0-py3-none-any.whl</a>`
	if !strings.Contains(body, want) {
		t.Errorf("page without hashes and metadata:\n%s\nwant it to contain\n%s", body, want)
	}
	if code, _ := get(t, srv.URL+"/files/demo-1.0-py3-none-any.whl.metadata", &reused); code != 404 {
		t.Errorf("metadata file: %d, want 404", code)
	}
	if code, body := get(t, srv.URL+"/files/demo-1.0-py3-none-any.whl", &reused); code != 200 || body != "wheel bytes" {
		t.Errorf("wheel: %d %q", code, body)
	}
}

func TestKindOf(t *testing.T) {
	for p, k := range map[string]Kind{
		"/simple/":                             KindPage,
		"/simple/django/":                      KindPage,
		"/files/a-1-py3-none-any.whl":          KindWheel,
		"/files/a-1-py3-none-any.whl.metadata": KindMetadata,
		"/files/a-1.tar.gz":                    KindSdist,
		"/favicon.ico":                         KindOther,
	} {
		if got := KindOf(p); got != k {
			t.Errorf("KindOf(%q) = %d, want %d", p, got, k)
		}
	}
}

// TestServerPagesRevalidate: a page carries its file's Last-Modified and
// answers If-Modified-Since with 304, so a client's HTTP cache can
// revalidate as against a real index.
func TestServerPagesRevalidate(t *testing.T) {
	srv := New(t, tree(t), Options{NoHashes: true})
	resp, err := http.Get(srv.IndexURL() + "demo/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lm := resp.Header.Get("Last-Modified")
	if lm == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("headers: %v", resp.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.IndexURL()+"demo/", nil)
	req.Header.Set("If-Modified-Since", lm)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
}
