package venv

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/deploykit/deploykit/internal/lazyregexp"
	"github.com/deploykit/deploykit/requirements"
)

// Wheel rules enforced before anything is unpacked (the binary
// distribution format, packaging.python.org/specifications/binary-distribution-format):
//   - the file name is {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
//     and one of its tags is supported by the interpreter;
//   - every member name is a clean relative path: no leading "/", no ".."
//     or "." element, no backslash, no NUL, no duplicate; no symlinks;
//   - exactly one top-level NAME-VERSION.dist-info directory, whose name
//     starts with the project name, holding WHEEL, METADATA and RECORD;
//   - WHEEL says Wheel-Version 1.x;
//   - RECORD lists every member except RECORD itself and its signatures,
//     with a sha256, sha384 or sha512 digest; members are verified against
//     it while they are unpacked, and their sizes when RECORD gives one.
const (
	maxMetaFile = 16 << 20 // WHEEL, RECORD, entry_points.txt, METADATA read into memory
)

// wheelName is a parsed wheel file name.
type wheelName struct {
	Name, Version, Build string
	Tags                 []string // expanded "py-abi-plat" triples
}

var wheelFileRe = lazyregexp.New(`^([^-]+)-([^-]+)(?:-(\d[^-]*))?-([^-]+)-([^-]+)-([^-]+)\.whl$`)

func parseWheelName(filename string) (wheelName, error) {
	m := wheelFileRe.FindStringSubmatch(filename)
	if m == nil {
		return wheelName{}, fmt.Errorf("%w: file name %q is not NAME-VERSION(-BUILD)-PY-ABI-PLATFORM.whl", ErrBadWheel, filename)
	}
	w := wheelName{Name: m[1], Version: m[2], Build: m[3]}
	for _, py := range strings.Split(m[4], ".") {
		for _, abi := range strings.Split(m[5], ".") {
			for _, plat := range strings.Split(m[6], ".") {
				w.Tags = append(w.Tags, py+"-"+abi+"-"+plat)
			}
		}
	}
	return w, nil
}

// parseHeaders reads RFC 822 style "Key: value" lines (WHEEL, the
// METADATA header). Continuation lines are folded; parsing stops at the
// first empty line (the METADATA body).
func parseHeaders(data []byte) (map[string][]string, error) {
	h := map[string][]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxMetaFile)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation without a header", n)
			}
			vs := h[last]
			vs[len(vs)-1] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("line %d: %q is not \"Key: value\"", n, line)
		}
		last = strings.ToLower(strings.TrimSpace(k))
		h[last] = append(h[last], strings.TrimSpace(v))
	}
	return h, sc.Err()
}

func headerValue(h map[string][]string, k string) string {
	if vs := h[strings.ToLower(k)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// wheelMeta is what the WHEEL file says.
type wheelMeta struct {
	Version       [2]int
	RootIsPurelib bool
	Tags          []string
}

func parseWheelMeta(data []byte) (wheelMeta, error) {
	h, err := parseHeaders(data)
	if err != nil {
		return wheelMeta{}, err
	}
	var m wheelMeta
	v := headerValue(h, "Wheel-Version")
	if v == "" {
		return m, errors.New("no Wheel-Version")
	}
	if _, err := fmt.Sscanf(v, "%d.%d", &m.Version[0], &m.Version[1]); err != nil {
		return m, fmt.Errorf("Wheel-Version %q: %v", v, err)
	}
	if m.Version[0] != 1 {
		return m, fmt.Errorf("Wheel-Version %s is not supported (1.x is)", v)
	}
	m.RootIsPurelib = strings.EqualFold(headerValue(h, "Root-Is-Purelib"), "true")
	m.Tags = h["tag"]
	return m, nil
}

// recordRow is one line of a RECORD file.
type recordRow struct {
	Path, Hash, Size string
}

// parseRecord reads a RECORD file as Python's csv module does (pip reads
// it with csv.reader): comma separated, '"' quoting, any line ending.
func parseRecord(data []byte) ([]recordRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var rows []recordRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 0 || (len(rec) == 1 && rec[0] == "") {
			continue
		}
		row := recordRow{Path: rec[0]}
		if len(rec) > 1 {
			row.Hash = rec[1]
		}
		if len(rec) > 2 {
			row.Size = rec[2]
		}
		if row.Path == "" {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("line %d: empty path", line)
		}
		rows = append(rows, row)
	}
}

// formatRecord writes rows as pip does: Python's csv.writer (excel
// dialect: QUOTE_MINIMAL, "\r\n" line ends).
func formatRecord(rows []recordRow) []byte {
	var b bytes.Buffer
	field := func(s string) {
		if strings.ContainsAny(s, ",\"\r\n") {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(s, `"`, `""`))
			b.WriteByte('"')
			return
		}
		b.WriteString(s)
	}
	for _, r := range rows {
		field(r.Path)
		b.WriteByte(',')
		field(r.Hash)
		b.WriteByte(',')
		field(r.Size)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// entryPoint is one "name = module:attr [extras]" line of entry_points.txt.
type entryPoint struct {
	Group, Name, Value string
}

// parseEntryPoints reads entry_points.txt as importlib.metadata does:
// "[group]" sections of "name = value" lines; blank lines and lines
// starting with '#' or ';' are skipped; later duplicates win.
func parseEntryPoints(data []byte) ([]entryPoint, error) {
	var eps []entryPoint
	group := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: unterminated section %q", i+1, line)
			}
			group = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		if group == "" {
			return nil, fmt.Errorf("line %d: entry point outside a [section]", i+1)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not \"name = value\"", i+1, line)
		}
		eps = append(eps, entryPoint{Group: group, Name: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return eps, nil
}

// scriptSpec is a parsed entry point value, "module:attr.sub [extra]".
type scriptSpec struct {
	Module, Attr string
}

var exportRe = lazyregexp.New(`^([^\[\]:=\s]+(?:\.[^\[\]:=\s]+)*)\s*(?::\s*([^\[\]:=\s]+(?:\.[^\[\]:=\s]+)*))?\s*(?:\[\s*([^\]]*)\])?\s*$`)

func parseScriptSpec(value string) (scriptSpec, error) {
	m := exportRe.FindStringSubmatch(value)
	if m == nil {
		return scriptSpec{}, fmt.Errorf("invalid entry point %q", value)
	}
	if m[2] == "" {
		return scriptSpec{}, fmt.Errorf("invalid script entry point %q: a callable suffix (module:function) is required", value)
	}
	return scriptSpec{Module: m[1], Attr: m[2]}, nil
}

// checkMemberName enforces the member name rules (see the list above).
func checkMemberName(name string) error {
	clean := strings.TrimSuffix(name, "/")
	switch {
	case name == "" || clean == "":
		return errors.New("empty name")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute", ErrUnsafePath)
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("%w: backslash or NUL", ErrUnsafePath)
	case len(clean) >= 2 && clean[1] == ':':
		return fmt.Errorf("%w: drive letter", ErrUnsafePath)
	}
	for _, el := range strings.Split(clean, "/") {
		if el == ".." || el == "." || el == "" {
			return fmt.Errorf("%w: element %q", ErrUnsafePath, el)
		}
	}
	if path.Clean(clean) != clean {
		return fmt.Errorf("%w: not clean", ErrUnsafePath)
	}
	return nil
}

// wheelArchive is an open, checked wheel. Members are streamed from it
// one at a time; only the small metadata files are held in memory.
type wheelArchive struct {
	Path     string
	Filename string
	Name     wheelName
	zr       *zip.ReadCloser
	Files    []*zip.File // regular members, in archive order
	DistInfo string      // "name-1.0.dist-info"
	Meta     wheelMeta
	Record   []recordRow
	byPath   map[string]recordRow
}

func (w *wheelArchive) Close() error { return w.zr.Close() }

func (w *wheelArchive) err(file string, err error) error {
	return &WheelError{Wheel: w.Path, File: file, Err: err}
}

// openWheel opens and checks the wheel at p (file name, member names,
// dist-info, WHEEL, RECORD coverage). Member contents are verified later,
// while they are unpacked.
func openWheel(p string) (_ *wheelArchive, err error) {
	filename := path.Base(strings.ReplaceAll(p, "\\", "/"))
	wn, err := parseWheelName(filename)
	if err != nil {
		return nil, &WheelError{Wheel: p, Err: err}
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, &WheelError{Wheel: p, Err: fmt.Errorf("%w: not a readable zip archive: %v", ErrBadWheel, err)}
	}
	// klauspost's inflate is about twice the standard library's speed, and
	// inflating is the largest part of an install without compilation.
	zr.RegisterDecompressor(zip.Deflate, inflater)
	w := &wheelArchive{Path: p, Filename: filename, Name: wn, zr: zr}
	defer func() {
		if err != nil {
			zr.Close()
		}
	}()
	seen := map[string]bool{}
	infoDirs := map[string]bool{}
	for _, f := range zr.File {
		if err := checkMemberName(f.Name); err != nil {
			return nil, w.err(f.Name, err)
		}
		if seen[f.Name] {
			return nil, w.err(f.Name, fmt.Errorf("%w: duplicate member", ErrBadWheel))
		}
		seen[f.Name] = true
		top, _, _ := strings.Cut(f.Name, "/")
		if strings.HasSuffix(top, ".dist-info") && top != f.Name {
			infoDirs[top] = true
		}
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		mode := f.Mode()
		if mode&fs.ModeSymlink != 0 || (!mode.IsRegular() && mode&fs.ModeType != 0) {
			return nil, w.err(f.Name, fmt.Errorf("%w: not a regular file (%v)", ErrBadWheel, mode))
		}
		w.Files = append(w.Files, f)
	}
	switch len(infoDirs) {
	case 0:
		return nil, w.err("", fmt.Errorf("%w: no .dist-info directory", ErrBadWheel))
	case 1:
	default:
		var names []string
		for d := range infoDirs {
			names = append(names, d)
		}
		return nil, w.err("", fmt.Errorf("%w: several .dist-info directories: %s", ErrBadWheel, strings.Join(names, ", ")))
	}
	for d := range infoDirs {
		w.DistInfo = d
	}
	if !strings.HasPrefix(requirements.NormalizeName(w.DistInfo), requirements.NormalizeName(wn.Name)) {
		return nil, w.err(w.DistInfo, fmt.Errorf("%w: .dist-info directory does not match project %s", ErrBadWheel, wn.Name))
	}
	wheelData, err := w.readSmall(w.DistInfo + "/WHEEL")
	if err != nil {
		return nil, err
	}
	if w.Meta, err = parseWheelMeta(wheelData); err != nil {
		return nil, w.err(w.DistInfo+"/WHEEL", fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	if _, err := w.member(w.DistInfo + "/METADATA"); err != nil {
		return nil, err
	}
	recData, err := w.readSmall(w.DistInfo + "/RECORD")
	if err != nil {
		return nil, err
	}
	if w.Record, err = parseRecord(recData); err != nil {
		return nil, w.err(w.DistInfo+"/RECORD", fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	w.byPath = make(map[string]recordRow, len(w.Record))
	for _, r := range w.Record {
		w.byPath[r.Path] = r
	}
	for _, f := range w.Files {
		if w.isRecordItself(f.Name) {
			continue
		}
		r, ok := w.byPath[f.Name]
		if !ok {
			return nil, w.err(f.Name, fmt.Errorf("%w: not listed in RECORD", ErrBadWheel))
		}
		if _, _, err := parseRecordHash(r.Hash); err != nil {
			return nil, w.err(f.Name, fmt.Errorf("%w: RECORD: %v", ErrBadWheel, err))
		}
	}
	return w, nil
}

func (w *wheelArchive) isRecordItself(name string) bool {
	switch name {
	case w.DistInfo + "/RECORD", w.DistInfo + "/RECORD.jws", w.DistInfo + "/RECORD.p7s":
		return true
	}
	return false
}

func (w *wheelArchive) member(name string) (*zip.File, error) {
	for _, f := range w.Files {
		if f.Name == name {
			return f, nil
		}
	}
	return nil, w.err(name, fmt.Errorf("%w: missing", ErrBadWheel))
}

// readSmall reads a metadata member into memory (bounded).
func (w *wheelArchive) readSmall(name string) ([]byte, error) {
	f, err := w.member(name)
	if err != nil {
		return nil, err
	}
	if f.UncompressedSize64 > maxMetaFile {
		return nil, w.err(name, fmt.Errorf("%w: %d bytes is too large for a metadata file", ErrBadWheel, f.UncompressedSize64))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, w.err(name, fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetaFile+1))
	if err != nil {
		return nil, w.err(name, fmt.Errorf("%w: %v", ErrBadWheel, err))
	}
	return b, nil
}

// inflaters recycles inflate state (its window and tables are ~40 KiB)
// across the thousands of members of an install.
var inflaters sync.Pool

func inflater(r io.Reader) io.ReadCloser {
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		fr.(flate.Resetter).Reset(r, nil)
		return &pooledInflater{fr}
	}
	return &pooledInflater{flate.NewReader(r)}
}

type pooledInflater struct{ io.ReadCloser }

func (p *pooledInflater) Close() error {
	err := p.ReadCloser.Close()
	if p.ReadCloser != nil {
		inflaters.Put(p.ReadCloser)
		p.ReadCloser = nil
	}
	return err
}
