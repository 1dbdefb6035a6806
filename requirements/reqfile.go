package requirements

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// FileOptions controls ParseFile. The zero value behaves like pip run in
// the current directory with the process environment.
type FileOptions struct {
	// WorkDir is the directory relative requirement paths ("./pkg",
	// "dist/x.whl") and a relative top-level file name are resolved
	// against. pip uses its working directory; so does the zero value.
	WorkDir string
	// LookupEnv resolves ${VAR} references; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// Constraint parses the top-level file as a constraints file (pip -c).
	Constraint bool
	// HTTPClient fetches requirements files named by http(s) URL (the
	// top-level file or an include), as pip does. Nil refuses them with
	// an ErrInvalidFile error: parsing does no network I/O unless asked.
	HTTPClient *http.Client
}

// File is a parsed pip requirements file, with every -r/-c include
// expanded in place. Its JSON encoding is deploykit's interchange format.
type File struct {
	Entries []Entry `json:"entries"`
	// IndexURL is the -i/--index-url in effect ("" for the default index);
	// ExtraIndexURLs follow it. A later -i replaces earlier extra indexes,
	// and --no-index clears both, as in pip.
	IndexURL       string   `json:"index_url"`
	ExtraIndexURLs []string `json:"extra_index_urls"`
	FindLinks      []string `json:"find_links"`
	NoIndex        bool     `json:"no_index"`
	Pre            bool     `json:"pre"`
	TrustedHosts   []string `json:"trusted_hosts"`

	// NoBinary and OnlyBinary are pip's format control: normalized names,
	// or ":all:".
	NoBinary      []string `json:"no_binary"`
	OnlyBinary    []string `json:"only_binary"`
	PreferBinary  bool     `json:"prefer_binary"`
	RequireHashes bool     `json:"require_hashes"`
}

// Entry is one requirement line.
type Entry struct {
	// Requirement is the line's requirement text after comment removal,
	// line joining and ${VAR} expansion (for -e, the argument of -e).
	Requirement string   `json:"requirement"`
	Name        string   `json:"name"`      // normalized; "" for an unnamed URL or path
	Extras      []string `json:"extras"`    // normalized, sorted
	Specifier   string   `json:"specifier"` // normalized specifier set
	Marker      string   `json:"marker"`    // normalized marker, "" when none
	URL         string   `json:"url"`       // direct URL, file:// URL of a path, or VCS URL
	Editable    bool     `json:"editable"`
	Constraint  bool     `json:"constraint"`
	Hashes      []string `json:"hashes"` // "algo:hexdigest", in file order
	File        string   `json:"file"`   // the file the line is in, as pip names it
	Line        int      `json:"line"`   // first physical line of the (joined) line

	// LocalPath is the absolute path a file:// URL points to.
	LocalPath string `json:"local_path,omitempty"`
	// VCS, Revision and Subdirectory describe a VCS URL
	// (git+https://host/repo@rev#egg=name&subdirectory=dir).
	VCS            string              `json:"vcs,omitempty"`
	Revision       string              `json:"revision,omitempty"`
	Subdirectory   string              `json:"subdirectory,omitempty"`
	GlobalOptions  []string            `json:"global_options,omitempty"`
	ConfigSettings map[string][]string `json:"config_settings,omitempty"`

	// Parsed is the PEP 508 requirement (name, extras, specifiers, URL and
	// the line's marker); nil for an unnamed URL or path.
	Parsed *Requirement `json:"-"`
}

// vcsSchemes is pip's vcs.all_schemes.
var vcsSchemes = map[string]string{
	"bzr+http": "bzr", "bzr+https": "bzr", "bzr+ssh": "bzr", "bzr+sftp": "bzr", "bzr+ftp": "bzr", "bzr+lp": "bzr", "bzr+file": "bzr",
	"git+http": "git", "git+https": "git", "git+ssh": "git", "git+git": "git", "git+file": "git",
	"hg+file": "hg", "hg+http": "hg", "hg+https": "hg", "hg+ssh": "hg", "hg+static-http": "hg",
	"svn+ssh": "svn", "svn+http": "svn", "svn+https": "svn", "svn+svn": "svn", "svn+file": "svn",
}

// vcsNames in pip's registry order (used for "git:"-style editables).
var vcsNames = []string{"bzr", "git", "hg", "svn"}

var (
	envVarRe        = lazyregexp.New(`\$\{([A-Z0-9_]+)\}`)
	eggFragmentRe   = lazyregexp.New(`[#&]egg=([^&]*)`)
	subdirectoryRe  = lazyregexp.New(`[#&]subdirectory=([^&]*)`)
	stripExtrasRe   = lazyregexp.New(`^(?s:(.+)(\[[^\]]+\]))$`)
	wheelFilenameRe = lazyregexp.New(`^(?:([^\s-]+?)-([^\s-]*?))(?:(?:-\d[^-]*?)?-[^\s-]+?-[^\s-]+?-[^\s-]+?\.whl|\.dist-info)$`)
)

// ParseFile parses a pip requirements file with pip's own semantics
// (pip/_internal/req/req_file.py and req/constructors.py): comments,
// backslash continuations, ${VAR} expansion, -r/-c includes relative to
// the including file (include cycles are an error), -e, per-requirement
// --hash/--global-option/--config-settings, the index and format options,
// URLs, local paths, "name @ url" and VCS URLs.
//
// Errors are *ParseError with the file and line, wrapping
// ErrInvalidRequirement, ErrInvalidMarker or ErrInvalidFile.
func ParseFile(ctx context.Context, path string, opts FileOptions) (*File, error) {
	workDir := opts.WorkDir
	if workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		workDir = wd
	}
	workDir = pyAbsPath("/", workDir)
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	p := &fileParser{ctx: ctx, workDir: workDir, lookup: lookup, fc: newFormatControl(), client: opts.HTTPClient}
	if err := p.parse(path, path, opts.Constraint, nil); err != nil {
		return nil, err
	}
	f := &p.out
	if f.Entries == nil {
		f.Entries = []Entry{}
	}
	if p.haveIndex && len(p.indexURLs) > 0 {
		f.IndexURL = p.indexURLs[0]
		f.ExtraIndexURLs = append([]string{}, p.indexURLs[1:]...)
	} else {
		f.ExtraIndexURLs = append([]string{}, p.indexURLs...)
	}
	f.FindLinks = nonNil(f.FindLinks)
	f.TrustedHosts = nonNil(f.TrustedHosts)
	f.NoBinary = sortedKeys(p.fc.noBinary)
	f.OnlyBinary = sortedKeys(p.fc.onlyBinary)
	return f, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type fileParser struct {
	ctx     context.Context
	workDir string
	lookup  func(string) (string, bool)
	client  *http.Client
	fc      *formatControl
	out     File

	indexURLs []string
	haveIndex bool // an -i is in effect (so indexURLs[0] is it)

	stack []string // absolute paths of the files being parsed, outermost first
	names []string // the same, as named
}

// logicalLine is one line after joining, comment removal and expansion.
type logicalLine struct {
	num  int
	text string
}

func (p *fileParser) fileErr(name string, line int, err error, format string, args ...any) *ParseError {
	return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...), Err: err}
}

// parse parses one file. name is the file as pip names it (a path, or a
// file: URL when it was included by URL), path where to read it;
// includeErr reports errors about opening it at the including line (nil
// for the top-level file).
func (p *fileParser) parse(name, path string, constraint bool, includeErr func(error, string, ...any) error) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	fail := func(err error, format string, args ...any) error {
		if includeErr != nil {
			return includeErr(err, format, args...)
		}
		return p.fileErr(name, 0, err, format, args...)
	}
	remote := isHTTPURL(path)
	key := path
	if !remote {
		key = pyAbsPath(p.workDir, path)
		if real, err := filepath.EvalSymlinks(key); err == nil {
			key = real
		}
	}
	for i, k := range p.stack {
		if k == key {
			chain := append(append([]string{}, p.names[i:]...), name)
			return fail(ErrIncludeCycle, "%s", strings.Join(chain, " -> "))
		}
	}
	var data []byte
	var err error
	if remote {
		data, err = p.fetch(path)
	} else {
		data, err = os.ReadFile(pyAbsPath(p.workDir, path))
	}
	if err != nil {
		// The top-level file is named by the error's position already;
		// an include is named by the open error, at the including line.
		var pe *fs.PathError
		if includeErr == nil && errors.As(err, &pe) {
			err = pe.Err
		}
		return fail(&unreadableError{err}, "")
	}
	content, err := decodeRequirementsFile(data)
	if err != nil {
		return fail(ErrInvalidFile, "%s: %v", name, err)
	}
	p.stack = append(p.stack, key)
	p.names = append(p.names, name)
	defer func() {
		p.stack = p.stack[:len(p.stack)-1]
		p.names = p.names[:len(p.names)-1]
	}()

	for _, ll := range p.preprocess(content) {
		if err := p.handleLine(name, ll, constraint); err != nil {
			return err
		}
	}
	return nil
}

// decodeRequirementsFile is pip's auto_decode: a UTF-8, UTF-16 or UTF-32
// byte-order mark, else a PEP 263 coding declaration ("# -*- coding:
// latin-1 -*-") in the first two lines, else UTF-8 (the locale encoding
// pip uses on any modern system). Of the declared encodings, the UTF-8,
// Latin-1 and ASCII families are supported.
func decodeRequirementsFile(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
		if !utf8.Valid(data) {
			return "", errors.New("file is not valid UTF-8")
		}
		return string(data), nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}):
		return decodeUTF32(data[4:], binary.LittleEndian)
	case bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return decodeUTF32(data[4:], binary.BigEndian)
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return decodeUTF16(data[2:], binary.LittleEndian)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], binary.BigEndian)
	}
	lines := bytes.SplitN(data, []byte("\n"), 3)
	for _, line := range lines[:min(2, len(lines))] {
		if len(line) == 0 || line[0] != '#' {
			continue
		}
		if m := codingRe.FindSubmatch(line); m != nil {
			return decodeAs(data, string(m[1]))
		}
	}
	return decodeAs(data, "utf-8")
}

var codingRe = lazyregexp.New(`coding[:=][ \t\n\r\f\v]*([-a-zA-Z0-9_.]+)`)

func decodeAs(data []byte, encoding string) (string, error) {
	norm := strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(encoding))
	switch norm {
	case "utf_8", "utf8", "u8", "utf", "cp65001":
		if !utf8.Valid(data) {
			return "", errors.New("file is not valid UTF-8")
		}
		return string(data), nil
	case "ascii", "us_ascii", "646":
		for _, b := range data {
			if b >= 0x80 {
				return "", errors.New("file declares ASCII but is not")
			}
		}
		return string(data), nil
	case "latin_1", "latin1", "iso_8859_1", "iso8859_1", "8859", "cp819", "l1", "latin":
		var b strings.Builder
		for _, c := range data {
			b.WriteRune(rune(c))
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unsupported encoding %q (declared in the file)", encoding)
}

func decodeUTF16(b []byte, order binary.ByteOrder) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("truncated UTF-16 data")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

func decodeUTF32(b []byte, order binary.ByteOrder) (string, error) {
	if len(b)%4 != 0 {
		return "", errors.New("truncated UTF-32 data")
	}
	var sb strings.Builder
	for i := 0; i+4 <= len(b); i += 4 {
		r := rune(order.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			return "", errors.New("invalid UTF-32 data")
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

// commentAtStart is COMMENT_RE.match: the line is a comment line.
func commentAtStart(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, isPySpace), "#")
}

// stripComment is COMMENT_RE.sub("", line): from the first "#" that starts
// the line or follows whitespace, together with that whitespace, to the end.
func stripComment(line string) string {
	prevSpace := true // start of line counts
	wsStart := 0
	for i, r := range line {
		if r == '#' && prevSpace {
			if i == 0 {
				return ""
			}
			return line[:wsStart]
		}
		sp := isPySpace(r)
		if sp && !prevSpace {
			wsStart = i
		}
		if i == 0 && sp {
			wsStart = 0
		}
		prevSpace = sp
	}
	return line
}

// preprocess is pip's preprocess(): splitlines, join_lines,
// ignore_comments, expand_env_variables.
func (p *fileParser) preprocess(content string) []logicalLine {
	var joined []logicalLine
	var cont []string
	primary := 0
	for i, line := range pySplitLines(content) {
		num := i + 1
		isComment := commentAtStart(line)
		if !strings.HasSuffix(line, `\`) || isComment {
			if isComment {
				line = " " + line
			}
			if cont != nil {
				cont = append(cont, line)
				joined = append(joined, logicalLine{primary, strings.Join(cont, "")})
				cont = nil
			} else {
				joined = append(joined, logicalLine{num, line})
			}
			continue
		}
		if cont == nil {
			primary = num
			cont = []string{}
		}
		cont = append(cont, strings.Trim(line, `\`))
	}
	if cont != nil {
		joined = append(joined, logicalLine{primary, strings.Join(cont, "")})
	}

	out := joined[:0]
	for _, ll := range joined {
		text := pyStrip(stripComment(ll.text))
		if text == "" {
			continue
		}
		for _, m := range envVarRe.FindAllStringSubmatch(text, -1) {
			v, ok := p.lookup(m[1])
			if !ok || v == "" {
				continue
			}
			text = strings.ReplaceAll(text, m[0], v)
		}
		out = append(out, logicalLine{ll.num, text})
	}
	return out
}

// breakArgsOptions is pip's break_args_options: words up to the first one
// starting with "-" are the requirement, the rest are options.
func breakArgsOptions(line string) (args, options string) {
	tokens := strings.Split(line, " ")
	i := 0
	for i < len(tokens) && !strings.HasPrefix(tokens[i], "-") {
		i++
	}
	return strings.Join(tokens[:i], " "), strings.Join(tokens[i:], " ")
}

func (p *fileParser) handleLine(name string, ll logicalLine, constraint bool) error {
	lineErr := func(err error, format string, args ...any) error {
		return p.fileErr(name, ll.num, err, format, args...)
	}
	args, optStr := breakArgsOptions(ll.text)
	words, err := shlexSplit(optStr)
	if err != nil {
		return lineErr(ErrInvalidFile, "could not split options %q: %v", optStr, err)
	}
	o, err := parseLineOptions(words, p.fc)
	if err != nil {
		return lineErr(ErrInvalidFile, "invalid line %q: %v", ll.text, err)
	}

	switch {
	case args != "":
		e, err := p.requirementEntry(args, o, name, ll.num, constraint)
		if err != nil {
			return err
		}
		p.out.Entries = append(p.out.Entries, e)
		return nil
	case len(o.editables) > 0:
		e, err := p.editableEntry(o.editables[0], o, name, ll.num, constraint)
		if err != nil {
			return err
		}
		p.out.Entries = append(p.out.Entries, e)
		return nil
	case len(o.requirements) > 0 || len(o.constraints) > 0:
		child, nested := "", false
		if len(o.requirements) > 0 {
			child = o.requirements[0]
		} else {
			child, nested = o.constraints[0], true
		}
		// As pip: a child of a URL is resolved against it, a relative
		// path against the including file's directory.
		if parentURL(name) {
			child = urlJoin(name, child)
		} else if !parentURL(child) {
			child = pyJoin(pyDirname(name), child)
		}
		if scheme, _, upath, _, _ := pyURLSplit(child); scheme == "file" {
			return p.parse(child, pyUnquote(upath), nested, lineErr)
		}
		return p.parse(child, child, nested, lineErr)
	}
	p.optionLine(name, o)
	return nil
}

func isHTTPURL(s string) bool {
	scheme, _, _, _, _ := pyURLSplit(s)
	return scheme == "http" || scheme == "https"
}

// maxRemoteFile bounds what is read from a requirements-file URL.
const maxRemoteFile = 32 << 20

// fetch downloads a requirements file given or included by URL, as pip's
// session.get does; without FileOptions.HTTPClient it refuses.
func (p *fileParser) fetch(u string) ([]byte, error) {
	if p.client == nil {
		return nil, fmt.Errorf("%s is a remote requirements file and FileOptions.HTTPClient is nil", u)
	}
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteFile+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxRemoteFile {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", u, maxRemoteFile)
	}
	return data, nil
}

// parentURL is pip's SCHEME_RE test: the name is an http, https or file URL.
func parentURL(name string) bool {
	i := strings.IndexByte(name, ':')
	if i < 0 {
		return false
	}
	switch strings.ToLower(name[:i]) {
	case "http", "https", "file":
		return true
	}
	return false
}

// urlJoin resolves ref against base like urllib.parse.urljoin for the
// hierarchical URLs requirements files use.
func urlJoin(base, ref string) string {
	b, err1 := url.Parse(base)
	r, err2 := url.Parse(ref)
	if err1 != nil || err2 != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

// optionLine is pip's handle_option_line applied to the finder's state.
func (p *fileParser) optionLine(name string, o *lineOpts) {
	f := &p.out
	if o.requireHashes {
		f.RequireHashes = true
	}
	if o.noIndex {
		f.NoIndex = true
		p.indexURLs, p.haveIndex = nil, false
	}
	if o.indexURL != nil && !f.NoIndex {
		p.indexURLs, p.haveIndex = []string{*o.indexURL}, true
	}
	if len(o.extraIndexURLs) > 0 && !f.NoIndex {
		p.indexURLs = append(p.indexURLs, o.extraIndexURLs...)
	}
	if len(o.findLinks) > 0 {
		// pip takes only the first -f of a line, and prefers a path
		// relative to the requirements file when one exists there.
		v := o.findLinks[0]
		reqDir := pyDirname(pyAbsPath(p.workDir, name))
		rel := pyJoin(reqDir, v)
		if _, err := os.Stat(rel); err == nil {
			v = rel
		}
		f.FindLinks = append(f.FindLinks, v)
	}
	if o.pre {
		f.Pre = true
	}
	if o.prefer {
		f.PreferBinary = true
	}
	f.TrustedHosts = append(f.TrustedHosts, o.trustedHosts...)
}

func (p *fileParser) baseEntry(text, file string, line int, constraint bool) Entry {
	return Entry{Requirement: text, Extras: []string{}, Hashes: []string{}, File: file, Line: line, Constraint: constraint}
}

// requirementEntry is pip's install_req_from_line for a non-editable line.
func (p *fileParser) requirementEntry(text string, o *lineOpts, file string, line int, constraint bool) (Entry, error) {
	e := p.baseEntry(text, file, line, constraint)
	reqErr := func(err error, format string, args ...any) error {
		return &ParseError{File: file, Line: line, Input: text, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	e.Hashes = append(e.Hashes, o.hashes...)
	e.GlobalOptions = o.globalOptions
	e.ConfigSettings = o.configSettings

	name := text
	isURL := isPipURL(name)
	sep := ";"
	if isURL {
		sep = "; "
	}
	var marker *Marker
	if before, after, ok := strings.Cut(name, sep); ok {
		name = before
		if ms := pyStrip(after); ms != "" {
			m, err := ParseMarker(ms)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					pe.File, pe.Line = file, line
					return e, pe
				}
				return e, err
			}
			marker = &m
		}
	}
	name = pyStrip(name)

	var link, reqString, pathExtras string
	haveReqString := false
	if isPipURL(name) {
		link = name
	} else {
		path := pyAbsPath(p.workDir, name)
		pth, extras := stripExtras(path)
		pathExtras = extras
		u, err := urlFromPath(pth, name)
		if err != nil {
			return e, reqErr(ErrInvalidRequirement, "%v", err)
		}
		link = u
	}
	if link != "" {
		scheme, _, upath, _, _ := pyURLSplit(link)
		if scheme == "file" && strings.Contains(link, "../") {
			link = pathToURL(pyAbsPath(p.workDir, pyUnquote(upath)))
		}
		if fn := linkFilename(link); linkExt(link) == ".whl" {
			m := wheelFilenameRe.FindStringSubmatch(fn)
			if m == nil {
				return e, reqErr(ErrInvalidRequirement, "%s is not a valid wheel filename", fn)
			}
			reqString = strings.ReplaceAll(m[1], "_", "-") + "==" + strings.ReplaceAll(m[2], "_", "-")
			haveReqString = true
		} else if egg, ok := eggFragment(link); ok {
			reqString, haveReqString = egg, true
		}
	} else {
		reqString, haveReqString = name, true
	}

	var req *Requirement
	if haveReqString {
		r, err := ParseRequirement(reqString)
		if err != nil {
			return e, fileParseError(err, file, line)
		}
		req = &r
	}
	if link == "" && req != nil && req.URL != "" {
		link = req.URL
	}
	var extras []string
	if pathExtras != "" {
		pe, err := convertExtras(pathExtras)
		if err != nil {
			return e, fileParseError(err, file, line)
		}
		extras = pe
	} else if req != nil {
		extras = req.Extras
	}
	if marker == nil && req != nil {
		marker = req.Marker
	}
	p.fill(&e, req, link, extras, marker)
	return e, nil
}

// editableEntry is pip's install_req_from_editable.
func (p *fileParser) editableEntry(text string, o *lineOpts, file string, line int, constraint bool) (Entry, error) {
	e := p.baseEntry(text, file, line, constraint)
	e.Editable = true
	e.ConfigSettings = o.configSettings
	reqErr := func(format string, args ...any) error {
		return &ParseError{File: file, Line: line, Input: text, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidRequirement}
	}

	u := text
	noExtras, extrasStr := stripExtras(u)
	var (
		pkgName string
		hasName bool
		extras  []string
	)
	if st, err := os.Stat(pyAbsPath(p.workDir, noExtras)); err == nil && st.IsDir() {
		noExtras = pathToURL(pyAbsPath(p.workDir, noExtras))
	}
	if strings.HasPrefix(strings.ToLower(noExtras), "file:") {
		pkgName, hasName = eggFragment(noExtras)
		u = noExtras
		if extrasStr != "" {
			x, err := convertExtras(extrasStr)
			if err != nil {
				return e, fileParseError(err, file, line)
			}
			extras = x
		}
	} else {
		for _, v := range vcsNames {
			if strings.HasPrefix(strings.ToLower(u), v+":") {
				u = v + "+" + u
				break
			}
		}
		scheme, _, _, _, _ := pyURLSplit(u)
		if _, ok := vcsSchemes[scheme]; !ok {
			return e, reqErr("%s is not a valid editable requirement: it should be a path to a local project or a VCS URL (beginning with bzr+, git+, hg+ or svn+)", text)
		}
		pkgName, hasName = eggFragment(u)
		if !hasName || pkgName == "" {
			return e, reqErr("could not detect requirement name for %q, please specify one with #egg=your_package_name", text)
		}
	}
	var req *Requirement
	if hasName {
		r, err := ParseRequirement(pkgName)
		if err != nil {
			return e, fileParseError(err, file, line)
		}
		req = &r
	}
	if len(extras) == 0 && req != nil {
		extras = req.Extras
	}
	var marker *Marker
	if req != nil {
		marker = req.Marker
	}
	p.fill(&e, req, u, extras, marker)
	return e, nil
}

func fileParseError(err error, file string, line int) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		c := *pe
		c.File, c.Line = file, line
		return &c
	}
	return err
}

func (p *fileParser) fill(e *Entry, req *Requirement, link string, extras []string, marker *Marker) {
	if req != nil {
		r := *req
		r.Marker = marker
		e.Parsed = &r
		e.Name = NormalizeName(req.Name)
		e.Specifier = req.Specifiers.String()
	}
	if len(extras) > 0 {
		n := make([]string, len(extras))
		for i, x := range extras {
			n[i] = NormalizeName(x)
		}
		e.Extras = sortedSet(n)
	}
	if marker != nil {
		e.Marker = marker.String()
	}
	e.URL = link
	if link == "" {
		return
	}
	scheme, _, upath, _, _ := pyURLSplit(link)
	if scheme == "file" {
		e.LocalPath = pyUnquote(upath)
	}
	if v, ok := vcsSchemes[scheme]; ok {
		e.VCS = v
		base, _, _ := strings.Cut(link, "#")
		_, _, vpath, _, _ := pyURLSplit(base)
		if i := strings.LastIndexByte(vpath, '@'); i >= 0 {
			e.Revision = vpath[i+1:]
		}
		if m := subdirectoryRe.FindStringSubmatch(link); m != nil {
			e.Subdirectory = m[1]
		}
	}
}

// isPipURL is pip's is_url: the URL scheme is http, https, file, ftp or a
// VCS scheme.
func isPipURL(s string) bool {
	scheme, _, _, _, _ := pyURLSplit(s)
	switch scheme {
	case "":
		return false
	case "http", "https", "file", "ftp":
		return true
	}
	_, ok := vcsSchemes[scheme]
	return ok
}

// stripExtras is pip's _strip_extras: "path[extra1,extra2]".
func stripExtras(s string) (string, string) {
	if m := stripExtrasRe.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	return s, ""
}

// convertExtras is pip's convert_extras: "[A,b]" → normalized extras.
func convertExtras(s string) ([]string, error) {
	r, err := ParseRequirement("placeholder" + lower(s))
	if err != nil {
		return nil, err
	}
	return r.Extras, nil
}

func eggFragment(link string) (string, bool) {
	m := eggFragmentRe.FindStringSubmatch(link)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func looksLikePath(name string) bool {
	return strings.Contains(name, "/") || strings.HasPrefix(name, ".")
}

// urlFromPath is pip's _get_url_from_path.
func urlFromPath(path, name string) (string, error) {
	if st, err := os.Stat(path); looksLikePath(name) && err == nil && st.IsDir() {
		if isInstallableDir(path) {
			return pathToURL(path), nil
		}
		return "", fmt.Errorf("directory %q is not installable: neither setup.py nor pyproject.toml found", name)
	}
	if !isArchiveFile(path) {
		return "", nil
	}
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return pathToURL(path), nil
	}
	if before, _, ok := strings.Cut(name, "@"); ok && !looksLikePath(before) {
		return "", nil
	}
	return pathToURL(path), nil
}

func isInstallableDir(dir string) bool {
	for _, f := range []string{"pyproject.toml", "setup.py"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// linkFilename is pip's Link.filename.
func linkFilename(link string) string {
	_, netloc, upath, _, _ := pyURLSplit(link)
	p := strings.TrimRight(pyUnquote(upath), "/")
	name := p[strings.LastIndexByte(p, '/')+1:]
	if name == "" {
		if i := strings.LastIndexByte(netloc, '@'); i >= 0 {
			netloc = netloc[i+1:]
		}
		return netloc
	}
	return pyUnquote(name)
}

// linkExt is pip's Link.ext.
func linkExt(link string) string {
	_, _, upath, _, _ := pyURLSplit(link)
	p := strings.TrimRight(pyUnquote(upath), "/")
	_, ext := pipSplitExt(p[strings.LastIndexByte(p, '/')+1:])
	return ext
}
