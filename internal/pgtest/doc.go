// Package pgtest gives tests a real PostgreSQL server: one throwaway
// cluster per test binary (internal/pgcluster with durability off), started
// on first use by Get and torn down by Main at the end — or, when
// DEPLOYKIT_TEST_PG_URL is set, an existing server named by that URL (its
// role must be allowed to create roles and databases). Local returns the
// throwaway cluster even then, for tests that need a cluster on this host.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := pgtest.Get(t)
//		conn := srv.Connect(t)           // admin connection, closed at cleanup
//		db := srv.CreateDatabase(t)      // a fresh database, dropped at cleanup
//		...
//	}
//
// Without server binaries Get skips the test, or fails it with CI=true
// (internal/testenv). As root the cluster runs as the "postgres" user.
//
// Even if the test binary dies before Main's teardown (a panic, a timeout,
// a kill), the cluster does not outlive it: a small watcher process, run as
// the server's user in its own process group, holds the read end of a pipe
// whose write end only the test binary has; when the binary exits, the
// watcher reads EOF, stops the server and deletes its directory.
//
// The cluster is package state shared by every test of the binary; tests
// that need isolation create their own database, roles and schemas.
package pgtest
