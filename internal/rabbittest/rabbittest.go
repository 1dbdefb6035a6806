package rabbittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/rabbitnode"
	"github.com/deploykit/deploykit/internal/testenv"
)

// EnvURL names an existing broker's management API to use instead of a
// throwaway node: http://ADMIN:PASSWORD@HOST:15672/.
const EnvURL = "DEPLOYKIT_TEST_BROKER_URL"

// Server is the test binary's RabbitMQ.
type Server struct {
	// AdminURL is the management API with an administrator's credentials.
	AdminURL string
	// AMQPAddr is host:port of the AMQP listener.
	AMQPAddr string
	// Node is the throwaway node, nil for an external broker.
	Node *rabbitnode.Node
}

// AMQPURL returns amqp://user:password@AMQPAddr/vhost.
func (s *Server) AMQPURL(user, password, vhost string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, password), Host: s.AMQPAddr, Path: "/" + vhost, RawPath: "/" + url.PathEscape(vhost)}
	return u.String()
}

var shared struct {
	mu      sync.Mutex
	started bool
	srv     *Server
	err     error
	skip    string
	dir     string
	watcher *os.File
}

// Get returns the test binary's broker, starting the throwaway node on
// first use. A missing rabbitmq-server skips the test (fails it in CI).
func Get(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		if u := os.Getenv(EnvURL); u != "" {
			shared.srv, shared.err = external(u)
		} else {
			shared.srv, shared.skip, shared.err = startLocal()
		}
	}
	if shared.skip != "" {
		testenv.Skip(t, "%s", shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("rabbittest: %v", shared.err)
	}
	return shared.srv
}

func external(u string) (*Server, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	host := pu.Hostname()
	return &Server{AdminURL: u, AMQPAddr: net.JoinHostPort(host, "5672")}, nil
}

func startLocal() (*Server, string, error) {
	ctx := context.Background()
	if _, err := rabbitnode.FindBinaries(ctx); err != nil {
		return nil, err.Error(), nil
	}
	// Short: the node's directory appears in its command line, and
	// os.TempDir paths are kept short for sockets elsewhere too.
	base, err := os.MkdirTemp("", "dkrmq")
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return nil, "", err
	}
	shared.dir = base
	node, err := rabbitnode.New(rabbitnode.Options{Dir: filepath.Join(base, "node"), Name: "dktest-" + randomHex(4)})
	if err != nil {
		return nil, "", err
	}
	if err := node.Init(ctx); err != nil {
		os.RemoveAll(base)
		return nil, "", err
	}
	if err := startWatcher(ctx, node, base); err != nil {
		os.RemoveAll(base)
		return nil, "", err
	}
	if err := node.Start(ctx); err != nil {
		teardown()
		return nil, "", err
	}
	admin, err := node.AdminURL()
	if err != nil {
		teardown()
		return nil, "", err
	}
	return &Server{AdminURL: admin, AMQPAddr: net.JoinHostPort(node.Address(), strconv.Itoa(node.Ports().AMQP)), Node: node}, "", nil
}

// watcherScript waits for EOF on stdin (the test binary is gone), then
// stops the node's process group (Node.Start records its leader in
// node.pgid), kills what is left after 30 s, and removes the directory.
const watcherScript = `read _ || true
pg=$(cat "$1/node/node.pgid" 2>/dev/null || true)
if [ -n "$pg" ]; then
	kill -TERM -"$pg" 2>/dev/null
	i=0
	while kill -0 -"$pg" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	kill -KILL -"$pg" 2>/dev/null
fi
rm -rf "$1"`

func startWatcher(ctx context.Context, node *rabbitnode.Node, dir string) error {
	_, uid, gid, err := node.SystemUser(ctx)
	if err != nil {
		return err
	}
	if uid >= 0 {
		// The node's user removes the directory, so it owns it.
		if err := os.Lchown(dir, uid, gid); err != nil {
			return err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watcherScript, "rabbittest-watcher", dir)
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the node watcher: %w", err)
	}
	go cmd.Wait()
	shared.watcher = w
	return nil
}

// teardown stops the node and removes its directory; shared.mu is held or
// no test runs any more.
func teardown() error {
	var err error
	if shared.srv != nil && shared.srv.Node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = shared.srv.Node.Stop(ctx)
	}
	if shared.watcher != nil {
		shared.watcher.Close()
		shared.watcher = nil
	}
	if shared.dir != "" {
		if rerr := os.RemoveAll(shared.dir); rerr != nil && err == nil {
			err = rerr
		}
		shared.dir = ""
	}
	shared.srv = nil
	return err
}

// Finish tears the node down after m.Run and returns the exit code to
// use: code, or 1 when the teardown failed. For TestMains that have
// other fixtures to tear down too.
func Finish(code int) int {
	shared.mu.Lock()
	err := teardown()
	shared.mu.Unlock()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rabbittest: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Main runs the tests and then tears the node down. Call it from
// TestMain; it does not return.
func Main(m *testing.M) { os.Exit(Finish(m.Run())) }

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string { return prefix + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
