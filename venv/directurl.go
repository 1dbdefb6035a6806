package venv

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

// DirectURL is the PEP 610 record (direct_url.json) of a distribution
// installed from a URL, a VCS or a local directory/archive rather than by
// name from an index. Exactly one of the kinds applies: VCS when VCS is
// set, a directory when Dir is set, else an archive.
type DirectURL struct {
	URL          string // file:///…/x.whl, https://…, git+https://… without the fragment
	Subdirectory string

	// archive_info: the archive's sha256 (hex), when known.
	ArchiveSHA256 string

	// vcs_info
	VCS               string // "git", "hg", "bzr", "svn"
	CommitID          string
	RequestedRevision string

	// dir_info
	Dir      bool
	Editable bool
}

// JSON renders the record as pip does (json.dumps with sorted keys and
// Python's default separators), so the file is byte-identical to pip's.
func (d *DirectURL) JSON() []byte {
	top := map[string]any{"url": d.URL}
	switch {
	case d.VCS != "":
		vi := map[string]any{"vcs": d.VCS, "commit_id": d.CommitID}
		if d.RequestedRevision != "" {
			vi["requested_revision"] = d.RequestedRevision
		}
		top["vcs_info"] = vi
	case d.Dir:
		di := map[string]any{}
		if d.Editable {
			di["editable"] = true
		}
		top["dir_info"] = di
	default:
		ai := map[string]any{}
		if d.ArchiveSHA256 != "" {
			ai["hash"] = "sha256=" + d.ArchiveSHA256
			ai["hashes"] = map[string]any{"sha256": d.ArchiveSHA256}
		}
		top["archive_info"] = ai
	}
	if d.Subdirectory != "" {
		top["subdirectory"] = d.Subdirectory
	}
	var b strings.Builder
	pyJSON(&b, top)
	return []byte(b.String())
}

// pyJSON writes v as Python's json.dumps(v, sort_keys=True).
func pyJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			pyJSONString(b, k)
			b.WriteString(": ")
			pyJSON(b, v[k])
		}
		b.WriteByte('}')
	case string:
		pyJSONString(b, v)
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	}
}

func pyJSONString(b *strings.Builder, s string) {
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
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case r < 0x80:
				b.WriteRune(r)
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
}
