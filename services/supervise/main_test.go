package supervise

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
)

// The test binary doubles as the program the Controller re-executes as the
// supervisor daemon, and as a short-lived "CLI" that starts it and exits.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == DaemonSubcommand && os.Getenv("DK_SUPERVISE_TEST_DAEMON") == "1" {
		if err := DaemonMain(context.Background(), os.Args[2:], nil); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("DK_SUPERVISE_TEST_CLI"); dir != "" {
		// Start the instance the way `deploykit start` would, then exit.
		c := testController(dir)
		if err := c.Start(context.Background(), os.Getenv("DK_SUPERVISE_TEST_INSTANCE")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testController(dir string) *Controller {
	exe, _ := os.Executable()
	return &Controller{Dir: dir, Executable: exe, Env: []string{"DK_SUPERVISE_TEST_DAEMON=1"}, StartTimeout: 20 * time.Second}
}

func webPy(t testing.TB) string {
	testenv.Command(t, "python3")
	p, err := filepath.Abs("../testdata/web.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func python(t testing.TB) string {
	return testenv.SystemPython(t).Path
}

// runSup runs a supervisor in this process until the test ends.
func runSup(t testing.TB, opts Options) (sock string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, opts) }()
	sock = filepath.Join(opts.Dir, "control.sock")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := call(context.Background(), sock, Request{Op: "status"}); err == nil {
			break
		}
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("supervisor exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("supervisor not answering")
		}
	}
	var stopped bool
	var res error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			res = <-errc
		}
		return res
	}
	t.Cleanup(func() { stop() })
	return sock, stop
}

func ctl(t testing.TB, sock string, op string, comps ...string) *Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := call(ctx, sock, Request{Op: op, Components: comps})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return r
}

func statusOf(t testing.TB, sock, comp string) services.Status {
	t.Helper()
	for _, s := range ctl(t, sock, "status").Status {
		if s.Component == comp {
			return s
		}
	}
	t.Fatalf("no component %q", comp)
	return services.Status{}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func waitFor(t testing.TB, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readInts(t testing.TB, path string) []int {
	b, _ := os.ReadFile(path)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, n)
	}
	return out
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
