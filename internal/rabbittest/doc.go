// Package rabbittest gives tests a real RabbitMQ: one throwaway node per
// test binary (internal/rabbitnode, with a private node name, its own
// ports, data directory and epmd), started on first use by Get and torn
// down at the end by Main (or Finish) — or, when DEPLOYKIT_TEST_BROKER_URL
// is set, an existing broker's management API (its user must be an
// administrator).
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { rabbittest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		srv := rabbittest.Get(t)
//		... srv.AdminURL (management API), srv.AMQPAddr ...
//	}
//
// Without rabbitmq-server Get skips the test, or fails it with CI=true
// (internal/testenv). As root the node runs as the "rabbitmq" user.
//
// Even if the test binary dies before the teardown (a panic, a timeout, a
// SIGKILL), the node does not outlive it: a watcher process, run as the
// node's user in a process group of its own, holds the read end of a pipe
// whose write end only the test binary has; at EOF it stops the node's
// process group (the server and its epmd) and deletes its directory.
//
// The node is shared by every test of the binary; tests that need
// isolation make their own vhosts and users (instance/broker does).
package rabbittest
