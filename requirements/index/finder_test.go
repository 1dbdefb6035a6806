package index

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/testenv"
)

// serve starts an HTTP server on 127.0.0.1 that counts requests.
func serve(t testing.TB, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), &n
}

// djangoSHA is the sha256 of the wheelhouse's Django wheel, read from the
// file: the wheelhouse is built from the machine's Debian packages, and a
// wheel's bytes change with what else is installed (Requires-Dist taken
// from Debian's Depends), so no digest is written down here.
func djangoSHA(t *testing.T, wh testenv.Wheelhouse) string {
	t.Helper()
	sum, err := filehash.SHA256(filepath.Join(wh.Dir, "django-3.2.25-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func newFinder(t testing.TB, opts Options) *Finder {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.Netrc == "" {
		opts.Netrc = "-"
	}
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFinderWheelhouseIndex(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	base, hits := serve(t, http.FileServer(http.Dir(wh.IndexDir)))
	ctx := context.Background()
	cache := t.TempDir()
	f := newFinder(t, Options{IndexURL: base + "/simple/", CacheDir: cache})
	files, err := f.Files(ctx, "Django")
	if err != nil {
		t.Fatal(err)
	}
	wantSHA := djangoSHA(t, wh)
	if len(files) != 1 || files[0].Version.String() != "3.2.25" || !files[0].IsWheel() || files[0].Hashes["sha256"] != wantSHA || files[0].RequiresPython != ">=3.6" || !files[0].CoreMetadata {
		t.Fatalf("files: %+v", files)
	}
	before := hits.Load()
	md, err := f.Metadata(ctx, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "Django" || !strings.Contains(strings.Join(md.RequiresDist, ","), "sqlparse") {
		t.Errorf("metadata: %+v", md)
	}
	if hits.Load()-before != 1 {
		t.Errorf("PEP 658: %d requests for the metadata, want 1 (no wheel download)", hits.Load()-before)
	}
	p, err := f.Download(ctx, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if sum, _ := filehash.SHA256(p); sum != wantSHA {
		t.Errorf("downloaded sha256 %s", sum)
	}
	// An unknown project: 404, no versions, no error.
	if files, err := f.Files(ctx, "no-such-project"); err != nil || len(files) != 0 {
		t.Errorf("404: %v, %v", files, err)
	}

	// A second finder on the same cache revalidates the page (304) and
	// takes the metadata from the cache.
	f2 := newFinder(t, Options{IndexURL: base + "/simple/", CacheDir: cache})
	before = hits.Load()
	files2, err := f2.Files(ctx, "django")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Metadata(ctx, files2[0]); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load() - before; n != 1 {
		t.Errorf("warm: %d requests, want 1 (the revalidation)", n)
	}
}

// listThrice lists project "demo" from the index at base three times, by
// three Finders sharing one cache directory.
func listThrice(t *testing.T, base string) {
	t.Helper()
	cache := t.TempDir()
	for i := 0; i < 3; i++ {
		f := newFinder(t, Options{IndexURL: base + "/simple/", CacheDir: cache})
		if files, err := f.Files(context.Background(), "demo"); err != nil || len(files) != 1 {
			t.Fatalf("files %v, %v", files, err)
		}
	}
}

func TestCacheControlMaxAgeSkipsRequests(t *testing.T) {
	page := `<a href="/f/demo-1.0.tar.gz#sha256=00">demo-1.0.tar.gz</a>`
	base, hits := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	listThrice(t, base)
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1", hits.Load())
	}
}

func TestJSONContentNegotiation(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	fs := http.FileServer(http.Dir(wh.IndexDir))
	var accept atomic.Value
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/simple/") {
			accept.Store(r.Header.Get("Accept"))
			w.Header().Set("Content-Type", mediaJSON)
			fmt.Fprintf(w, `{"meta": {"api-version": "1.0"}, "name": "six", "files": [
			 {"filename": "six-1.16.0-py3-none-any.whl", "url": "/files/six-1.16.0-py3-none-any.whl",
			  "hashes": {"sha256": "157b0406f8f18357d1a3d4c42ac53e1f851905976dfdcc0e8bc85a70a37e8b94"}, "core-metadata": true},
			 {"filename": "six-1.17.0-py3-none-any.whl", "url": "/files/six-1.17.0-py3-none-any.whl", "hashes": {}, "yanked": "gone"}]}`)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	f := newFinder(t, Options{IndexURL: base + "/simple/"})
	files, err := f.Files(context.Background(), "six")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(accept.Load().(string), mediaJSON) {
		t.Errorf("Accept: %v", accept.Load())
	}
	if len(files) != 2 || !files[1].Yanked || files[1].YankedReason != "gone" {
		t.Fatalf("files: %+v", files)
	}
	md, err := f.Metadata(context.Background(), files[0])
	if err != nil || md.Version != "1.16.0" {
		t.Fatalf("metadata %+v, %v", md, err)
	}
}

func TestSourceErrorsNameProjectAndSource(t *testing.T) {
	ctx := context.Background()
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/boom/"):
			http.Error(w, "oops", http.StatusInternalServerError)
		case strings.Contains(r.URL.Path, "/badjson/"):
			w.Header().Set("Content-Type", mediaJSON)
			fmt.Fprint(w, `{"meta": `)
		case strings.Contains(r.URL.Path, "/weird/"):
			w.Header().Set("Content-Type", "image/png")
			fmt.Fprint(w, `PNG`)
		default:
			http.NotFound(w, r)
		}
	}))
	f := newFinder(t, Options{IndexURL: base + "/simple/"})
	_, err := f.Files(ctx, "boom")
	var he *HTTPError
	var se *SourceError
	if !errors.As(err, &he) || he.Status != 500 || !errors.As(err, &se) || se.Project != "boom" || !strings.Contains(err.Error(), base) {
		t.Errorf("500: %v", err)
	}
	if _, err := f.Files(ctx, "badjson"); !errors.Is(err, ErrMalformedPage) || !strings.Contains(err.Error(), "badjson") {
		t.Errorf("malformed: %v", err)
	}
	if _, err := f.Files(ctx, "weird"); !errors.Is(err, ErrMalformedPage) {
		t.Errorf("content type: %v", err)
	}
	// Unreachable: a port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/simple/"
	ln.Close()
	f2 := newFinder(t, Options{IndexURL: dead})
	if _, err := f2.Files(ctx, "django"); err == nil || !strings.Contains(err.Error(), "django") || !strings.Contains(err.Error(), dead) {
		t.Errorf("unreachable: %v", err)
	}
}

func TestHashMismatchAndMetadataDisagreement(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	fs := http.FileServer(http.Dir(wh.IndexDir))
	wrong := strings.Repeat("0", 64)
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/six/":
			fmt.Fprintf(w, `<a href="/files/six-1.16.0-py3-none-any.whl#sha256=%s">six-1.16.0-py3-none-any.whl</a>`, wrong)
		case "/simple/pytz/":
			fmt.Fprint(w, `<a href="/files/pytz-2022.7.1-py3-none-any.whl" data-core-metadata="true">pytz-2022.7.1-py3-none-any.whl</a>`)
		case "/files/pytz-2022.7.1-py3-none-any.whl.metadata":
			fmt.Fprint(w, "Metadata-Version: 2.1\nName: pytz\nVersion: 2099.1\n")
		default:
			fs.ServeHTTP(w, r)
		}
	}))
	ctx := context.Background()
	f := newFinder(t, Options{IndexURL: base + "/simple/"})
	files, err := f.Files(ctx, "six")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Download(ctx, files[0])
	var he *HashError
	if !errors.Is(err, ErrHashMismatch) || !errors.As(err, &he) || he.File != "six-1.16.0-py3-none-any.whl" || !strings.Contains(err.Error(), base) {
		t.Errorf("hash mismatch: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.CacheDir(), "files-v1")); len(ents) != 0 {
		t.Errorf("a file failing its hash was kept: %v", ents)
	}
	files, err = f.Files(ctx, "pytz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Metadata(ctx, files[0]); err == nil || !strings.Contains(err.Error(), "2099.1") || !strings.Contains(err.Error(), "pytz-2022.7.1") {
		t.Errorf("metadata disagreeing: %v", err)
	}
}

func TestBasicAuthFromURLAndNetrc(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	fs := http.FileServer(http.Dir(wh.IndexDir))
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="idx"`)
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	ctx := context.Background()
	withCreds := strings.Replace(base, "http://", "http://alice:s3cret@", 1) + "/simple/"
	f := newFinder(t, Options{IndexURL: withCreds})
	files, err := f.Files(ctx, "six")
	if err != nil || len(files) != 1 {
		t.Fatalf("with URL credentials: %v", err)
	}
	// File URLs on the same host reuse the index's credentials.
	if _, err := f.Download(ctx, files[0]); err != nil {
		t.Errorf("download: %v", err)
	}
	if strings.Contains(files[0].Source, "s3cret") {
		t.Errorf("credentials leak into Source: %s", files[0].Source)
	}
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1\n  login alice\n  password s3cret\n"), 0o600)
	f2 := newFinder(t, Options{IndexURL: base + "/simple/", Netrc: netrc})
	if _, err := f2.Files(ctx, "six"); err != nil {
		t.Errorf("netrc: %v", err)
	}
	f3 := newFinder(t, Options{IndexURL: base + "/simple/"})
	var he *HTTPError
	if _, err := f3.Files(ctx, "six"); !errors.As(err, &he) || he.Status != 401 {
		t.Errorf("no credentials: %v", err)
	}
}

func TestInsecureHostRefusedUnlessTrusted(t *testing.T) {
	f := newFinder(t, Options{IndexURL: "http://pypi.invalid/simple/"})
	if _, err := f.Files(context.Background(), "six"); !errors.Is(err, ErrInsecureHost) || !strings.Contains(err.Error(), "--trusted-host pypi.invalid") {
		t.Errorf("err = %v", err)
	}
	f = newFinder(t, Options{IndexURL: "http://pypi.invalid/simple/", TrustedHosts: []string{"pypi.invalid"}})
	if _, err := f.Files(context.Background(), "six"); errors.Is(err, ErrInsecureHost) || err == nil {
		t.Errorf("trusted: err = %v (want a DNS error)", err)
	}
}

func TestFindLinksAndNoIndex(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	ctx := context.Background()
	f := newFinder(t, Options{IndexURL: "http://pypi.invalid/simple/", NoIndex: true, FindLinks: []string{wh.Dir}})
	files, err := f.Files(ctx, "django")
	if err != nil || len(files) != 1 || files[0].Path == "" || files[0].Index != "" {
		t.Fatalf("find-links dir: %+v, %v", files, err)
	}
	md, err := f.Metadata(ctx, files[0])
	if err != nil || md.Version != "3.2.25" {
		t.Fatalf("metadata from a local wheel: %v", err)
	}
	if sum, err := f.SHA256(ctx, files[0]); err != nil || sum != djangoSHA(t, wh) {
		t.Errorf("sha256 %s, %v", sum, err)
	}
	// A static index on disk, by file:// URL.
	f = newFinder(t, Options{IndexURL: "file://" + wh.IndexDir + "/simple/"})
	if files, err := f.Files(ctx, "six"); err != nil || len(files) != 1 || files[0].Path == "" {
		t.Errorf("file:// index: %+v, %v", files, err)
	}
	if files, err := f.Files(ctx, "no-such-project"); err != nil || len(files) != 0 {
		t.Errorf("file:// index, unknown project: %+v, %v", files, err)
	}
	// A local HTML page as find-links.
	page := filepath.Join(t.TempDir(), "links.html")
	os.WriteFile(page, []byte(`<a href="`+filepath.Join(wh.Dir, "six-1.16.0-py3-none-any.whl")+`">six</a>`), 0o644)
	f = newFinder(t, Options{NoIndex: true, FindLinks: []string{page}})
	if files, err := f.Files(ctx, "six"); err != nil || len(files) != 1 {
		t.Errorf("find-links page: %+v, %v", files, err)
	}
	// A find-links directory that does not exist names itself.
	f = newFinder(t, Options{FindLinks: []string{"/nonexistent/wheels"}})
	if _, err := f.Files(ctx, "six"); err == nil || !strings.Contains(err.Error(), "/nonexistent/wheels") {
		t.Errorf("missing find-links: %v", err)
	}
}

func TestETagRevalidation(t *testing.T) {
	page := `<a href="/f/demo-1.0.tar.gz#sha256=00">demo-1.0.tar.gz</a>`
	var full, notModified atomic.Int64
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	listThrice(t, base)
	if full.Load() != 1 || notModified.Load() != 2 {
		t.Errorf("full %d, 304 %d; want 1 and 2", full.Load(), notModified.Load())
	}
}

func TestFindLinksHTTPPage(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	fs := http.FileServer(http.Dir(wh.Dir))
	base, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/links/" {
			fmt.Fprint(w, `<html><body><a href="/six-1.16.0-py3-none-any.whl">six</a> <a href="/sqlparse-0.4.2-py3-none-any.whl">sqlparse</a></body></html>`)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	f := newFinder(t, Options{NoIndex: true, FindLinks: []string{base + "/links/"}})
	files, err := f.Files(context.Background(), "six")
	if err != nil || len(files) != 1 || files[0].URL != base+"/six-1.16.0-py3-none-any.whl" {
		t.Fatalf("files %+v, %v", files, err)
	}
	md, err := f.Metadata(context.Background(), files[0])
	if err != nil || md.Version != "1.16.0" {
		t.Errorf("metadata from a downloaded wheel: %v", err)
	}
}
