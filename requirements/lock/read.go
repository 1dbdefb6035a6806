package lock

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

type rawLock struct {
	LockVersion      *string        `toml:"lock-version"`
	Environments     []string       `toml:"environments"`
	RequiresPython   string         `toml:"requires-python"`
	Extras           []string       `toml:"extras"`
	DependencyGroups []string       `toml:"dependency-groups"`
	DefaultGroups    []string       `toml:"default-groups"`
	CreatedBy        *string        `toml:"created-by"`
	Packages         []rawPackage   `toml:"packages"`
	Tool             map[string]any `toml:"tool"`
}

type rawPackage struct {
	Name                  string           `toml:"name"`
	Version               string           `toml:"version"`
	Marker                string           `toml:"marker"`
	RequiresPython        string           `toml:"requires-python"`
	Dependencies          []map[string]any `toml:"dependencies"`
	Index                 string           `toml:"index"`
	VCS                   *rawVCS          `toml:"vcs"`
	Directory             *rawDirectory    `toml:"directory"`
	Archive               *rawArchive      `toml:"archive"`
	Sdist                 *rawFile         `toml:"sdist"`
	Wheels                []rawFile        `toml:"wheels"`
	AttestationIdentities []map[string]any `toml:"attestation-identities"`
	Tool                  map[string]any   `toml:"tool"`
}

type rawFile struct {
	Name       string            `toml:"name"`
	URL        string            `toml:"url"`
	Path       string            `toml:"path"`
	UploadTime *time.Time        `toml:"upload-time"`
	Size       int64             `toml:"size"`
	Hashes     map[string]string `toml:"hashes"`
}

type rawArchive struct {
	URL          string            `toml:"url"`
	Path         string            `toml:"path"`
	Size         int64             `toml:"size"`
	UploadTime   *time.Time        `toml:"upload-time"`
	Hashes       map[string]string `toml:"hashes"`
	Subdirectory string            `toml:"subdirectory"`
}

type rawVCS struct {
	Type              string `toml:"type"`
	URL               string `toml:"url"`
	Path              string `toml:"path"`
	RequestedRevision string `toml:"requested-revision"`
	CommitID          string `toml:"commit-id"`
	Subdirectory      string `toml:"subdirectory"`
}

type rawDirectory struct {
	Path         string `toml:"path"`
	Editable     bool   `toml:"editable"`
	Subdirectory string `toml:"subdirectory"`
}

// ReadFile parses and validates the pylock.toml at path. Errors name the
// file.
func ReadFile(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, withFile(err, path)
	}
	return l, nil
}

func withFile(err error, file string) error {
	if e, ok := err.(*Error); ok {
		e.File = file
		return e
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if le, ok := e.(*Error); ok {
				le.File = file
			}
		}
		return err
	}
	return &Error{File: file, Err: err}
}

// Parse decodes and validates a pylock.toml document.
func Parse(data []byte) (*Lock, error) {
	var raw rawLock
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
	}
	if raw.LockVersion == nil {
		return nil, &Error{Err: invalid("lock-version is missing")}
	}
	if raw.CreatedBy == nil {
		return nil, &Error{Err: invalid("created-by is missing")}
	}
	if err := checkLockVersion(*raw.LockVersion); err != nil {
		return nil, &Error{Err: err}
	}
	l := &Lock{
		LockVersion:      *raw.LockVersion,
		Environments:     raw.Environments,
		RequiresPython:   raw.RequiresPython,
		Extras:           raw.Extras,
		DependencyGroups: raw.DependencyGroups,
		DefaultGroups:    raw.DefaultGroups,
		CreatedBy:        *raw.CreatedBy,
		Tool:             raw.Tool,
	}
	if l.LockVersion != Version {
		l.Warnings = append(l.Warnings, fmt.Sprintf("lock-version %q is newer than %q; unknown keys are ignored", l.LockVersion, Version))
	}
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "tool" || len(k) > 1 && k[0] == "packages" && k[1] == "tool" {
			continue
		}
		l.Warnings = append(l.Warnings, "unknown key "+k.String())
	}
	for i, rp := range raw.Packages {
		p := Package{
			Name:           rp.Name,
			Version:        rp.Version,
			Marker:         rp.Marker,
			RequiresPython: rp.RequiresPython,
			Index:          rp.Index,
			Tool:           rp.Tool,
		}
		for _, d := range rp.Dependencies {
			var dep Dependency
			if s, ok := d["name"].(string); ok {
				dep.Name = s
			}
			if s, ok := d["version"].(string); ok {
				dep.Version = s
			}
			if dep.Name == "" {
				return nil, &Error{Package: p.label(), Err: invalid("packages[%d]: dependency without a name", i)}
			}
			p.Dependencies = append(p.Dependencies, dep)
		}
		if v := rp.VCS; v != nil {
			p.VCS = &VCS{Type: v.Type, URL: v.URL, Path: v.Path, RequestedRevision: v.RequestedRevision, CommitID: v.CommitID, Subdirectory: v.Subdirectory}
		}
		if d := rp.Directory; d != nil {
			p.Directory = &Directory{Path: d.Path, Editable: d.Editable, Subdirectory: d.Subdirectory}
		}
		if a := rp.Archive; a != nil {
			p.Archive = &Archive{URL: a.URL, Path: a.Path, Size: a.Size, UploadTime: timeOf(a.UploadTime), Hashes: a.Hashes, Subdirectory: a.Subdirectory}
		}
		if s := rp.Sdist; s != nil {
			f := fileOf(*s)
			p.Sdist = &f
		}
		for _, w := range rp.Wheels {
			p.Wheels = append(p.Wheels, fileOf(w))
		}
		l.Packages = append(l.Packages, p)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func fileOf(r rawFile) File {
	return File{Name: r.Name, URL: r.URL, Path: r.Path, UploadTime: timeOf(r.UploadTime), Size: r.Size, Hashes: r.Hashes}
}
