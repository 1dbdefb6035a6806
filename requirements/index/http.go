package index

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPError is a non-success HTTP status from a source.
type HTTPError struct {
	URL    string // without credentials
	Status int
	Msg    string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, e.Msg)
}

// ErrInsecureHost is wrapped when an http:// source is neither local nor
// a trusted host (pip ignores such sources; we refuse them loudly).
var ErrInsecureHost = errors.New("not a trusted or secure host")

type fetcher struct {
	client   *http.Client
	insecure *http.Client
	trusted  map[string]bool
	creds    map[string]*url.Userinfo // host -> credentials
	mu       sync.Mutex
	cacheDir string // "" disables the HTTP cache
	// cacheDirOnce makes the cache's directory before the first write.
	cacheDirOnce sync.Once
	sem          chan struct{}
	offline      bool
	now          func() time.Time
}

type response struct {
	body        []byte
	contentType string
	url         string // final URL after redirects, without credentials
	status      int
	fromCache   bool
}

func newFetcher(opts *Options) *fetcher {
	f := &fetcher{
		client:   opts.HTTPClient,
		trusted:  map[string]bool{},
		creds:    map[string]*url.Userinfo{},
		cacheDir: opts.CacheDir,
		now:      time.Now,
	}
	n := opts.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	f.sem = make(chan struct{}, n)
	if f.client == nil {
		f.client = &http.Client{Timeout: 60 * time.Second, Transport: keepAlive(n)}
	}
	tr, _ := f.client.Transport.(*http.Transport)
	if f.client.Transport == nil {
		tr, _ = http.DefaultTransport.(*http.Transport)
	}
	if tr != nil {
		tr = tr.Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for --trusted-host
		f.insecure = &http.Client{Timeout: f.client.Timeout, Transport: tr}
	} else {
		f.insecure = f.client
	}
	for _, h := range opts.TrustedHosts {
		f.trusted[strings.ToLower(h)] = true
	}
	if opts.Netrc != "-" {
		path := opts.Netrc
		if path == "" {
			path = os.Getenv("NETRC")
		}
		if path == "" {
			if home, err := os.UserHomeDir(); err == nil {
				path = filepath.Join(home, ".netrc")
			}
		}
		if path != "" {
			for host, ui := range readNetrc(path) {
				f.creds[host] = ui
			}
		}
	}
	return f
}

// keepAlive is the default transport keeping as many idle connections
// per host as requests may be in flight: Go's default keeps 2, so with
// more requests in flight to one index every response beyond the second
// closed its connection and the next request opened (and, over TLS,
// negotiated) a new one.
func keepAlive(inFlight int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = inFlight
	tr.MaxIdleConns = max(tr.MaxIdleConns, 4*inFlight)
	return tr
}

// rememberCredentials records the user:password of a configured source
// URL, to be used for every URL on the same host (the file links of an
// index with basic auth usually carry none), as pip does.
func (f *fetcher) rememberCredentials(u *url.URL) {
	if u.User != nil {
		f.mu.Lock()
		f.creds[strings.ToLower(u.Host)] = u.User
		f.creds[strings.ToLower(u.Hostname())] = u.User
		f.mu.Unlock()
	}
}

func redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	return c.String()
}

// Redact removes credentials from a URL string for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return redact(u)
}

func isLocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (f *fetcher) checkSecure(u *url.URL) error {
	if u.Scheme != "http" {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if isLocalHost(host) || f.trusted[host] || f.trusted[strings.ToLower(u.Host)] {
		return nil
	}
	return fmt.Errorf("%s: %w (add it with --trusted-host %s)", redact(u), ErrInsecureHost, u.Hostname())
}

type cacheMeta struct {
	URL          string    `json:"url"`
	ContentType  string    `json:"content_type"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Expires      time.Time `json:"expires"`
	Status       int       `json:"status"`
	Size         int       `json:"size"`
}

// The HTTP cache keeps one file per entry, named by the hash of its key
// in one directory: a line of JSON (cacheMeta), then the body. One file
// and no subdirectories because a cold resolution writes an entry for
// every page and metadata file it reads, and on ext4 each file created
// costs far more than the write: two files per entry and 256 fan-out
// directories made these writes most of a cold lock's CPU time.
const httpCacheDir = "http-v2"

func (f *fetcher) cachePath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(f.cacheDir, httpCacheDir, hex.EncodeToString(sum[:]))
}

func (f *fetcher) readCache(key string) (*cacheMeta, []byte) {
	if f.cacheDir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.cachePath(key))
	if err != nil {
		return nil, nil
	}
	head, body, ok := bytes.Cut(data, []byte("\n"))
	var m cacheMeta
	if !ok || json.Unmarshal(head, &m) != nil || len(body) != m.Size {
		return nil, nil // torn or foreign: refetch
	}
	return &m, body
}

func (f *fetcher) writeCache(key string, m *cacheMeta, body []byte) {
	if f.cacheDir == "" {
		return
	}
	f.cacheDirOnce.Do(func() { os.MkdirAll(filepath.Join(f.cacheDir, httpCacheDir), 0o755) })
	m.Size = len(body)
	head, _ := json.Marshal(m)
	// No fsync: an entry lost in a crash is refetched, and Size catches a
	// torn body.
	_ = writeNoSync(f.cachePath(key), append(append(head, '\n'), body...))
}

var tmpSeq atomic.Uint64

// writeNoSync replaces path by rename of a temporary file, without fsync.
func writeNoSync(path string, data []byte) error {
	var fh *os.File
	var err error
	for range 3 {
		tmp := fmt.Sprintf("%s.tmp-%d-%d", path, os.Getpid(), tmpSeq.Add(1))
		if fh, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(fh.Name(), path)
	}
	if err != nil {
		os.Remove(fh.Name())
	}
	return err
}

// get fetches a URL, honouring the disk cache: an immutable resource (a
// file or metadata file, named by its content) is served from the cache
// without a request; a page is served while fresh (Cache-Control
// max-age) and revalidated with ETag / Last-Modified after. A 404 is
// returned as a response, not an error.
func (f *fetcher) get(ctx context.Context, raw, accept string, immutable bool) (*response, error) {
	return f.fetch(ctx, raw, accept, immutable, f.cacheDir != "")
}

func (f *fetcher) fetch(ctx context.Context, raw, accept string, immutable, useCache bool) (*response, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme == "file" {
		return f.getFile(u)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: unsupported URL scheme %q", redact(u), u.Scheme)
	}
	if err := f.checkSecure(u); err != nil {
		return nil, err
	}
	key := redact(u) + "\x00" + accept
	var cm *cacheMeta
	var cbody []byte
	if useCache {
		cm, cbody = f.readCache(key)
	}
	if cm != nil && (immutable || f.now().Before(cm.Expires)) {
		return &response{body: cbody, contentType: cm.ContentType, url: cm.URL, status: cm.Status, fromCache: true}, nil
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-f.sem }()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, redact(u), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	ui := u.User
	if ui == nil {
		f.mu.Lock()
		ui = f.creds[strings.ToLower(u.Host)]
		if ui == nil {
			ui = f.creds[strings.ToLower(u.Hostname())]
		}
		f.mu.Unlock()
	}
	if ui != nil {
		pw, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), pw)
	}
	if cm != nil && cm.Status == http.StatusOK {
		if cm.ETag != "" {
			req.Header.Set("If-None-Match", cm.ETag)
		}
		if cm.LastModified != "" {
			req.Header.Set("If-Modified-Since", cm.LastModified)
		}
	}
	client := f.client
	if f.trusted[strings.ToLower(u.Hostname())] || f.trusted[strings.ToLower(u.Host)] {
		client = f.insecure
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the method and the URL (unredacted): say
		// them once, redacted, and what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var oe *net.OpError // "dial tcp HOST:PORT: …": the URL names them
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return nil, fmt.Errorf("GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	final := redact(resp.Request.URL)
	if resp.StatusCode == http.StatusNotModified && cm != nil {
		if exp := expiry(resp.Header, f.now()); exp.After(cm.Expires.Add(time.Second)) {
			cm.Expires = exp
			f.writeCache(key, cm, cbody)
		}
		return &response{body: cbody, contentType: cm.ContentType, url: cm.URL, status: cm.Status, fromCache: true}, nil
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return &response{url: final, status: resp.StatusCode}, nil
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, &HTTPError{URL: redact(u), Status: resp.StatusCode, Msg: http.StatusText(resp.StatusCode)}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", redact(u), err)
	}
	m := &cacheMeta{
		URL:          final,
		ContentType:  resp.Header.Get("Content-Type"),
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		Expires:      expiry(resp.Header, f.now()),
		Status:       resp.StatusCode,
	}
	if useCache && (immutable || !noStore(resp.Header)) {
		f.writeCache(key, m, body)
	}
	return &response{body: body, contentType: m.ContentType, url: final, status: resp.StatusCode}, nil
}

// getFile serves file:// URLs; a directory serves its index.html, as a
// static simple index laid out on disk.
func (f *fetcher) getFile(u *url.URL) (*response, error) {
	p := u.Path
	st, err := os.Stat(p)
	if err == nil && st.IsDir() {
		p = filepath.Join(p, "index.html")
	}
	body, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &response{url: u.String(), status: http.StatusNotFound}, nil
	}
	if err != nil {
		return nil, err
	}
	ct := "application/octet-stream"
	if strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".htm") {
		ct = "text/html"
	} else if strings.HasSuffix(p, ".json") {
		ct = mediaJSON
	}
	return &response{body: body, contentType: ct, url: u.String(), status: http.StatusOK}, nil
}

func noStore(h http.Header) bool {
	return strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-store")
}

// expiry is when a response stops being fresh: max-age from
// Cache-Control, else already stale (revalidate every time, cheap with
// ETag/Last-Modified).
func expiry(h http.Header, now time.Time) time.Time {
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if d == "no-cache" {
			return now
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return now.Add(time.Duration(n) * time.Second)
			}
		}
	}
	return now
}

// readNetrc parses a .netrc file into host -> credentials; a missing or
// unreadable file gives none.
func readNetrc(path string) map[string]*url.Userinfo {
	out := map[string]*url.Userinfo{}
	fh, err := os.Open(path)
	if err != nil {
		return out
	}
	defer fh.Close()
	var toks []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		toks = append(toks, strings.Fields(line)...)
	}
	var machine, login, password string
	flush := func() {
		if machine != "" && login != "" {
			out[strings.ToLower(machine)] = url.UserPassword(login, password)
		}
		machine, login, password = "", "", ""
	}
	for i := 0; i < len(toks); i++ {
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i]
			}
			return ""
		}
		switch toks[i] {
		case "machine":
			flush()
			machine = next()
		case "default":
			flush()
		case "login":
			login = next()
		case "password":
			password = next()
		case "account":
			next()
		case "macdef":
			// Macros run to the end of the file in our token stream.
			i = len(toks)
		}
	}
	flush()
	return out
}

// getUncached fetches a URL without the HTTP cache (used for files, kept
// in their own content-verified cache).
func (f *fetcher) getUncached(ctx context.Context, raw string) (*response, error) {
	return f.fetch(ctx, raw, "", true, false)
}
