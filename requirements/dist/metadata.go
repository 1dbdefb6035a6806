package dist

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Sentinel errors for core metadata; *MetadataError wraps them.
var (
	ErrInvalidMetadata            = errors.New("invalid core metadata")
	ErrMissingField               = errors.New("required metadata field missing")
	ErrUnsupportedMetadataVersion = errors.New("unsupported metadata version")
	ErrNoMetadata                 = errors.New("no metadata file in distribution")
)

// MetadataError is a METADATA/PKG-INFO problem, with the file (when known),
// the 1-based line (0 when not about one line) and the field.
type MetadataError struct {
	File  string
	Line  int
	Field string
	Msg   string
	Err   error
}

func (e *MetadataError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *MetadataError) Unwrap() error { return e.Err }

// Header is one metadata field as written; Line is where it starts.
type Header struct {
	Name  string
	Value string
	Line  int
}

// Metadata is a distribution's core metadata (PEP 241, 314, 345, 566,
// 643, 685, 639: metadata versions 1.0 to 2.4). Values are kept as
// written; the methods parse them.
type Metadata struct {
	MetadataVersion string
	Name            string
	Version         string
	Summary         string
	RequiresDist    []string // PEP 508 strings, as written
	RequiresPython  string
	ProvidesExtra   []string
	Dynamic         []string // PEP 643
	// Description is the message body, else the Description field, as
	// packaging.metadata.parse_email gives it (continuation lines kept
	// verbatim); DescriptionText undoes the old field's indentation.
	Description            string
	DescriptionContentType string
	Headers                []Header // every field, in order
	File                   string   // what ParseMetadata was told the file is

	descriptionFromField bool
}

// DescriptionText is Description with the "        |" or 8-space
// indentation that distutils and setuptools put on continuation lines of
// a Description field removed (a body is returned as it is).
func (m *Metadata) DescriptionText() string {
	if !m.descriptionFromField {
		return m.Description
	}
	return unfoldDescription(strings.Split(m.Description, "\n"))
}

var multipleUse = map[string]bool{
	"classifier": true, "requires-dist": true, "provides-extra": true, "dynamic": true,
	"project-url": true, "platform": true, "supported-platform": true, "requires-external": true,
	"provides-dist": true, "obsoletes-dist": true, "license-file": true,
	"requires": true, "provides": true, "obsoletes": true,
}

// Get returns the first value of a field (case-insensitive name).
func (m *Metadata) Get(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// GetAll returns every value of a field, in order.
func (m *Metadata) GetAll(name string) []string {
	var out []string
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

// ParsedVersion parses Version.
func (m *Metadata) ParsedVersion() (pep440.Version, error) { return pep440.Parse(m.Version) }

// Requirements parses every Requires-Dist entry (PEP 508).
func (m *Metadata) Requirements() ([]requirements.Requirement, error) {
	out := make([]requirements.Requirement, 0, len(m.RequiresDist))
	var errs []error
	for _, s := range m.RequiresDist {
		r, err := requirements.ParseRequirement(s)
		if err != nil {
			errs = append(errs, &MetadataError{File: m.File, Line: m.fieldLine("Requires-Dist", s), Field: "Requires-Dist", Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidMetadata, err)})
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func (m *Metadata) fieldLine(name, value string) int {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) && h.Value == value {
			return h.Line
		}
	}
	return 0
}

// PythonSpecifiers parses Requires-Python ("" is the empty set).
func (m *Metadata) PythonSpecifiers() (pep440.Specifiers, error) {
	return pep440.ParseSpecifiers(m.RequiresPython)
}

// Extras returns Provides-Extra normalized (PEP 685), in order.
func (m *Metadata) Extras() []string {
	out := make([]string, len(m.ProvidesExtra))
	for i, e := range m.ProvidesExtra {
		out[i] = requirements.NormalizeName(e)
	}
	return out
}

func isFieldNameByte(c byte) bool {
	return c > ' ' && c < 127 && c != ':'
}

// unfoldDescription undoes the "        |" indentation setuptools and
// distutils put on continuation lines of a Description field.
func unfoldDescription(lines []string) string {
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "        |"):
			l = l[9:]
		case strings.HasPrefix(l, "       |"):
			l = l[8:]
		case strings.HasPrefix(l, "        "):
			l = l[8:]
		default:
			l = strings.TrimLeft(l, " \t")
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// ParseMetadata parses METADATA or PKG-INFO in the RFC 822 style the core
// metadata specification uses: "Name: value" fields, continuation lines
// starting with whitespace, and after the first blank line the
// description body. The input must be UTF-8. file only labels errors.
// Metadata-Version, Name and Version are required; Name must be a valid
// project name and Version a PEP 440 version; Dynamic (2.2+) must not name
// Name, Version or Metadata-Version.
func ParseMetadata(file string, data []byte) (*Metadata, error) {
	fail := func(line int, field, msg string, err error) (*Metadata, error) {
		return nil, &MetadataError{File: file, Line: line, Field: field, Msg: msg, Err: err}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:invalidUTF8At(data)], []byte("\n"))
		return fail(line, "", "not valid UTF-8", ErrInvalidMetadata)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(text, "\n")
	m := &Metadata{File: file}
	i := 0
	var curName string
	var curLines []string
	curLine := 0
	flush := func() {
		if curName == "" {
			return
		}
		// As Python's email parser (compat32) does: continuation lines are
		// kept verbatim, only the line breaks are normalized to "\n".
		m.Headers = append(m.Headers, Header{Name: curName, Value: strings.Join(curLines, "\n"), Line: curLine})
		curName, curLines = "", nil
	}
	body := -1
	for ; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			body = i + 1
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			if curName == "" {
				return fail(i+1, "", "continuation line before any field", ErrInvalidMetadata)
			}
			curLines = append(curLines, l)
			continue
		}
		colon := strings.IndexByte(l, ':')
		valid := colon > 0
		for k := 0; valid && k < colon; k++ {
			valid = isFieldNameByte(l[k])
		}
		if !valid {
			// As Python's email parser does, a line that is not a field
			// starts the body.
			body = i
			break
		}
		flush()
		curName = l[:colon]
		curLines = []string{strings.TrimLeft(l[colon+1:], " \t")}
		curLine = i + 1
	}
	flush()
	if body >= 0 && body <= len(lines) {
		m.Description = strings.Join(lines[body:], "\n")
	}
	seen := map[string]int{}
	for _, h := range m.Headers {
		key := strings.ToLower(h.Name)
		if prev, dup := seen[key]; dup && !multipleUse[key] && key != "description" {
			return fail(h.Line, h.Name, fmt.Sprintf("given twice (first on line %d)", prev), ErrInvalidMetadata)
		}
		seen[key] = h.Line
		switch key {
		case "metadata-version":
			m.MetadataVersion = h.Value
		case "name":
			m.Name = h.Value
		case "version":
			m.Version = h.Value
		case "summary":
			m.Summary = h.Value
		case "requires-dist":
			m.RequiresDist = append(m.RequiresDist, h.Value)
		case "requires-python":
			m.RequiresPython = h.Value
		case "provides-extra":
			m.ProvidesExtra = append(m.ProvidesExtra, h.Value)
		case "dynamic":
			m.Dynamic = append(m.Dynamic, h.Value)
		case "description":
			if strings.TrimSpace(m.Description) == "" {
				m.Description = h.Value
				m.descriptionFromField = true
			}
		case "description-content-type":
			m.DescriptionContentType = h.Value
		}
	}
	line := func(field string) int { return seen[strings.ToLower(field)] }
	for _, f := range []struct{ name, v string }{{"Metadata-Version", m.MetadataVersion}, {"Name", m.Name}, {"Version", m.Version}} {
		if f.v == "" {
			return fail(line(f.name), f.name, "required field is missing or empty", ErrMissingField)
		}
	}
	mv, err := pep440.Parse(m.MetadataVersion)
	if err != nil || mv.Compare(pep440.MustParse("3")) >= 0 || !knownMetadataVersion(m.MetadataVersion) && mv.Compare(pep440.MustParse("2.4")) < 0 {
		return fail(line("Metadata-Version"), "Metadata-Version", fmt.Sprintf("%q is not a supported version (1.0, 1.1, 1.2, 2.1-2.4)", m.MetadataVersion), ErrUnsupportedMetadataVersion)
	}
	if !requirements.ValidName(m.Name) {
		return fail(line("Name"), "Name", fmt.Sprintf("%q is not a valid project name", m.Name), ErrInvalidMetadata)
	}
	if _, err := pep440.Parse(m.Version); err != nil {
		return fail(line("Version"), "Version", err.Error(), fmt.Errorf("%w: %w", ErrInvalidMetadata, err))
	}
	for _, d := range m.Dynamic {
		switch strings.ToLower(d) {
		case "name", "version", "metadata-version":
			return fail(line("Dynamic"), "Dynamic", fmt.Sprintf("%s cannot be dynamic (PEP 643)", d), ErrInvalidMetadata)
		}
	}
	return m, nil
}

func knownMetadataVersion(v string) bool {
	switch v {
	case "1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4":
		return true
	}
	return false
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// maxMetadataSize bounds what is read from an archive member.
const maxMetadataSize = 16 << 20

// ReadWheelMetadata reads {name}-{version}.dist-info/METADATA from a wheel
// file. The .dist-info directory must be at the archive root and unique
// (PEP 427).
func ReadWheelMetadata(ctx context.Context, wheelPath string) (*Metadata, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(wheelPath)
	if err != nil {
		return nil, &MetadataError{File: wheelPath, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidMetadata, err)}
	}
	defer zr.Close()
	var found *zip.File
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base != "METADATA" || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		if found != nil {
			return nil, &MetadataError{File: wheelPath, Msg: fmt.Sprintf("more than one .dist-info directory (%s, %s)", found.Name, f.Name), Err: ErrInvalidMetadata}
		}
		found = f
	}
	if found == nil {
		return nil, &MetadataError{File: wheelPath, Msg: "no *.dist-info/METADATA", Err: ErrNoMetadata}
	}
	rc, err := found.Open()
	if err != nil {
		return nil, &MetadataError{File: wheelPath, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidMetadata, err)}
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return nil, &MetadataError{File: wheelPath + "!" + found.Name, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalidMetadata, err)}
	}
	if len(data) > maxMetadataSize {
		return nil, &MetadataError{File: wheelPath + "!" + found.Name, Msg: "larger than 16 MiB", Err: ErrInvalidMetadata}
	}
	return ParseMetadata(wheelPath+"!"+found.Name, data)
}
