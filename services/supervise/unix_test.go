package supervise

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deploykit/deploykit/services"
)

func TestUnixSocketAndNamedFDs(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "web.sock")
	c := webComponent(t, "t1", "127.0.0.1:0")
	c.Listen = []services.Listen{
		{Name: "api", Network: "unix", Address: sockPath, Mode: 0o600},
		{Name: "admin", Network: "tcp", Address: "127.0.0.1:0"},
	}
	sock, _ := runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: filepath.Join(dir, "state"), Autostart: true})
	waitFor(t, "web active", 30*time.Second, func() bool { return statusOf(t, sock, "web").State == services.StateActive })
	fi, err := os.Stat(sockPath)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("unix socket: %v %v", fi.Mode(), err)
	}
	cl := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sockPath)
		}}}
	resp, err := cl.Get("http://web/info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var info struct {
		FDNames string `json:"fdnames"`
		PID     int    `json:"pid"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if info.FDNames != "api:admin" {
		t.Errorf("LISTEN_FDNAMES = %q, want api:admin", info.FDNames)
	}
	if pid := statusOf(t, sock, "web").PID; info.PID != pid {
		t.Errorf("served by pid %d, supervisor says %d (LISTEN_PID shim must keep the pid)", info.PID, pid)
	}
	// A restart keeps the socket file (the supervisor holds the socket).
	ctl(t, sock, "restart", "web")
	if _, err := cl.Get("http://web/"); err != nil {
		t.Errorf("after restart: %v", err)
	}
}
