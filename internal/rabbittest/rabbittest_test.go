package rabbittest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestMain(m *testing.M) { Main(m) }

// The node answers AMQP as the administrator, is shared, has no guest
// user, and registers with an epmd of its own, not the host's 4369.
func TestNodeIsSharedPrivateAndHasNoGuest(t *testing.T) {
	a := Get(t)
	if b := Get(t); a != b {
		t.Fatal("second Get started another node")
	}
	if a.Node == nil {
		t.Skip("an external broker: nothing private to check")
	}
	u, err := a.Node.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimPrefix(strings.Split(strings.TrimPrefix(u, "http://"), "@")[0], "deploykit-admin:")
	conn, err := amqp.Dial(a.AMQPURL("deploykit-admin", pw, "/"))
	if err != nil {
		t.Fatalf("administrator over AMQP: %v", err)
	}
	conn.Close()
	_, err = amqp.Dial(a.AMQPURL("guest", "guest", "/"))
	var ae *amqp.Error
	if err == nil || !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
		t.Fatalf("guest/guest: %v (want ACCESS_REFUSED)", err)
	}
	p := a.Node.Ports()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.EPMD)), time.Second)
	if err != nil {
		t.Fatalf("the node's own epmd on %d: %v", p.EPMD, err)
	}
	c.Close()
	out, err := exec.Command("epmd", "-port", strconv.Itoa(p.EPMD), "-names").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "name dktest-") {
		t.Fatalf("epmd -port %d -names: %v\n%s", p.EPMD, err, out)
	}
	// The host's shared epmd, if any runs, does not know the node.
	if out, err := exec.Command("epmd", "-port", "4369", "-names").CombinedOutput(); err == nil && strings.Contains(string(out), "dktest-") {
		t.Fatalf("the node registered with the host's epmd:\n%s", out)
	}
}

// The node and its epmd do not outlive a test binary that dies without
// the teardown: the helper starts a node and SIGKILLs itself.
func TestNodeDiesWithTheTestBinary(t *testing.T) {
	if os.Getenv("RABBITTEST_HELPER") == "1" {
		srv := Get(t)
		st, err := srv.Node.Status()
		if err != nil || !st.Running {
			t.Fatalf("status %+v %v", st, err)
		}
		fmt.Printf("DIR %s\nPID %d\nEPMD %d\n", filepath.Dir(srv.Node.Dir()), st.PID, srv.Node.Ports().EPMD)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if Get(t).Node == nil {
		t.Skip("an external broker")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodeDiesWithTheTestBinary$")
	cmd.Env = append(os.Environ(), "RABBITTEST_HELPER=1", EnvURL+"=")
	out, _ := cmd.Output()
	var dir string
	var pid, epmd int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			dir = d
		}
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(p)
		}
		if p, ok := strings.CutPrefix(sc.Text(), "EPMD "); ok {
			epmd, _ = strconv.Atoi(p)
		}
	}
	if dir == "" || pid == 0 || epmd == 0 {
		t.Fatalf("helper output: %q", out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, statErr := os.Stat(dir)
		killErr := syscall.Kill(pid, 0)
		c, dialErr := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(epmd)), time.Second)
		if c != nil {
			c.Close()
		}
		if errors.Is(statErr, os.ErrNotExist) && errors.Is(killErr, syscall.ESRCH) && dialErr != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("after the test binary died, %s, the VM %d or the epmd on %d remain", dir, pid, epmd)
}

// Stop ends the server and its epmd; Start again finds the data (the
// administrator still logs in) and no guest.
func TestNodeStopsWithItsEpmdAndRestarts(t *testing.T) {
	srv := Get(t)
	n := srv.Node
	if n == nil {
		t.Skip("an external broker")
	}
	ctx := context.Background()
	st, _ := n.Status()
	pgid, err := syscall.Getpgid(st.PID)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d (server, epmd) still there after Stop: %v", pgid, err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := n.AdminURL()
	pw := strings.TrimPrefix(strings.Split(strings.TrimPrefix(u, "http://"), "@")[0], "deploykit-admin:")
	conn, err := amqp.Dial(srv.AMQPURL("deploykit-admin", pw, "/"))
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	conn.Close()
}
