package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// httpServerSpec writes a spec whose web service is python -m http.server
// binding {port} itself, with the given socket key ("" for none).
func (f *fixture) httpServerSpec(t *testing.T, socket string) *Spec {
	t.Helper()
	key := ""
	if socket != "" {
		key = fmt.Sprintf("socket = %q\n", socket)
	}
	p := filepath.Join(f.specDir, "app.toml")
	toml := `name = "httpserver"
python = ">=3.8"
[services.web]
command = ["python", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
listen = true
` + key
	if err := os.WriteFile(p, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServiceThatBindsItsPassedPortItselfIsExplained: a program that binds
// {port} itself, declared with the default socket = "passed", dies at
// start with "Address already in use" on deploykit's own socket. The
// create fails with an error that names the service, the instance and the
// port, and says the two ways out; it is rolled back. Declared
// socket = "self", the same program runs.
func TestServiceThatBindsItsPassedPortItselfIsExplained(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("sc")
	cleanup(t, m, name)
	_, err := m.Create(ctx, name, f.httpServerSpec(t, ""))
	var sc *SocketConflictError
	if !errors.As(err, &sc) || sc.Instance != name || sc.Service != "web" || sc.Port == 0 {
		t.Fatalf("create of a self-binding program with a passed socket: %v", err)
	}
	var se *StepError
	if !errors.As(err, &se) || !se.RolledBack {
		t.Fatalf("not rolled back: %v", err)
	}
	msg := sc.Error()
	for _, want := range []string{"service web", "instance " + name, fmt.Sprintf("port %d", sc.Port), "Address already in use",
		"gunicorn", "--fd 3", `socket = "self"`, "[services.web]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the explanation lacks %q: %s", want, msg)
		}
	}
	if _, err := m.Status(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the failed create: %v", err)
	}

	st, err := m.Create(ctx, name, f.httpServerSpec(t, SocketSelf))
	if err != nil {
		t.Fatalf("the same program with socket = \"self\": %v", err)
	}
	if err := m.Restart(ctx, name); err != nil {
		t.Fatalf("restart: %v", err)
	}
	status, err := m.Status(ctx, name)
	if err != nil || len(status.Services) != 1 || status.Services[0].State != "active" ||
		len(status.Services[0].Listen) != 1 || status.Services[0].Listen[0] != fmt.Sprintf("127.0.0.1:%d", st.Ports["web"]) {
		t.Fatalf("status of the self-bound service: %+v %v", status, err)
	}
}
