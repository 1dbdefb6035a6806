package resolve

import (
	"context"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Candidate is one version of a project a Provider can supply.
type Candidate struct {
	Name    string // PEP 503-normalized project name
	Version pep440.Version
	// Yanked is PEP 592's flag: a yanked version is chosen only when a
	// requirement pins it with == or ===, as pip does.
	Yanked bool
	// RequiresPython is the index's data-requires-python ("" when not
	// given), checked before any metadata is fetched.
	RequiresPython string
	// Wheel says that a wheel of this version can be installed on the
	// target (not only an sdist); Options.PreferBinary ranks such
	// versions first.
	Wheel bool
	// URL is the direct reference ("name @ URL") this candidate comes
	// from; "" for a candidate found on an index. The resolver sets it.
	URL string
	// Ref is the provider's own handle (where the files are); the resolver
	// passes it back unchanged.
	Ref any
}

// Metadata is what the resolver needs from a candidate's core metadata.
type Metadata struct {
	RequiresDist   []requirements.Requirement
	RequiresPython pep440.Specifiers
	ProvidesExtra  []string // normalized
	// Warnings about the metadata (repaired entries); the resolver
	// reports them.
	Warnings []string
}

// Provider supplies candidates and their metadata. The resolver calls it
// from several goroutines at once (prefetching), so implementations must
// be safe for concurrent use. It knows nothing about HTTP: see
// requirements/index for the implementation over package indexes.
type Provider interface {
	// Versions lists the installable candidates of a project for the
	// target (wheel tags already filtered). A project no source knows
	// (an index's 404) is no candidates and no error.
	Versions(ctx context.Context, name string) ([]Candidate, error)
	// Metadata returns the core metadata of a candidate.
	Metadata(ctx context.Context, c Candidate) (*Metadata, error)
}

// DirectProvider is implemented by providers that can turn a direct
// reference ("name @ url", a VCS URL, a local path) into its one
// candidate.
type DirectProvider interface {
	Direct(ctx context.Context, req requirements.Requirement) (Candidate, error)
}

// SourceLister is implemented by providers that can name where they
// look, so that "no source provides X" can say which were searched.
type SourceLister interface {
	Sources() []string
}

// CheapMetadata is implemented by providers for which the metadata of
// some candidates is costly: an sdist's may need a build, which runs its
// build backend. The resolver fetches ahead of need only the metadata a
// provider calls cheap, and the rest when the solver needs it; without
// the interface, all metadata counts as cheap.
type CheapMetadata interface {
	CheapMetadata(c Candidate) bool
}
