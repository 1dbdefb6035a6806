package indextest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultDelay is the delay per response of a remote index: a round trip
// to a nearby mirror or a CDN edge.
const DefaultDelay = 20 * time.Millisecond

// Options tunes a Server. The zero value serves the tree as it is, with
// no delay.
type Options struct {
	// Delay is waited before each response's first byte.
	Delay time.Duration
	// NoHashes serves project pages without the files' #sha256=
	// fragments.
	NoHashes bool
	// NoMetadata serves project pages without PEP 658/714 attributes and
	// answers 404 for .metadata files.
	NoMetadata bool
}

// Kind is what a request asked for.
type Kind int

const (
	KindOther    Kind = iota
	KindPage          // a project page (or the root page) under /simple/
	KindMetadata      // a PEP 658 .metadata file
	KindWheel         // a .whl file
	KindSdist         // a .tar.gz or .zip file
)

// KindOf classifies a request path.
func KindOf(path string) Kind {
	switch {
	case strings.HasSuffix(path, ".metadata"):
		return KindMetadata
	case strings.HasSuffix(path, ".whl"):
		return KindWheel
	case strings.HasSuffix(path, ".tar.gz"), strings.HasSuffix(path, ".zip"):
		return KindSdist
	case strings.HasPrefix(path, "/simple/"):
		return KindPage
	}
	return KindOther
}

// Counts are the requests a Server answered since it started (or since
// Reset).
type Counts struct {
	Pages    int64 `json:"pages"`
	Metadata int64 `json:"metadata"`
	Wheels   int64 `json:"wheels"`
	Sdists   int64 `json:"sdists"`
	Other    int64 `json:"other"`
	// MaxInFlight is the most requests that were being answered at once.
	MaxInFlight int64 `json:"max_in_flight"`
	// Busy is the sum of the requests' durations (delay included): Busy
	// over the elapsed time is the mean number in flight.
	Busy time.Duration `json:"busy_ns"`
}

// Total is the number of requests.
func (c Counts) Total() int64 { return c.Pages + c.Metadata + c.Wheels + c.Sdists + c.Other }

func (c Counts) String() string {
	return fmt.Sprintf("%d requests (%d pages, %d metadata, %d wheels, %d sdists, %d other), at most %d in flight",
		c.Total(), c.Pages, c.Metadata, c.Wheels, c.Sdists, c.Other, c.MaxInFlight)
}

// Server is a running index server.
type Server struct {
	// URL is the server's base, http://127.0.0.1:PORT (no slash).
	URL  string
	dir  string
	opts Options
	srv  *http.Server
	ln   net.Listener

	counts   [KindSdist + 1]atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	busy     atomic.Int64 // nanoseconds
	mu       sync.Mutex   // serializes Reset against counting
}

// Start serves dir on a free port of 127.0.0.1 until Close.
func Start(dir string, opts Options) (*Server, error) {
	if _, err := os.Stat(filepath.Join(dir, "simple")); err != nil {
		return nil, fmt.Errorf("indextest: %s is not a simple index tree: %w", dir, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), dir: dir, opts: opts, ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// New is Start for a test: the server is closed when the test ends.
func New(t testing.TB, dir string, opts Options) *Server {
	t.Helper()
	s, err := Start(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// IndexURL is the simple index's URL, for --index-url.
func (s *Server) IndexURL() string { return s.URL + "/simple/" }

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops the server after the requests being answered.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Counts returns the requests counted so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Counts{
		Pages: s.counts[KindPage].Load(), Metadata: s.counts[KindMetadata].Load(),
		Wheels: s.counts[KindWheel].Load(), Sdists: s.counts[KindSdist].Load(), Other: s.counts[KindOther].Load(),
		MaxInFlight: s.maxIn.Load(), Busy: time.Duration(s.busy.Load()),
	}
}

// Reset sets the counts back to zero.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.counts {
		s.counts[i].Store(0)
	}
	s.maxIn.Store(s.inFlight.Load())
	s.busy.Store(0)
}

// ControlPrefix starts the paths that drive a server from another
// process (scripts/bench): GET ControlPrefix+"counts" answers the Counts
// as JSON, POST ControlPrefix+"reset" resets them. They are neither
// delayed nor counted.
const ControlPrefix = "/-/"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPrefix) {
		s.control(w, r)
		return
	}
	start := time.Now()
	s.mu.Lock()
	s.counts[KindOf(r.URL.Path)].Add(1)
	n := s.inFlight.Add(1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Unlock()
	defer func() {
		s.inFlight.Add(-1)
		s.busy.Add(int64(time.Since(start)))
	}()
	if s.opts.Delay > 0 {
		t := time.NewTimer(s.opts.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := filepath.Join(s.dir, filepath.FromSlash(filepath.Clean("/"+r.URL.Path)))
	switch KindOf(r.URL.Path) {
	case KindMetadata:
		if s.opts.NoMetadata {
			http.NotFound(w, r)
			return
		}
	case KindPage:
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		s.servePage(w, r, filepath.Join(p, "index.html"))
		return
	}
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, p)
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, ControlPrefix) {
	case "counts":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Counts())
	case "reset":
		if r.Method != http.MethodPost {
			http.Error(w, "POST to reset", http.StatusMethodNotAllowed)
			return
		}
		s.Reset()
	default:
		http.NotFound(w, r)
	}
}

var (
	hashFragment  = regexp.MustCompile(`#sha256=[0-9a-fA-F]+"`)
	metadataAttrs = regexp.MustCompile(`\s+data-(?:dist-info|core)-metadata="[^"]*"`)
)

// servePage serves a project page as PEP 503 HTML, without the hashes or
// metadata attributes the options take away, with its file's
// Last-Modified so that a client can revalidate (304), as with an index.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, p string) {
	st, err := os.Stat(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if s.opts.NoHashes {
		data = hashFragment.ReplaceAll(data, []byte(`"`))
	}
	if s.opts.NoMetadata {
		data = metadataAttrs.ReplaceAll(data, nil)
	}
	http.ServeContent(w, r, "index.html", st.ModTime(), bytes.NewReader(data))
}
