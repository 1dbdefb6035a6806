package pep517

import "github.com/deploykit/deploykit/requirements/index"

// Frontend is the builder requirements/index asks for sdists, local
// directories and VCS checkouts.
var _ index.Builder = (*Frontend)(nil)
