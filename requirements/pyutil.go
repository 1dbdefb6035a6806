package requirements

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Small re-implementations of the Python standard-library behaviour pip's
// requirements-file parser relies on, so that line numbers, paths and URLs
// come out exactly as pip computes them.

// isPySpace is str.isspace for one rune.
func isPySpace(r rune) bool {
	switch {
	case r >= '\t' && r <= '\r', r >= 0x1c && r <= 0x20, r == 0x85, r == 0xa0,
		r == 0x1680, r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029,
		r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// pyStrip is str.strip() with no argument.
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// pySplitLines is str.splitlines(): it breaks on \n, \r, \r\n, \v, \f,
// \x1c, \x1d, \x1e, \x85, \u2028 and \u2029, and drops a final empty line.
func pySplitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			i += size
			start = i
			continue
		case '\r':
			lines = append(lines, s[start:i])
			i += size
			if i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			continue
		}
		i += size
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// pyURLSplit is urllib.parse.urlsplit (Python 3.12+), returning scheme
// (lower-cased), netloc, path, query and fragment.
func pyURLSplit(u string) (scheme, netloc, path, query, fragment string) {
	u = strings.TrimLeft(u, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	u = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(u)
	if i := strings.IndexByte(u, ':'); i > 0 && isSchemeStart(u[0]) {
		ok := true
		for j := 1; j < i; j++ {
			c := u[j]
			if !(isAlnumASCII(c) || c == '+' || c == '-' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			scheme = strings.ToLower(u[:i])
			u = u[i+1:]
		}
	}
	if strings.HasPrefix(u, "//") {
		rest := u[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		netloc, u = rest[:end], rest[end:]
	}
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u, fragment = u[:i], u[i+1:]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, query = u[:i], u[i+1:]
	}
	return scheme, netloc, u, query, fragment
}

func isSchemeStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// pyUnquote is urllib.parse.unquote: %XX sequences are decoded as UTF-8,
// invalid sequences replaced by U+FFFD, malformed escapes kept.
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var raw []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := hexVal(s[i+1])
			l, ok2 := hexVal(s[i+2])
			if ok1 && ok2 {
				raw = append(raw, byte(h<<4|l))
				i += 2
				continue
			}
		}
		raw = append(raw, s[i])
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

// pyQuote is urllib.parse.quote(s, safe="/").
func pyQuote(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnumASCII(c) || c == '_' || c == '.' || c == '-' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// pyNormPath is posixpath.normpath: like filepath.Clean, except that
// exactly two leading slashes are kept.
func pyNormPath(p string) string {
	if p == "" {
		return "."
	}
	c := filepath.Clean(p)
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		return "/" + c
	}
	return c
}

// pyAbsPath is os.path.abspath relative to dir (the working directory).
func pyAbsPath(dir, p string) string {
	if !strings.HasPrefix(p, "/") {
		p = pyJoin(dir, p)
	}
	return pyNormPath(p)
}

// pyJoin is posixpath.join for two components (no cleaning).
func pyJoin(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/"), a == "":
		return b
	case strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

// pyDirname is posixpath.dirname.
func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/') + 1
	head := p[:i]
	if head != "" && strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

// pathToURL is pip's path_to_url for an absolute, normalized path.
func pathToURL(abs string) string { return "file://" + pyQuote(abs) }

// pipSplitExt is pip's splitext: posixpath.splitext, taking ".tar" along.
func pipSplitExt(p string) (base, ext string) {
	base, ext = pySplitExt(p)
	if strings.HasSuffix(strings.ToLower(base), ".tar") {
		ext = base[len(base)-4:] + ext
		base = base[:len(base)-4]
	}
	return base, ext
}

// pySplitExt is posixpath.splitext: leading dots of the file name do not
// start an extension.
func pySplitExt(p string) (string, string) {
	slash := strings.LastIndexByte(p, '/')
	dot := strings.LastIndexByte(p, '.')
	if dot > slash {
		fi := slash + 1
		for fi < dot {
			if p[fi] != '.' {
				return p[:dot], p[dot:]
			}
			fi++
		}
	}
	return p, ""
}

var archiveExtensions = map[string]bool{
	".zip": true, ".whl": true,
	".tar.bz2": true, ".tbz": true,
	".tar.gz": true, ".tgz": true, ".tar": true,
	".tar.xz": true, ".txz": true, ".tlz": true, ".tar.lz": true, ".tar.lzma": true,
}

// isArchiveFile is pip's is_archive_file.
func isArchiveFile(name string) bool {
	_, ext := pipSplitExt(name)
	return archiveExtensions[strings.ToLower(ext)]
}
