package lock

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ErrUnhashable is wrapped when a package cannot be expressed in a
// hash-checking requirements file: pip refuses VCS checkouts and local
// directories under --require-hashes.
var ErrUnhashable = errors.New("cannot be pinned by hash")

// ExportOptions tunes ExportRequirements.
type ExportOptions struct {
	// SkipUnhashable leaves VCS and directory packages out (listed in a
	// comment) instead of failing.
	SkipUnhashable bool
	// Header is written as comment lines at the top.
	Header string
}

// ExportRequirements writes l as a pip requirements file in hash-checking
// mode: one "name==version ; marker" line per package followed by a
// --hash option for every wheel, sdist and archive hash pip can check
// (sha256, sha384, sha512). `pip install --require-hashes -r FILE` accepts
// it with any source that serves those files (an index, or --no-index
// --find-links DIR).
func ExportRequirements(w io.Writer, l *Lock, opts ExportOptions) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(opts.Header, "\n"), "\n") {
		if line != "" {
			b.WriteString("# " + line + "\n")
		}
	}
	pkgs := append([]Package(nil), l.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool { return normalize(pkgs[i].Name) < normalize(pkgs[j].Name) })
	var skipped []string
	for _, p := range pkgs {
		if p.VCS != nil || p.Directory != nil {
			if !opts.SkipUnhashable {
				return &Error{Package: p.label(), Err: fmt.Errorf("%w: pip cannot check hashes of a VCS checkout or a directory", ErrUnhashable)}
			}
			skipped = append(skipped, p.label())
			continue
		}
		if p.Version == "" {
			return &Error{Package: p.label(), Err: fmt.Errorf("%w: no version", ErrUnhashable)}
		}
		var hs []string
		add := func(h map[string]string) {
			for alg, v := range h {
				switch alg {
				case "sha256", "sha384", "sha512":
					hs = append(hs, alg+":"+v)
				}
			}
		}
		for _, wh := range p.Wheels {
			add(wh.Hashes)
		}
		if p.Sdist != nil {
			add(p.Sdist.Hashes)
		}
		if p.Archive != nil {
			add(p.Archive.Hashes)
		}
		if len(hs) == 0 {
			return &Error{Package: p.label(), Err: fmt.Errorf("%w: no sha256/sha384/sha512 hash", ErrUnhashable)}
		}
		sort.Strings(hs)
		hs = dedup(hs)
		if p.Archive != nil && p.Archive.URL != "" {
			// A direct-URL archive is not on any index: pip needs the URL.
			b.WriteString(normalize(p.Name) + " @ " + p.Archive.URL)
		} else {
			b.WriteString(normalize(p.Name) + "==" + p.Version)
		}
		if p.Marker != "" {
			b.WriteString(" ; " + p.Marker)
		}
		for _, h := range hs {
			b.WriteString(" \\\n    --hash=" + h)
		}
		b.WriteByte('\n')
	}
	for _, s := range skipped {
		b.WriteString("# not hash-pinnable, install separately: " + s + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
