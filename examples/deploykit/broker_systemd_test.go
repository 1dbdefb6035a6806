package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/testenv"
)

// TestBrokerUnderSystemdInAContainer: with --services systemd and no
// --broker-url, two instances of a celery application get their vhosts
// on the embedded RabbitMQ node, a unit of its own that the instances'
// units want (the Debian package's own service stays off); A's task runs
// in A's worker only, A's credentials are refused on B's vhost and guest
// everywhere; a clone carries A's queues into B's vhost; remove and
// shutdown leave no vhost, user, unit or Erlang process.
func TestBrokerUnderSystemdInAContainer(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	dir := newRoot(t)
	wh := testenv.GetWheelhouse(t)
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"tasks.py", "web.py"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "instance", "testdata", "celeryapp", n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(app, n), b, 0o644)
	}
	os.WriteFile(filepath.Join(app, "requirements.txt"), []byte("--no-index\n--find-links /wheels\ncelery\n"), 0o644)
	os.WriteFile(filepath.Join(app, "app.toml"), []byte(`name = "celeryapp"
requirements = ["requirements.txt"]
[env]
PYTHONPATH = "/srv/app"
DATA_DIR = "{data}"
[broker]
kind = "rabbitmq"
[services.web]
command = ["python3", "/srv/app/web.py"]
listen = true
[services.worker]
command = ["celery", "-A", "tasks", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
`), 0o644)
	c := nspawn.Start(t, nspawn.Options{HostNetwork: true, Binds: []nspawn.Bind{
		{Host: filepath.Dir(binary), Container: "/opt/dk", ReadOnly: true},
		{Host: wh.Dir, Container: "/wheels", ReadOnly: true},
		{Host: app, Container: "/srv/app", ReadOnly: true},
	}})
	dk := func(args ...string) string {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		out, err := c.Exec(cctx, append([]string{"/opt/dk/deploykit", "--root", "/srv/deploykit", "--services", "systemd"}, args...)...)
		if err != nil {
			t.Fatalf("deploykit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sh := func(script string) string {
		t.Helper()
		out, err := c.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	const nodeUnit = "deploykit-rmq_embedded-rabbitmq.service"
	a, b := fmt.Sprintf("ra%d", os.Getpid()%100000), fmt.Sprintf("rb%d", os.Getpid()%100000)
	dk("create", a, "--spec", "/srv/app/app.toml")
	dk("create", b, "--spec", "/srv/app/app.toml")

	if got := sh("systemctl is-active " + nodeUnit + "; systemctl is-enabled deploykit-rmq_embedded.target"); got != "active\nenabled" {
		t.Fatalf("the node's unit: %q", got)
	}
	if got := sh("systemctl is-active rabbitmq-server.service epmd.socket || true"); got != "inactive\ninactive" {
		t.Fatalf("the package's own service or the shared epmd runs: %q", got)
	}
	for _, u := range []string{"-web.service", "-worker.service"} {
		for _, prop := range []string{"Wants", "After"} {
			if got := sh("systemctl show -p " + prop + " --value deploykit-" + a + u); !strings.Contains(" "+got+" ", " "+nodeUnit+" ") {
				t.Fatalf("deploykit-%s%s: %s=%s, without %s", a, u, prop, got, nodeUnit)
			}
		}
	}
	// The password is in the instance's env file, never in a unit.
	envOf := func(name string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(sh("cat /srv/deploykit/instances/"+name+"/secrets/env"), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	ua, err := url.Parse(envOf(a)["BROKER_URL"])
	if err != nil || ua.Path != "/dk-"+a {
		t.Fatalf("A's BROKER_URL: %v %v", ua, err)
	}
	pw, _ := ua.User.Password()
	if got := sh("grep -l -r -F -e '" + pw + "' /etc/systemd/system/ || true"); got != "" {
		t.Fatalf("units hold A's broker password: %s", got)
	}

	// From the host (the container shares its network): A's credentials
	// on B's vhost are refused, and guest on any.
	cross := *ua
	cross.Path = "/dk-" + b
	if _, err := amqp.Dial(cross.String()); amqpCode(err) != amqp.NotAllowed {
		t.Fatalf("A's credentials on B's vhost: %v", err)
	}
	guest := *ua
	guest.User = url.UserPassword("guest", "guest")
	if _, err := amqp.Dial(guest.String()); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("guest: %v", err)
	}
	conn, err := amqp.Dial(ua.String())
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := conn.Channel()
	if _, err := ch.QueueDeclare("reports", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// A's web component sends a task: A's worker runs it, B's does not.
	out := dk("status", a, "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	port := st.Ports["web"]
	token := fmt.Sprintf("t%d", time.Now().UnixNano())
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/send?token=%s", port, token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(time.Minute)
	for sh("cat /srv/deploykit/instances/"+a+"/data/done-"+token+" 2>/dev/null || true") != a {
		if time.Now().After(deadline) {
			t.Fatalf("A's worker did not run the task:\n%s", sh("journalctl -u deploykit-"+a+"-worker --no-pager | tail -30"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if got := sh("ls /srv/deploykit/instances/" + b + "/data/"); got != "" {
		t.Fatalf("B's data after A's task: %s", got)
	}

	// Clone A into B: A's queue is in B's vhost, for B's user.
	dk("clone", a, b, "--yes")
	ub, _ := url.Parse(envOf(b)["BROKER_URL"])
	conn, err = amqp.Dial(ub.String())
	if err != nil {
		t.Fatal(err)
	}
	ch, _ = conn.Channel()
	if _, err := ch.QueueDeclarePassive("reports", true, false, false, false, nil); err != nil {
		t.Fatalf("A's queue is not in B's vhost after the clone: %v", err)
	}
	conn.Close()

	dk("remove", a, "--yes")
	dk("remove", b, "--yes")
	if _, err := amqp.Dial(ub.String()); err == nil {
		t.Fatal("B's user still logs in after remove")
	}
	dk("shutdown")
	if out := sh("ls /etc/systemd/system | grep deploykit- || true"); out != "" {
		t.Fatalf("units left after remove and shutdown: %s", out)
	}
	if out := sh("cat /proc/[0-9]*/comm 2>/dev/null | grep -E '^(beam|epmd)' || true"); out != "" {
		t.Fatalf("Erlang processes left after shutdown: %s", out)
	}
}

func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}
