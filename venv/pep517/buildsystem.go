package pep517

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Legacy defaults, as pip uses them for a project without a
// [build-system] table (PEP 517 "source trees without pyproject.toml").
const (
	LegacyBackend  = "setuptools.build_meta:__legacy__"
	LegacyRequires = "setuptools>=40.8.0"
)

// BuildSystem is a source tree's [build-system] table (PEP 518, PEP 517).
type BuildSystem struct {
	Requires     []string // PEP 508 requirements of the build environment
	BuildBackend string   // "module.path:object"
	BackendPath  []string // in-tree backend directories, relative to the tree
	Legacy       bool     // no [build-system]: setuptools' legacy backend
	ProjectName  string   // [project].name, when given
}

// ReadBuildSystem reads srcDir/pyproject.toml. Without one (or without a
// [build-system] table) a tree with setup.py gets the setuptools legacy
// backend; a [build-system] without build-backend also does, with its own
// requires. backend-path entries must stay inside the tree.
func ReadBuildSystem(srcDir string) (BuildSystem, error) {
	pyproject := filepath.Join(srcDir, "pyproject.toml")
	var doc struct {
		BuildSystem *struct {
			Requires     *[]string `toml:"requires"`
			BuildBackend string    `toml:"build-backend"`
			BackendPath  []string  `toml:"backend-path"`
		} `toml:"build-system"`
		Project struct {
			Name string `toml:"name"`
		} `toml:"project"`
	}
	_, err := toml.DecodeFile(pyproject, &doc)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return BuildSystem{}, &ProjectError{Dir: srcDir, Err: fmt.Errorf("%w: %s: %w", ErrInvalidProject, pyproject, err)}
	}
	bs := BuildSystem{ProjectName: doc.Project.Name}
	if doc.BuildSystem == nil {
		if _, err := os.Stat(filepath.Join(srcDir, "setup.py")); err != nil {
			if _, perr := os.Stat(pyproject); perr != nil {
				return BuildSystem{}, &ProjectError{Dir: srcDir, Err: fmt.Errorf("%w: neither pyproject.toml nor setup.py", ErrInvalidProject)}
			}
			return BuildSystem{}, &ProjectError{Dir: srcDir, Err: fmt.Errorf("%w: pyproject.toml has no [build-system] and there is no setup.py", ErrInvalidProject)}
		}
		bs.Requires = []string{LegacyRequires}
		bs.BuildBackend = LegacyBackend
		bs.Legacy = true
		return bs, nil
	}
	if doc.BuildSystem.Requires == nil {
		return BuildSystem{}, &ProjectError{Dir: srcDir, Err: fmt.Errorf("%w: %s: [build-system] has no 'requires' (PEP 518)", ErrInvalidProject, pyproject)}
	}
	bs.Requires = *doc.BuildSystem.Requires
	bs.BuildBackend = doc.BuildSystem.BuildBackend
	if bs.BuildBackend == "" {
		bs.BuildBackend = LegacyBackend
		bs.Legacy = true
	}
	for _, p := range doc.BuildSystem.BackendPath {
		clean := filepath.Clean(p)
		if filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return BuildSystem{}, &ProjectError{Dir: srcDir, Err: fmt.Errorf("%w: backend-path %q is outside the source tree", ErrInvalidProject, p)}
		}
		bs.BackendPath = append(bs.BackendPath, clean)
	}
	return bs, nil
}
