package resolve

import (
	"fmt"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
)

// Input is what a parsed pip requirements file asks a resolution for.
type Input struct {
	Roots       []requirements.Requirement
	Constraints []requirements.Requirement // -c files
	Editable    map[string]bool            // normalized names of -e entries
	// Hashes are the --hash options by normalized name, for
	// IndexProvider.Hashes.
	Hashes map[string][]string
	Pre    bool
	// PreferBinary is the file's --prefer-binary (Options.PreferBinary).
	PreferBinary bool
	// Format is the file's --no-binary / --only-binary.
	Format FormatControl
	// Sources holds the file's source options (-i, --extra-index-url, -f,
	// --no-index, --trusted-host); the caller adds CacheDir, Builder, …
	Sources index.Options
}

// InputFromFile turns a parsed requirements file into resolver input.
// Unnamed entries (a bare path or URL without #egg=) are an error naming
// the file and line: their name is needed before resolving.
func InputFromFile(f *requirements.File) (*Input, error) {
	in := &Input{Editable: map[string]bool{}, Hashes: map[string][]string{}, Pre: f.Pre, PreferBinary: f.PreferBinary,
		Format: FormatControl{NoBinary: f.NoBinary, OnlyBinary: f.OnlyBinary}}
	in.Sources = index.Options{
		IndexURL:       f.IndexURL,
		ExtraIndexURLs: f.ExtraIndexURLs,
		FindLinks:      f.FindLinks,
		NoIndex:        f.NoIndex,
		TrustedHosts:   f.TrustedHosts,
	}
	for _, e := range f.Entries {
		if e.Parsed == nil {
			return nil, fmt.Errorf("%s:%d: %q: a requirement without a project name (write NAME @ URL or add #egg=NAME)", e.File, e.Line, e.Requirement)
		}
		r := *e.Parsed
		if e.Constraint {
			in.Constraints = append(in.Constraints, r)
			continue
		}
		if len(e.Hashes) > 0 {
			n := requirements.NormalizeName(r.Name)
			in.Hashes[n] = append(in.Hashes[n], e.Hashes...)
		}
		if e.Editable {
			in.Editable[requirements.NormalizeName(r.Name)] = true
		}
		in.Roots = append(in.Roots, r)
	}
	return in, nil
}
