package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/keylock"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/index/vcs"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Options configures a Finder; they mirror pip's source options. The
// zero value searches nothing: set IndexURL (pip's default is
// https://pypi.org/simple/) or FindLinks.
type Options struct {
	IndexURL       string   // -i/--index-url: a PEP 503/691 simple index
	ExtraIndexURLs []string // --extra-index-url
	FindLinks      []string // -f: local directories, local HTML files, or HTML page URLs
	NoIndex        bool     // --no-index: ignore IndexURL and ExtraIndexURLs
	TrustedHosts   []string // --trusted-host: http allowed, TLS not verified
	// CacheDir holds the HTTP cache, downloaded files and checkouts; ""
	// means a temporary directory removed by Close.
	CacheDir string
	// Netrc is the .netrc file for basic auth ("" = $NETRC or ~/.netrc,
	// "-" = none). Credentials in a source URL win.
	Netrc       string
	HTTPClient  *http.Client
	Concurrency int // HTTP requests in flight (default DefaultConcurrency)
	// Builder builds wheels from source trees when their metadata is not
	// static (venv/pep517 implements it). Nil: such sources are an error.
	Builder Builder
	Logger  *slog.Logger
}

// DefaultConcurrency is how many HTTP requests a Finder has in flight at
// most, uv's default: a resolution over a remote index is bound by round
// trips, and the widest level of a dependency graph (dozens of projects,
// each a page and a metadata file) should fit in one.
const DefaultConcurrency = 50

// Builder builds a wheel from a source tree (PEP 517; editable: PEP 660)
// into outDir and returns its path. requirements/index defines it so
// that it need not import the build frontend (venv/pep517).
type Builder interface {
	BuildWheel(ctx context.Context, srcDir, outDir string, editable bool) (wheelPath string, err error)
}

// File is one distribution file of a project found on a source.
type File struct {
	Link
	Project string // normalized
	Version pep440.Version
	Wheel   *dist.WheelName // nil for an sdist
	// Source is the index URL or find-links location it was found on.
	Source string
	// Index is the index URL for files served by an index ("" for
	// find-links), recorded in locks.
	Index string
	// Path is the local file, for files on disk.
	Path string
}

// IsWheel reports whether f is a wheel.
func (f *File) IsWheel() bool { return f.Wheel != nil }

// Finder finds distributions on the configured sources. It is safe for
// concurrent use.
type Finder struct {
	opts  Options
	http  *fetcher
	log   *slog.Logger
	cache string
	tmp   string

	mu       sync.Mutex
	dirLists map[string][]Link // find-links location -> its links
	vcs      *vcs.Cache
	dl       keylock.Map // per downloaded file's destination
}

// ErrHashMismatch is wrapped by *HashError.
var ErrHashMismatch = errors.New("hash mismatch")

// HashError reports a file whose content does not match the hash its
// source announced.
type HashError struct {
	File      string
	Source    string
	Algorithm string
	Want, Got string
}

func (e *HashError) Error() string {
	return fmt.Sprintf("%s from %s: %s %s: expected %s, got %s", e.File, e.Source, ErrHashMismatch, e.Algorithm, e.Want, e.Got)
}

func (e *HashError) Unwrap() error { return ErrHashMismatch }

// SourceError wraps a failure to read a source, naming it and the
// project being looked up.
type SourceError struct {
	Project string
	Source  string
	Err     error
}

func (e *SourceError) Error() string {
	if msg := e.Err.Error(); strings.Contains(msg, e.Source) {
		return fmt.Sprintf("looking up %s: %s", e.Project, msg) // "GET SOURCE/…" names it
	}
	return fmt.Sprintf("looking up %s on %s: %v", e.Project, e.Source, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// New creates a Finder.
func New(opts Options) (*Finder, error) {
	f := &Finder{opts: opts, dirLists: map[string][]Link{}}
	f.log = opts.Logger
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f.cache = opts.CacheDir
	if f.cache == "" {
		d, err := os.MkdirTemp("", "deploykit-index-")
		if err != nil {
			return nil, err
		}
		f.tmp, f.cache = d, d
	}
	f.vcs = &vcs.Cache{Dir: filepath.Join(f.cache, "vcs-v1")}
	o := opts
	o.CacheDir = f.cache
	f.http = newFetcher(&o)
	for _, s := range f.indexURLs() {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("index URL %q: %w", Redact(s), err)
		}
		f.http.rememberCredentials(u)
	}
	for _, s := range opts.FindLinks {
		if u, err := url.Parse(s); err == nil {
			f.http.rememberCredentials(u)
		}
	}
	return f, nil
}

// Close removes the temporary cache directory, if New made one.
func (f *Finder) Close() error {
	if f.tmp != "" {
		return os.RemoveAll(f.tmp)
	}
	return nil
}

// Sources lists the configured sources in search order, without
// credentials, for messages.
func (f *Finder) Sources() []string {
	var out []string
	for _, s := range f.indexURLs() {
		out = append(out, Redact(s))
	}
	for _, s := range f.opts.FindLinks {
		out = append(out, Redact(s))
	}
	return out
}

// CacheDir is where downloads, the HTTP cache and checkouts are kept.
func (f *Finder) CacheDir() string { return f.cache }

func (f *Finder) indexURLs() []string {
	if f.opts.NoIndex {
		return nil
	}
	var out []string
	if f.opts.IndexURL != "" {
		out = append(out, f.opts.IndexURL)
	}
	return append(out, f.opts.ExtraIndexURLs...)
}

// Files lists every distribution file of project on all sources, in
// source order: index URLs, then find-links. A project an index does not
// know (404) contributes nothing; an unreachable source or a malformed
// page is an error naming both.
func (f *Finder) Files(ctx context.Context, project string) ([]File, error) {
	name := requirements.NormalizeName(project)
	var out []File
	for _, idx := range f.indexURLs() {
		links, err := f.indexPage(ctx, idx, name)
		if err != nil {
			return nil, &SourceError{Project: name, Source: Redact(idx), Err: err}
		}
		out = append(out, f.toFiles(name, links, Redact(idx), Redact(idx))...)
	}
	for _, fl := range f.opts.FindLinks {
		links, err := f.findLinks(ctx, fl)
		if err != nil {
			return nil, &SourceError{Project: name, Source: Redact(fl), Err: err}
		}
		out = append(out, f.toFiles(name, links, Redact(fl), "")...)
	}
	return out, nil
}

func (f *Finder) toFiles(name string, links []Link, source, index string) []File {
	var out []File
	for _, l := range links {
		file := File{Link: l, Source: source, Index: index}
		switch {
		case strings.HasSuffix(l.Filename, ".whl"):
			w, err := dist.ParseWheelFilename(l.Filename, false)
			if err != nil || w.Name != name {
				continue
			}
			file.Project, file.Version, file.Wheel = w.Name, w.Version, &w
		case strings.HasSuffix(l.Filename, ".tar.gz") || strings.HasSuffix(l.Filename, ".zip"):
			s, err := dist.ParseSdistFilename(l.Filename)
			if err != nil || s.Name != name {
				continue
			}
			file.Project, file.Version = s.Name, s.Version
		default:
			continue
		}
		if u, err := url.Parse(l.URL); err == nil && u.Scheme == "file" {
			file.Path = u.Path
		}
		out = append(out, file)
	}
	return out
}

func (f *Finder) indexPage(ctx context.Context, index, name string) ([]Link, error) {
	base := strings.TrimSuffix(index, "/") + "/" + name + "/"
	resp, err := f.http.get(ctx, base, acceptHeader, false)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotFound || resp.status == http.StatusGone {
		return nil, nil
	}
	page, err := parsePage(resp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", resp.url, err)
	}
	return page.Links, nil
}

func parsePage(resp *response) (*Page, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(resp.contentType, ";")[0]))
	switch ct {
	case mediaJSON:
		return ParseJSON(resp.body, resp.url)
	case mediaHTML, "text/html", "":
		return ParseHTML(resp.body, resp.url)
	}
	return nil, fmt.Errorf("%w: unexpected content type %q", ErrMalformedPage, resp.contentType)
}

// findLinks lists a find-links location: a local directory's files, or
// the anchors of a local or remote HTML page. Listings are read once per
// Finder.
func (f *Finder) findLinks(ctx context.Context, loc string) ([]Link, error) {
	f.mu.Lock()
	if l, ok := f.dirLists[loc]; ok {
		f.mu.Unlock()
		return l, nil
	}
	f.mu.Unlock()
	path := loc
	if u, err := url.Parse(loc); err == nil && u.Scheme == "file" {
		path = u.Path
	} else if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		resp, err := f.http.get(ctx, loc, "text/html", false)
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusOK {
			return nil, &HTTPError{URL: Redact(loc), Status: resp.status, Msg: http.StatusText(resp.status)}
		}
		page, err := ParseHTML(resp.body, resp.url)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.dirLists[loc] = page.Links
		f.mu.Unlock()
		return page.Links, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	var links []Link
	if st.IsDir() {
		ents, err := os.ReadDir(abs)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			p := filepath.Join(abs, e.Name())
			links = append(links, Link{Filename: e.Name(), URL: (&url.URL{Scheme: "file", Path: p}).String()})
		}
	} else {
		data, err := os.ReadFile(abs)
		if err != nil {
			return nil, err
		}
		page, err := ParseHTML(data, (&url.URL{Scheme: "file", Path: abs}).String())
		if err != nil {
			return nil, err
		}
		links = page.Links
	}
	f.mu.Lock()
	f.dirLists[loc] = links
	f.mu.Unlock()
	return links, nil
}

// Metadata returns a file's core metadata without building when
// possible: the PEP 658 metadata file, the wheel's METADATA, or an
// sdist's static PKG-INFO (metadata 2.2+ with Requires-Dist and
// Requires-Python not dynamic). Otherwise the sdist is built with the
// Builder. Metadata whose name or version disagrees with the file name
// is an error.
func (f *Finder) Metadata(ctx context.Context, file File) (*dist.Metadata, error) {
	md, err := f.metadata(ctx, file)
	if err != nil {
		return nil, err
	}
	if requirements.NormalizeName(md.Name) != file.Project {
		return nil, fmt.Errorf("%s from %s: metadata names project %q, the file name says %q", file.Filename, file.Source, md.Name, file.Project)
	}
	if v, err := md.ParsedVersion(); err != nil || v.Compare(file.Version) != 0 {
		return nil, fmt.Errorf("%s from %s: metadata has version %q, the file name says %q", file.Filename, file.Source, md.Version, file.Version)
	}
	return md, nil
}

func (f *Finder) metadata(ctx context.Context, file File) (*dist.Metadata, error) {
	if file.IsWheel() {
		if file.CoreMetadata && file.Path == "" {
			resp, err := f.http.get(ctx, file.URL+".metadata", "", true)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file.Filename, err)
			}
			if resp.status == http.StatusOK {
				if err := checkHashes(resp.body, file.MetadataHashes, file.Filename+".metadata", file.Source); err != nil {
					return nil, err
				}
				return dist.ParseMetadata(file.Filename+".metadata", resp.body)
			}
			// PEP 658 promised a file that is not there: fall back to the
			// wheel, as pip does.
			f.log.Debug("metadata file missing, downloading the wheel", "file", file.Filename, "source", file.Source)
		}
		p, err := f.Download(ctx, file)
		if err != nil {
			return nil, err
		}
		return dist.ReadWheelMetadata(ctx, p)
	}
	p, err := f.Download(ctx, file)
	if err != nil {
		return nil, err
	}
	md, err := readSdistMetadata(p)
	if err == nil {
		return md, nil
	}
	if !errors.Is(err, errDynamic) {
		return nil, fmt.Errorf("%s from %s: %w", file.Filename, file.Source, err)
	}
	return f.buildMetadata(ctx, file, p)
}

// Download returns a local path of the file's content, verified against
// every hash its source gave. Remote files are kept in the cache, keyed
// by URL; a cached copy is re-verified.
func (f *Finder) Download(ctx context.Context, file File) (string, error) {
	if file.Path != "" {
		if err := verifyFile(file.Path, file.Hashes, file.Filename, file.Source); err != nil {
			return "", err
		}
		return file.Path, nil
	}
	sum := sha256.Sum256([]byte(file.URL))
	dir := filepath.Join(f.cache, "files-v1", hex.EncodeToString(sum[:8]))
	dst := filepath.Join(dir, file.Filename)
	defer f.dl.Lock(dst)()
	if _, err := os.Stat(dst); err == nil {
		if err := verifyFile(dst, file.Hashes, file.Filename, file.Source); err == nil {
			return dst, nil
		}
		os.Remove(dst)
	}
	// Files are not kept in the HTTP cache (it would hold them twice).
	resp, err := f.http.getUncached(ctx, file.URL)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file.Filename, err)
	}
	if resp.status != http.StatusOK {
		return "", &HTTPError{URL: Redact(file.URL), Status: resp.status, Msg: http.StatusText(resp.status)}
	}
	if err := checkHashes(resp.body, file.Hashes, file.Filename, file.Source); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(dst, resp.body, 0o644); err != nil {
		return "", err
	}
	return dst, nil
}

// SHA256 returns the file's sha256: the source's when given, else
// computed from the (downloaded) content.
func (f *Finder) SHA256(ctx context.Context, file File) (string, error) {
	if h := file.Hashes["sha256"]; h != "" {
		return h, nil
	}
	p, err := f.Download(ctx, file)
	if err != nil {
		return "", err
	}
	return filehash.SHA256(p)
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	}
	return extraHash(alg)
}

func checkHashes(data []byte, hashes map[string]string, name, source string) error {
	for alg, want := range hashes {
		h := newHash(alg)
		if h == nil {
			continue // an algorithm we cannot check (md5 is not trusted)
		}
		h.Write(data)
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return &HashError{File: name, Source: source, Algorithm: alg, Want: want, Got: got}
		}
	}
	return nil
}

func verifyFile(p string, hashes map[string]string, name, source string) error {
	if len(hashes) == 0 {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return checkHashes(data, hashes, name, source)
}
