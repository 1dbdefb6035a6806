// Package indextest serves a PEP 503 simple index from a directory on
// 127.0.0.1 the way a remote index behaves, for tests and benchmarks:
// connections are kept alive, every response waits a configurable delay
// before its first byte (DefaultDelay stands for a package index tens of
// milliseconds away), and requests are counted by kind (project pages,
// PEP 658 metadata files, wheels, sdists) together with how many were in
// flight at once.
//
// The tree is the one ../shared/tools/make-wheelhouse --index writes:
// DIR/simple/NAME/index.html whose links carry #sha256= fragments and
// data-dist-info-metadata / data-core-metadata, and DIR/files/ with each
// wheel and its .metadata file. Options can take the hashes or the
// metadata files away, to test what a client does with an index that
// gives neither (pip and uv then download the files).
//
//	srv := indextest.New(t, wh.IndexDir, indextest.Options{Delay: indextest.DefaultDelay})
//	... resolve against srv.IndexURL() ...
//	c := srv.Counts() // c.Pages, c.Metadata, c.Wheels, c.MaxInFlight
//
// requirements/resolve's benchcmd serves the same server as a process
// (benchcmd serve), for scripts/bench.
package indextest
