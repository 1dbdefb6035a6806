package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"
)

// Link is one file listed on a simple-repository project page (PEP 503
// anchor or PEP 691 JSON entry) or a find-links page.
type Link struct {
	Filename string
	URL      string // absolute, fragment removed
	// Hashes come from the JSON "hashes" or the URL fragment
	// (#sha256=…); algorithm -> lowercase hex.
	Hashes         map[string]string
	RequiresPython string
	Yanked         bool
	YankedReason   string
	// CoreMetadata is PEP 658/714: the METADATA file is served at URL +
	// ".metadata"; MetadataHashes may be empty when only "true" was given.
	CoreMetadata   bool
	MetadataHashes map[string]string
	Size           int64     // 0 when unknown
	UploadTime     time.Time // zero when unknown
}

// Page is a parsed project page.
type Page struct {
	Name       string // from JSON "name" (HTML pages have none)
	APIVersion string // PEP 629 repository version ("1.0" when absent)
	Links      []Link
}

// ErrMalformedPage is wrapped by parse errors of index pages.
var ErrMalformedPage = errors.New("malformed index page")

// JSON and HTML media types of PEP 691.
const (
	mediaJSON = "application/vnd.pypi.simple.v1+json"
	mediaHTML = "application/vnd.pypi.simple.v1+html"
	// acceptHeader prefers JSON, as pip does.
	acceptHeader = mediaJSON + ", " + mediaHTML + ";q=0.2, text/html;q=0.01"
)

// ParseHTML parses a PEP 503 page. base resolves relative hrefs (a <base
// href> in the page takes precedence). Anchors without a file name in
// their path are ignored; attributes follow PEP 503/592/658/714: the
// data-core-metadata attribute wins over data-dist-info-metadata.
func ParseHTML(data []byte, base string) (*Page, error) {
	baseURL, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v", ErrMalformedPage, base, err)
	}
	p := &Page{APIVersion: "1.0"}
	s := string(data)
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		i += lt + 1
		if strings.HasPrefix(s[i:], "!--") {
			end := strings.Index(s[i:], "-->")
			if end < 0 {
				break
			}
			i += end + 3
			continue
		}
		name, attrs, n := parseTag(s[i:])
		i += n
		switch name {
		case "base":
			if h, ok := attrs["href"]; ok {
				if u, err := baseURL.Parse(h); err == nil {
					baseURL = u
				}
			}
		case "meta":
			if attrs["name"] == "pypi:repository-version" {
				p.APIVersion = attrs["content"]
			}
		case "a":
			href, ok := attrs["href"]
			if !ok {
				continue
			}
			u, err := baseURL.Parse(strings.TrimSpace(href))
			if err != nil {
				continue // pip skips links it cannot parse
			}
			l := Link{RequiresPython: attrs["data-requires-python"]}
			l.Hashes = fragmentHashes(u.Fragment)
			u.Fragment, u.RawFragment = "", ""
			l.URL = u.String()
			l.Filename = fileName(u)
			if l.Filename == "" {
				continue
			}
			if y, ok := attrs["data-yanked"]; ok {
				l.Yanked, l.YankedReason = true, y
			}
			md, ok := attrs["data-core-metadata"]
			if !ok {
				md, ok = attrs["data-dist-info-metadata"]
			}
			if ok && md != "false" {
				l.CoreMetadata = true
				if alg, h, found := strings.Cut(md, "="); found {
					l.MetadataHashes = map[string]string{strings.ToLower(alg): strings.ToLower(h)}
				}
			}
			p.Links = append(p.Links, l)
		}
	}
	return p, nil
}

// parseTag reads a tag's name and attributes from just after '<'; n is
// the number of bytes consumed.
func parseTag(s string) (name string, attrs map[string]string, n int) {
	i := 0
	for i < len(s) && !isSpace(s[i]) && s[i] != '>' && s[i] != '/' {
		i++
	}
	name = strings.ToLower(s[:i])
	attrs = map[string]string{}
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == '/') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '>' {
			i++
			break
		}
		ks := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' && s[i] != '/' {
			i++
		}
		key := strings.ToLower(s[ks:i])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		val := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i < len(s) && (s[i] == '"' || s[i] == '\'') {
				q := s[i]
				i++
				vs := i
				for i < len(s) && s[i] != q {
					i++
				}
				val = s[vs:i]
				if i < len(s) {
					i++
				}
			} else {
				vs := i
				for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
					i++
				}
				val = s[vs:i]
			}
		}
		if key == "" {
			i++
			continue
		}
		if _, dup := attrs[key]; !dup {
			attrs[key] = html.UnescapeString(val)
		}
	}
	return name, attrs, i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func fragmentHashes(frag string) map[string]string {
	if frag == "" {
		return nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(frag, "&") {
		alg, h, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch alg = strings.ToLower(alg); alg {
		case "sha1", "sha224", "sha256", "sha384", "sha512", "md5", "blake2b":
			out[alg] = strings.ToLower(h)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func fileName(u *url.URL) string {
	p := u.Path
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name  string     `json:"name"`
	Files []jsonFile `json:"files"`
}

type jsonFile struct {
	Filename         string            `json:"filename"`
	URL              string            `json:"url"`
	Hashes           map[string]string `json:"hashes"`
	RequiresPython   *string           `json:"requires-python"`
	CoreMetadata     json.RawMessage   `json:"core-metadata"`
	DistInfoMetadata json.RawMessage   `json:"dist-info-metadata"`
	Yanked           json.RawMessage   `json:"yanked"`
	Size             *int64            `json:"size"`
	UploadTime       string            `json:"upload-time"`
}

// ParseJSON parses a PEP 691 JSON project page; relative file URLs are
// resolved against base.
func ParseJSON(data []byte, base string) (*Page, error) {
	var jp jsonPage
	if err := json.Unmarshal(data, &jp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedPage, err)
	}
	if jp.Meta.APIVersion == "" {
		return nil, fmt.Errorf("%w: meta.api-version is missing", ErrMalformedPage)
	}
	if major, _, _ := strings.Cut(jp.Meta.APIVersion, "."); major != "1" {
		return nil, fmt.Errorf("%w: unsupported api-version %q", ErrMalformedPage, jp.Meta.APIVersion)
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v", ErrMalformedPage, base, err)
	}
	p := &Page{Name: jp.Name, APIVersion: jp.Meta.APIVersion}
	for i, f := range jp.Files {
		if f.Filename == "" || f.URL == "" {
			return nil, fmt.Errorf("%w: files[%d] lacks filename or url", ErrMalformedPage, i)
		}
		u, err := baseURL.Parse(f.URL)
		if err != nil {
			return nil, fmt.Errorf("%w: files[%d].url %q: %v", ErrMalformedPage, i, f.URL, err)
		}
		frag := fragmentHashes(u.Fragment)
		u.Fragment, u.RawFragment = "", ""
		l := Link{Filename: f.Filename, URL: u.String()}
		if len(f.Hashes) > 0 {
			l.Hashes = map[string]string{}
			for k, v := range f.Hashes {
				l.Hashes[strings.ToLower(k)] = strings.ToLower(v)
			}
		} else {
			l.Hashes = frag
		}
		if f.RequiresPython != nil {
			l.RequiresPython = *f.RequiresPython
		}
		md := f.CoreMetadata
		if len(md) == 0 {
			md = f.DistInfoMetadata
		}
		if len(md) > 0 {
			var b bool
			var hs map[string]string
			if json.Unmarshal(md, &b) == nil {
				l.CoreMetadata = b
			} else if json.Unmarshal(md, &hs) == nil {
				l.CoreMetadata = true
				l.MetadataHashes = map[string]string{}
				for k, v := range hs {
					l.MetadataHashes[strings.ToLower(k)] = strings.ToLower(v)
				}
			} else {
				return nil, fmt.Errorf("%w: files[%d].core-metadata is neither a boolean nor a table of hashes", ErrMalformedPage, i)
			}
		}
		if len(f.Yanked) > 0 {
			var b bool
			var reason string
			if json.Unmarshal(f.Yanked, &b) == nil {
				l.Yanked = b
			} else if json.Unmarshal(f.Yanked, &reason) == nil {
				l.Yanked, l.YankedReason = true, reason
			} else {
				return nil, fmt.Errorf("%w: files[%d].yanked is neither a boolean nor a string", ErrMalformedPage, i)
			}
		}
		if f.Size != nil {
			l.Size = *f.Size
		}
		if f.UploadTime != "" {
			if t, err := time.Parse(time.RFC3339Nano, f.UploadTime); err == nil {
				l.UploadTime = t.UTC()
			}
		}
		p.Links = append(p.Links, l)
	}
	return p, nil
}
