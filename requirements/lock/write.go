package lock

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// Encode validates l and writes it as pylock.toml. The output depends only
// on l's content: packages, wheels and dependencies are written in the
// canonical order (see Sort) without modifying l.
func Encode(w io.Writer, l *Lock) error {
	if err := l.Validate(); err != nil {
		return err
	}
	c := *l
	c.Packages = make([]Package, len(l.Packages))
	for i, p := range l.Packages {
		p.Wheels = append([]File(nil), p.Wheels...)
		p.Dependencies = append([]Dependency(nil), p.Dependencies...)
		c.Packages[i] = p
	}
	c.Sort()
	var b bytes.Buffer
	e := &enc{b: &b}
	v := c.LockVersion
	if v == "" {
		v = Version
	}
	e.kv("lock-version", quote(v))
	if len(c.Environments) > 0 {
		e.kv("environments", strList(c.Environments))
	}
	if c.RequiresPython != "" {
		e.kv("requires-python", quote(c.RequiresPython))
	}
	e.kv("extras", strList(c.Extras))
	e.kv("dependency-groups", strList(c.DependencyGroups))
	e.kv("default-groups", strList(c.DefaultGroups))
	e.kv("created-by", quote(c.CreatedBy))
	for _, p := range c.Packages {
		b.WriteString("\n[[packages]]\n")
		e.kv("name", quote(p.Name))
		if p.Version != "" {
			e.kv("version", quote(p.Version))
		}
		if p.Marker != "" {
			e.kv("marker", quote(p.Marker))
		}
		if p.RequiresPython != "" {
			e.kv("requires-python", quote(p.RequiresPython))
		}
		if len(p.Dependencies) > 0 {
			var parts []string
			for _, d := range p.Dependencies {
				s := "{name = " + quote(d.Name)
				if d.Version != "" {
					s += ", version = " + quote(d.Version)
				}
				parts = append(parts, s+"}")
			}
			e.kv("dependencies", "["+strings.Join(parts, ", ")+"]")
		}
		if p.Index != "" {
			e.kv("index", quote(p.Index))
		}
		if v := p.VCS; v != nil {
			b.WriteString("\n[packages.vcs]\n")
			e.kv("type", quote(v.Type))
			e.opt("url", v.URL)
			e.opt("path", v.Path)
			e.opt("requested-revision", v.RequestedRevision)
			e.kv("commit-id", quote(v.CommitID))
			e.opt("subdirectory", v.Subdirectory)
		}
		if d := p.Directory; d != nil {
			b.WriteString("\n[packages.directory]\n")
			e.kv("path", quote(d.Path))
			if d.Editable {
				e.kv("editable", "true")
			}
			e.opt("subdirectory", d.Subdirectory)
		}
		if a := p.Archive; a != nil {
			b.WriteString("\n[packages.archive]\n")
			e.opt("url", a.URL)
			e.opt("path", a.Path)
			if a.Size > 0 {
				e.kv("size", strconv.FormatInt(a.Size, 10))
			}
			if !a.UploadTime.IsZero() {
				e.kv("upload-time", datetime(a.UploadTime))
			}
			e.kv("hashes", hashes(a.Hashes))
			e.opt("subdirectory", a.Subdirectory)
		}
		if s := p.Sdist; s != nil {
			b.WriteString("\n[packages.sdist]\n")
			e.file(*s)
		}
		for _, w := range p.Wheels {
			b.WriteString("\n[[packages.wheels]]\n")
			e.file(w)
		}
		if len(p.Tool) > 0 {
			if err := e.table("packages.tool", p.Tool); err != nil {
				return &Error{Package: p.label(), Err: err}
			}
		}
	}
	if len(c.Tool) > 0 {
		if err := e.table("tool", c.Tool); err != nil {
			return &Error{Err: err}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Marshal is Encode into a byte slice.
func Marshal(l *Lock) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile atomically replaces path with the encoded lock. When encoding
// fails nothing is written.
func WriteFile(path string, l *Lock) error {
	data, err := Marshal(l)
	if err != nil {
		return withFile(err, path)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

type enc struct{ b *bytes.Buffer }

func (e *enc) kv(k, v string) {
	e.b.WriteString(k)
	e.b.WriteString(" = ")
	e.b.WriteString(v)
	e.b.WriteByte('\n')
}

func (e *enc) opt(k, v string) {
	if v != "" {
		e.kv(k, quote(v))
	}
}

func (e *enc) file(f File) {
	e.kv("name", quote(f.FileName()))
	e.opt("url", f.URL)
	e.opt("path", f.Path)
	if !f.UploadTime.IsZero() {
		e.kv("upload-time", datetime(f.UploadTime))
	}
	if f.Size > 0 {
		e.kv("size", strconv.FormatInt(f.Size, 10))
	}
	e.kv("hashes", hashes(f.Hashes))
}

// table writes a free-form tool table through the TOML encoder, which
// sorts map keys and so stays deterministic.
func (e *enc) table(name string, m map[string]any) error {
	var tb bytes.Buffer
	if err := toml.NewEncoder(&tb).Encode(m); err != nil {
		return fmt.Errorf("encoding [%s]: %w", name, err)
	}
	// The encoder writes the table's own keys first, then sub-tables with
	// headers relative to the root; prefix them with name.
	e.b.WriteString("\n[" + name + "]\n")
	for _, line := range strings.SplitAfter(tb.String(), "\n") {
		t := strings.TrimLeft(line, " \t")
		switch {
		case strings.HasPrefix(t, "[["):
			line = "[[" + name + "." + t[2:]
		case strings.HasPrefix(t, "["):
			line = "[" + name + "." + t[1:]
		}
		e.b.WriteString(line)
	}
	return nil
}

func datetime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

func hashes(h map[string]string) string {
	algs := make([]string, 0, len(h))
	for a := range h {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	parts := make([]string, len(algs))
	for i, a := range algs {
		parts[i] = bareKey(a) + " = " + quote(h[a])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func bareKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

func strList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = quote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// quote writes a TOML basic string. Markers contain double quotes more
// often than single ones, so a literal string is used when it needs no
// escaping, which keeps the file readable.
func quote(s string) string {
	literalOK := !strings.ContainsAny(s, "'\n\r")
	if literalOK {
		for _, r := range s {
			if r < 0x20 && r != '\t' || r == 0x7f {
				literalOK = false
				break
			}
		}
	}
	if literalOK {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ReadOrEmpty reads path, returning (nil, nil) when it does not exist —
// the usual start of "lock, preferring what was locked before".
func ReadOrEmpty(path string) (*Lock, error) {
	l, err := ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return l, nil
}
