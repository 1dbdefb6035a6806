package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/deploykit/deploykit/instance/broker"
	"github.com/deploykit/deploykit/internal/rabbitnode"
	"github.com/deploykit/deploykit/internal/rabbittest"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
)

func servicesLogOptions() services.LogOptions { return services.LogOptions{} }

const brokerTOML = "[broker]\nkind = \"rabbitmq\"\n"

// withBroker points the fixture at the test binary's RabbitMQ.
func (f *fixture) withBroker(t *testing.T) *broker.Admin {
	t.Helper()
	srv := rabbittest.Get(t)
	f.brokerURL = srv.AdminURL
	a, err := broker.ParseAdminURL(srv.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// celerySpec writes the celery application (testdata/celeryapp): a web
// component that sends a task, a worker that runs it.
func (f *fixture) celerySpec(t *testing.T) *Spec {
	t.Helper()
	for _, n := range []string{"tasks.py", "web.py"} {
		b, err := os.ReadFile(filepath.Join("testdata/celeryapp", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.specDir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req := "--no-index\n--find-links " + f.wheels + "\ncelery\n"
	if err := os.WriteFile(filepath.Join(f.specDir, "requirements-celery.txt"), []byte(req), 0o644); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf(`name = "celeryapp"
python = ">=3.8"
requirements = ["requirements-celery.txt"]
[env]
PYTHONPATH = %q
DATA_DIR = "{data}"
[broker]
kind = "rabbitmq"
[services.web]
command = ["python", %q]
listen = true
health = "/"
[services.worker]
command = ["celery", "-A", "tasks", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
`, f.specDir, filepath.Join(f.specDir, "web.py"))
	p := filepath.Join(f.specDir, "celery.toml")
	if err := os.WriteFile(p, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// brokerURLOf is the BROKER_URL instance name's processes see.
func brokerURLOf(t *testing.T, m *Manager, name string) *url.URL {
	t.Helper()
	env, err := readEnvFile(m.Layout().EnvFile(name))
	if err != nil {
		t.Fatal(err)
	}
	if env["CELERY_BROKER_URL"] != env["BROKER_URL"] {
		t.Fatalf("CELERY_BROKER_URL %q differs from BROKER_URL", env["CELERY_BROKER_URL"])
	}
	u, err := url.Parse(env["BROKER_URL"])
	if err != nil || u.Scheme != "amqp" {
		t.Fatalf("BROKER_URL %q: %v", env["BROKER_URL"], err)
	}
	return u
}

func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// checkBrokerGone asserts instance name has no vhost and no user left.
func checkBrokerGone(t *testing.T, admin *broker.Admin, name string) {
	t.Helper()
	ctx := context.Background()
	vh, err := admin.VhostExists(ctx, "dk-"+name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := admin.UserExists(ctx, "dk-"+name)
	if err != nil {
		t.Fatal(err)
	}
	if vh || u {
		t.Fatalf("left on the broker: vhost %v, user %v", vh, u)
	}
}

// Two instances of one spec with a broker: each has its own vhost, one's
// credentials are refused on the other's vhost, guest is refused; a
// celery task sent by A's web component runs in A's worker, never in
// B's. Remove leaves no vhost and no user.
func TestBrokerTwoInstancesCeleryTasksStayInTheirVhost(t *testing.T) {
	f := newFixture(t)
	admin := f.withBroker(t)
	m := f.open(t)
	ctx := context.Background()
	a, b := randomName("qa"), randomName("qb")
	cleanup(t, m, a)
	cleanup(t, m, b)
	spec := f.celerySpec(t)
	sa, err := m.Create(ctx, a, spec)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := m.Create(ctx, b, spec)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Broker != "dk-"+a || sb.Broker != "dk-"+b || sa.BrokerServer == "" {
		t.Fatalf("records: %+v %+v", sa, sb)
	}
	ua, ub := brokerURLOf(t, m, a), brokerURLOf(t, m, b)
	if ua.Path != "/dk-"+a || ub.Path != "/dk-"+b {
		t.Fatalf("vhosts %s %s", ua.Path, ub.Path)
	}
	fi, err := os.Stat(m.Layout().brokerPasswordFile(a))
	if err != nil || fi.Mode().Perm() != 0o600 || statUID(fi) != sa.UID {
		t.Fatalf("broker password file: %v %v", fi, err)
	}
	// The password is in the secrets env file only, not in unit specs.
	spec1, _ := os.ReadFile(filepath.Join(m.Layout().SupervisorDir(), a, "spec.json"))
	pw, _ := ua.User.Password()
	if len(spec1) == 0 || strings.Contains(string(spec1), pw) {
		t.Fatalf("the supervisor's spec of %s holds the broker password (or is missing)", a)
	}

	c, err := amqp.Dial(ua.String())
	if err != nil {
		t.Fatalf("A on its own vhost: %v", err)
	}
	c.Close()
	cross := *ua
	cross.Path = ub.Path
	if _, err := amqp.Dial(cross.String()); amqpCode(err) != amqp.NotAllowed {
		t.Fatalf("A's credentials on B's vhost: %v (want NOT_ALLOWED, access to vhost refused)", err)
	}
	guest := *ub
	guest.User = url.UserPassword("guest", "guest")
	if _, err := amqp.Dial(guest.String()); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("guest: %v (want ACCESS_REFUSED)", err)
	}

	// A's web component sends a task; A's worker runs it.
	token := randomName("t")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/send?token=%s", sa.Ports["web"], token))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"task"`) {
		t.Fatalf("A's web component: %s %s", resp.Status, body)
	}
	done := filepath.Join(m.Layout().DataDir(a), "done-"+token)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if got, err := os.ReadFile(done); err == nil && string(got) == a {
			break
		}
		if time.Now().After(deadline) {
			logs := ""
			if rc, err := m.Logs(ctx, a, "worker", servicesLogOptions()); err == nil {
				b, _ := io.ReadAll(io.LimitReader(rc, 8192))
				rc.Close()
				logs = string(b)
			}
			t.Fatalf("A's worker did not run the task within 60s; worker log:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// B's worker never got it: nothing in B's data, nothing in B's log.
	time.Sleep(2 * time.Second)
	if ents, _ := filepath.Glob(filepath.Join(m.Layout().DataDir(b), "done-*")); len(ents) > 0 {
		t.Fatalf("B's worker ran a task: %v", ents)
	}
	if rc, err := m.Logs(ctx, b, "worker", servicesLogOptions()); err == nil {
		lb, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(lb), token) {
			t.Fatalf("B's worker saw A's task:\n%s", lb)
		}
	}

	// Remove leaves no vhost and no user; a second remove finds nothing.
	if err := m.Remove(ctx, b, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	checkBrokerGone(t, admin, b)
	if err := m.Remove(ctx, b, RemoveOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	// A is untouched.
	if ok, _ := admin.VhostExists(ctx, "dk-"+a); !ok {
		t.Fatal("removing B removed A's vhost")
	}
}

// An upgrade re-provisions without changing anything: same BROKER_URL.
func TestBrokerUpgradeKeepsTheVhostAndPassword(t *testing.T) {
	f := newFixture(t)
	f.withBroker(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("qu")
	cleanup(t, m, name)
	if _, err := m.Create(ctx, name, f.specWith(t, "1", brokerTOML)); err != nil {
		t.Fatal(err)
	}
	before := brokerURLOf(t, m, name).String()
	if _, err := m.Upgrade(ctx, name, f.specWith(t, "2", brokerTOML)); err != nil {
		t.Fatal(err)
	}
	if after := brokerURLOf(t, m, name).String(); after != before {
		t.Fatal("the upgrade changed BROKER_URL")
	}
	env, _ := readEnvFile(m.Layout().EnvFile(name))
	if env["DATABASE_URL"] == "" {
		t.Fatal("the broker's env lines replaced DATABASE_URL")
	}
}

// A create killed at the broker step is rolled back: no vhost, no user
// (besides everything checkGone checks); then it converges.
func TestBrokerCreateKilledAtTheBrokerStepRollsBack(t *testing.T) {
	f := newFixture(t)
	admin := f.withBroker(t)
	m := f.open(t)
	f.specWith(t, "1", brokerTOML)
	specPath := filepath.Join(f.specDir, "app.toml")
	name := randomName("qk")
	cleanup(t, m, name)
	// "compile" is the step after broker (build runs before the database
	// and broker steps, compiling meanwhile: compile.go).
	for _, point := range []string{"broker", "broker:done", "compile"} {
		t.Run(point, func(t *testing.T) {
			if err := runKilled(f, "create", name, specPath, point); err != nil {
				t.Fatal(err)
			}
			checkGone(t, m, name)
			checkBrokerGone(t, admin, name)
		})
	}
	st, err := m.Create(context.Background(), name, f.specWith(t, "1", brokerTOML))
	if err != nil {
		t.Fatal(err)
	}
	c, err := amqp.Dial(brokerURLOf(t, m, name).String())
	if err != nil {
		t.Fatalf("after the kills, create's vhost: %v", err)
	}
	c.Close()
	if a := get(t, st.Ports["web"]); a.Instance != name {
		t.Fatalf("answered %+v", a)
	}
}

// An upgrade that gives an instance a broker, killed at the broker step,
// leaves the instance as it was (no vhost); killed after its commit, the
// instance has one. A remove killed after its broker step finishes.
func TestBrokerUpgradeAndRemoveKilledAtTheBrokerStep(t *testing.T) {
	f := newFixture(t)
	admin := f.withBroker(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("qg")
	cleanup(t, m, name)
	if _, err := m.Create(ctx, name, f.spec(t, "1")); err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(f.specDir, "app.toml")
	for i, point := range []string{"broker", "broker:done", "health:done"} {
		t.Run(point, func(t *testing.T) {
			f.specWith(t, fmt.Sprint(i+2), brokerTOML)
			if err := runKilled(f, "upgrade", name, specPath, point); err != nil {
				t.Fatal(err)
			}
			st, err := m.Status(ctx, name)
			if err != nil || st.Recovered == nil {
				t.Fatalf("status %+v %v", st, err)
			}
			checkBrokerGone(t, admin, name)
			rec, _ := readState(m.Layout(), name)
			if rec.Broker != "" {
				t.Fatalf("rolled-back upgrade left a broker in the record: %+v", rec)
			}
		})
	}
	up, err := m.Upgrade(ctx, name, f.specWith(t, "9", brokerTOML))
	if err != nil {
		t.Fatal(err)
	}
	if up.Broker != "dk-"+name {
		t.Fatalf("record after the upgrade: %+v", up)
	}
	if ok, _ := admin.VhostExists(ctx, up.Broker); !ok {
		t.Fatal("no vhost after the upgrade gained a broker")
	}
	if err := runKilled(f, "remove", name, "", "broker:done"); err != nil {
		t.Fatal(err)
	}
	checkGone(t, m, name)
	checkBrokerGone(t, admin, name)
}

func TestSpecBrokerTable(t *testing.T) {
	base := "name = \"a\"\n[env]\nX = \"1\"\n"
	s, err := ParseSpec([]byte(base+"[broker]\nkind = \"rabbitmq\"\n"), "app.toml")
	if err != nil || s.Broker == nil || s.Broker.Kind != "rabbitmq" {
		t.Fatalf("%+v %v", s, err)
	}
	if s, err := ParseSpec([]byte(base+"[broker]\n"), "app.toml"); err != nil || s.Broker == nil {
		t.Fatalf("an empty [broker] table: %+v %v", s, err)
	}
	if s, err := ParseSpec([]byte(base), "app.toml"); err != nil || s.Broker != nil {
		t.Fatalf("no [broker]: %+v %v", s, err)
	}
	for in, want := range map[string]string{
		base + "[broker]\nkind = \"redis\"\n":                                                        `app.toml:5: broker.kind: "redis" is not a known broker`,
		"name = \"a\"\n[env]\nBROKER_URL = \"x\"\n[broker]\n":                                        "app.toml:3: env.BROKER_URL: BROKER_URL is set by deploykit",
		base + "[broker]\nqueue = \"x\"\n":                                                           `broker.queue: unknown key`,
		"name = \"a\"\n[broker]\n[services.w]\ncommand=[\"x\"]\nenv = {CELERY_BROKER_URL = \"y\"}\n": "services.w.env.CELERY_BROKER_URL",
	} {
		if _, err := ParseSpec([]byte(in), "app.toml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v (want %q)", in, err, want)
		}
	}
	// Without [broker], BROKER_URL is the application's own business.
	if _, err := ParseSpec([]byte("name = \"a\"\n[env]\nBROKER_URL = \"amqp://elsewhere\"\n"), "app.toml"); err != nil {
		t.Fatal(err)
	}
}

// declareIn declares queue (durable, x-max-length 50) and a topic
// exchange bound to it in the vhost of url, and publishes one message.
func declareIn(t *testing.T, u *url.URL, queue string) {
	t.Helper()
	c, err := amqp.Dial(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-max-length": int32(50)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(queue+"-events", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, "#", queue+"-events", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(context.Background(), "", queue, false, false, amqp.Publishing{Body: []byte("pending")}); err != nil {
		t.Fatal(err)
	}
}

// hasQueue reports whether the vhost of url has queue, and its messages.
func hasQueue(t *testing.T, u *url.URL, queue string) (bool, int) {
	t.Helper()
	c, err := amqp.Dial(u.String())
	if err != nil {
		t.Fatalf("%s's user on its vhost: %v", u.User.Username(), err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, amqp.Table{"x-max-length": int32(50)})
	if err != nil {
		return false, 0
	}
	return true, q.Messages
}

// A backup of A restored into B recreates A's queues, exchanges and
// bindings in B's vhost, for B's user (A's still cannot get in), without
// messages, and B's own queues are gone; clone does the same.
func TestBrokerBackupOfARestoredIntoBAndClone(t *testing.T) {
	f := newFixture(t)
	admin := f.withBroker(t)
	m := f.open(t)
	ctx := context.Background()
	a, b := randomName("qa"), randomName("qb")
	cleanup(t, m, a)
	cleanup(t, m, b)
	spec := f.specWith(t, "1", brokerTOML)
	for _, n := range []string{a, b} {
		if _, err := m.Create(ctx, n, spec); err != nil {
			t.Fatal(err)
		}
	}
	ua, ub := brokerURLOf(t, m, a), brokerURLOf(t, m, b)
	declareIn(t, ua, "reports")
	declareIn(t, ub, "b-only")
	res, err := m.Backup(ctx, a, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, b, res.Path, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if ok, n := hasQueue(t, ub, "reports"); !ok || n != 0 {
		t.Fatalf("B after the restore: queue %v with %d messages (want A's queue, empty)", ok, n)
	}
	if ok, _ := hasQueue(t, ub, "b-only"); ok {
		t.Fatal("B's own queue survived the restore")
	}
	cross := *ua
	cross.Path = ub.Path
	if _, err := amqp.Dial(cross.String()); amqpCode(err) != amqp.NotAllowed {
		t.Fatalf("A's user on B's vhost after the restore: %v", err)
	}
	if ok, n := hasQueue(t, ua, "reports"); !ok || n != 1 {
		t.Fatalf("A's queue after the backup: %v, %d messages", ok, n)
	}
	defs, err := broker.Export(ctx, admin, "dk-"+b)
	if err != nil || len(defs.Exchanges) != 1 || len(defs.Bindings) != 1 {
		t.Fatalf("B's definitions: %+v %v", defs, err)
	}

	declareIn(t, ua, "invoices")
	if err := m.Clone(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if ok, _ := hasQueue(t, ub, "invoices"); !ok {
		t.Fatal("clone did not carry A's new queue into B")
	}
	if a := get(t, mustState(t, m, b).Ports["web"]); a.Instance != b {
		t.Fatalf("B after the clone answered %+v", a)
	}
}

func mustState(t *testing.T, m *Manager, name string) *State {
	t.Helper()
	st, err := readState(m.Layout(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A restore killed at its broker step (after the commit) is finished by
// the next operation: the vhost holds the archive's queues.
func TestBrokerRestoreKilledAtTheBrokerStepRollsForward(t *testing.T) {
	f := newFixture(t)
	f.withBroker(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("qr")
	cleanup(t, m, name)
	if _, err := m.Create(ctx, name, f.specWith(t, "1", brokerTOML)); err != nil {
		t.Fatal(err)
	}
	u := brokerURLOf(t, m, name)
	declareIn(t, u, "kept")
	res, err := m.Backup(ctx, name, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"broker", "broker:done"} {
		t.Run(point, func(t *testing.T) {
			declareIn(t, u, "later")
			if err := runKilled(f, "restore", name, res.Path, point); err != nil {
				t.Fatal(err)
			}
			st, err := m.Status(ctx, name)
			if err != nil || st.Recovered == nil || st.Recovered.RolledBack {
				t.Fatalf("status %+v %v", st, err)
			}
			if ok, n := hasQueue(t, u, "kept"); !ok || n != 0 {
				t.Fatalf("after recovery: queue kept %v, %d messages", ok, n)
			}
			if ok, _ := hasQueue(t, u, "later"); ok {
				t.Fatal("a queue declared after the backup survived the restore")
			}
			if a := get(t, st.Ports["web"]); a.Instance != name {
				t.Fatalf("not serving after recovery: %+v", a)
			}
		})
	}
}

// TestEmbeddedBrokerNodeIsSupervised: without a broker URL, the embedded
// node runs under the built-in supervisor (its own epmd in its process
// group), which starts it again when its VM is killed; Shutdown stops it,
// epmd and all, and takes it off the supervisor.
func TestEmbeddedBrokerNodeIsSupervised(t *testing.T) {
	testenv.NeedRoot(t)
	ctx := context.Background()
	if _, err := rabbitnode.FindBinaries(ctx); err != nil {
		testenv.Skip(t, "%v", err)
	}
	root, err := os.MkdirTemp("", "dkr")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	m, err := Open(ctx, Options{Root: root, Services: "supervise"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Shutdown(context.Background())
		os.RemoveAll(root)
	})
	srv, err := m.brokerServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.Version(ctx); err != nil {
		t.Fatal(err)
	}
	n := srv.node
	st, err := n.Status()
	if err != nil || !st.Running {
		t.Fatalf("status %+v %v", st, err)
	}
	pgid, _ := syscall.Getpgid(st.PID)
	if n.Ports().EPMD == 4369 {
		t.Fatal("the node uses the host's shared epmd port")
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		s2, _ := n.Status()
		if s2.Running && s2.PID != st.PID {
			if _, err := srv.admin.Version(ctx); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed node was not started again")
		}
		time.Sleep(300 * time.Millisecond)
	}
	s3, _ := n.Status()
	pgid3, _ := syscall.Getpgid(s3.PID)
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.admin.Version(ctx); err == nil {
		t.Fatal("the node answers after Shutdown")
	}
	for _, g := range []int{pgid, pgid3} {
		if err := syscall.Kill(-g, 0); !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("process group %d (server, epmd) left after Shutdown: %v", g, err)
		}
	}
	if exists(filepath.Join(m.Layout().SupervisorDir(), brokerNodeInstance, "spec.json")) {
		t.Fatal("the node is still in the supervisor")
	}
}
