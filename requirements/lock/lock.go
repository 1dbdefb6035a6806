package lock

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Version is the only lock-version this package writes.
const Version = "1.0"

// Lock is a parsed pylock.toml.
type Lock struct {
	LockVersion      string   // "1.0"; Encode writes Version when empty
	Environments     []string // PEP 508 markers the lock is valid for
	RequiresPython   string   // a PEP 440 specifier
	Extras           []string
	DependencyGroups []string
	DefaultGroups    []string
	CreatedBy        string
	Packages         []Package
	// Tool is the [tool] table, kept as decoded so a lock written by
	// another tool round-trips.
	Tool map[string]any

	// Warnings lists things Parse accepted but a reader should know
	// (a newer minor lock-version, unknown keys). Not written.
	Warnings []string
}

// Package is one [[packages]] entry.
type Package struct {
	Name           string
	Version        string // empty for source trees whose version is not pinned
	Marker         string
	RequiresPython string
	Dependencies   []Dependency
	Index          string // the simple-index URL the package came from
	VCS            *VCS
	Directory      *Directory
	Archive        *Archive
	Sdist          *File
	Wheels         []File
	Tool           map[string]any
}

// Dependency names another [[packages]] entry this one depends on.
type Dependency struct {
	Name    string
	Version string
}

// File is a wheel or an sdist.
type File struct {
	Name       string // file name; derived from URL or Path when empty
	URL        string
	Path       string
	UploadTime time.Time // zero when unknown
	Size       int64     // 0 when unknown
	Hashes     map[string]string
}

// Archive is a direct-URL archive of a source tree or wheel.
type Archive struct {
	URL          string
	Path         string
	Size         int64
	UploadTime   time.Time
	Hashes       map[string]string
	Subdirectory string
}

// VCS is a version-control checkout, pinned to CommitID.
type VCS struct {
	Type              string // git, hg, bzr, svn
	URL               string
	Path              string
	RequestedRevision string // branch, tag or revision as the user wrote it
	CommitID          string
	Subdirectory      string
}

// Directory is a local source tree.
type Directory struct {
	Path         string
	Editable     bool
	Subdirectory string
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid pylock.toml")

// ErrLockVersion is wrapped when the lock-version is not one this package
// can read.
var ErrLockVersion = errors.New("unsupported lock-version")

// Error locates a problem in a lock: File may be empty, Package names the
// package entry ("" for top-level keys).
type Error struct {
	File    string
	Package string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Package != "" {
		b.WriteString("package ")
		b.WriteString(e.Package)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// FileName returns the file's name: Name, else the last element of URL
// or Path.
func (f File) FileName() string {
	if f.Name != "" {
		return f.Name
	}
	s := f.URL
	if s == "" {
		s = f.Path
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return path.Base(strings.ReplaceAll(s, "\\", "/"))
}

// Find returns the package named name (PEP 503-normalized comparison), or
// nil.
func (l *Lock) Find(name string) *Package {
	n := normalize(name)
	for i := range l.Packages {
		if normalize(l.Packages[i].Name) == n {
			return &l.Packages[i]
		}
	}
	return nil
}

// Validate checks the rules listed in the package documentation.
func (l *Lock) Validate() error {
	var errs []error
	if l.LockVersion != "" {
		if err := checkLockVersion(l.LockVersion); err != nil {
			errs = append(errs, &Error{Err: err})
		}
	}
	seen := map[string]bool{}
	for _, p := range l.Packages {
		if err := p.validate(); err != nil {
			errs = append(errs, &Error{Package: p.label(), Err: err})
		}
		key := normalize(p.Name) + " " + p.Version + " " + p.Marker
		if seen[key] {
			errs = append(errs, &Error{Package: p.label(), Err: invalid("listed twice")})
		}
		seen[key] = true
	}
	return errors.Join(errs...)
}

func (p Package) label() string {
	if p.Name == "" {
		return "(unnamed)"
	}
	if p.Version == "" {
		return p.Name
	}
	return p.Name + " " + p.Version
}

func (p Package) validate() error {
	if !validName(p.Name) {
		return invalid("name %q is not a valid project name", p.Name)
	}
	sources := 0
	if p.VCS != nil {
		sources++
		if err := p.VCS.validate(); err != nil {
			return err
		}
	}
	if p.Directory != nil {
		sources++
		if p.Directory.Path == "" {
			return invalid("directory has no path")
		}
	}
	if p.Archive != nil {
		sources++
		if p.Archive.URL == "" && p.Archive.Path == "" {
			return invalid("archive has neither url nor path")
		}
		if len(p.Archive.Hashes) == 0 {
			return invalid("archive has no hashes")
		}
	}
	if p.Sdist != nil || len(p.Wheels) > 0 {
		sources++
		if p.Sdist != nil {
			if err := p.Sdist.validate("sdist"); err != nil {
				return err
			}
		}
		for _, w := range p.Wheels {
			if err := w.validate("wheel"); err != nil {
				return err
			}
			if !strings.HasSuffix(w.FileName(), ".whl") {
				return invalid("wheel %q does not end in .whl", w.FileName())
			}
		}
	}
	if sources > 1 {
		return invalid("more than one of vcs, directory, archive, sdist/wheels")
	}
	if sources == 0 {
		return invalid("no source: needs one of vcs, directory, archive, sdist, wheels")
	}
	return nil
}

func (v *VCS) validate() error {
	switch v.Type {
	case "git", "hg", "bzr", "svn":
	default:
		return invalid("vcs type %q is not one of git, hg, bzr, svn", v.Type)
	}
	if v.URL == "" && v.Path == "" {
		return invalid("vcs has neither url nor path")
	}
	if v.CommitID == "" {
		return invalid("vcs has no commit-id")
	}
	return nil
}

func (f File) validate(kind string) error {
	if f.URL == "" && f.Path == "" {
		return invalid("%s %q has neither url nor path", kind, f.Name)
	}
	if len(f.Hashes) == 0 {
		return invalid("%s %q has no hashes", kind, f.FileName())
	}
	for alg, h := range f.Hashes {
		if alg == "" || h == "" {
			return invalid("%s %q has an empty hash", kind, f.FileName())
		}
	}
	return nil
}

func checkLockVersion(v string) error {
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("%w %q (this reader knows %s)", ErrLockVersion, v, Version)
	}
	return nil
}

// Sort puts packages, wheels and dependencies in the canonical order
// Encode writes them in.
func (l *Lock) Sort() {
	sort.SliceStable(l.Packages, func(i, j int) bool {
		a, b := l.Packages[i], l.Packages[j]
		if na, nb := normalize(a.Name), normalize(b.Name); na != nb {
			return na < nb
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Marker < b.Marker
	})
	for i := range l.Packages {
		p := &l.Packages[i]
		sort.SliceStable(p.Wheels, func(i, j int) bool { return p.Wheels[i].FileName() < p.Wheels[j].FileName() })
		sort.SliceStable(p.Dependencies, func(i, j int) bool {
			a, b := p.Dependencies[i], p.Dependencies[j]
			if a.Name != b.Name {
				return normalize(a.Name) < normalize(b.Name)
			}
			return a.Version < b.Version
		})
	}
}

// normalize is PEP 503 name normalization; kept local so lock has no
// dependency for it.
func normalize(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
