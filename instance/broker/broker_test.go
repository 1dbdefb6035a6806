package broker

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/rabbittest"
)

func TestMain(m *testing.M) { rabbittest.Main(m) }

// instanceFor is a random instance's names and secrets file, its vhost
// and user removed when the test ends.
func instanceFor(t *testing.T, admin *Admin) Spec {
	t.Helper()
	names, err := account.NamesFor("", rabbittest.RandomName("tb"))
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Names: names, SecretsFile: filepath.Join(t.TempDir(), "broker-password")}
	t.Cleanup(func() {
		if err := Remove(context.Background(), admin, names, RemoveOptions{Confirm: names.Role}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return spec
}

func adminFor(t testing.TB) (*Admin, *rabbittest.Server) {
	t.Helper()
	srv := rabbittest.Get(t)
	a, err := ParseAdminURL(srv.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	return a, srv
}

// dial connects over AMQP; refused reports whether the broker refused
// the login (ACCESS_REFUSED: unknown user, wrong password) or the vhost
// (NOT_ALLOWED: RabbitMQ's code for "access to vhost refused").
func dial(t *testing.T, url string) (conn *amqp.Connection, refused bool) {
	t.Helper()
	c, err := amqp.Dial(url)
	if err == nil {
		t.Cleanup(func() { c.Close() })
		return c, false
	}
	var ae *amqp.Error
	if errors.As(err, &ae) && (ae.Code == amqp.AccessRefused || ae.Code == amqp.NotAllowed) {
		return nil, true
	}
	t.Fatalf("dial: %v", err)
	return nil, false
}

// refusedWith dials url and returns the AMQP reply code it was refused
// with (0 when it connected).
func refusedWith(t *testing.T, url string) int {
	t.Helper()
	c, err := amqp.Dial(url)
	if err == nil {
		c.Close()
		return 0
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		t.Fatalf("dial: %v", err)
	}
	return ae.Code
}

// Two instances each get a vhost of their own; one's credentials are
// refused on the other's vhost, and guest cannot connect at all.
func TestTwoInstancesGetTheirOwnVhosts(t *testing.T) {
	ctx := context.Background()
	admin, _ := adminFor(t)
	addr, err := admin.AMQPAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := instanceFor(t, admin), instanceFor(t, admin)
	ra, err := Provision(ctx, admin, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Provision(ctx, admin, b)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Vhost == rb.Vhost || ra.Vhost != a.Names.Role || !ra.Created {
		t.Fatalf("results %v %v", ra, rb)
	}
	fi, err := os.Stat(a.SecretsFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", fi, err)
	}
	conn, refused := dial(t, URL(addr, ra.User, ra.Password, ra.Vhost))
	if refused {
		t.Fatal("A refused on its own vhost")
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("celery", true, false, false, false, nil); err != nil {
		t.Fatalf("A cannot declare a queue in its vhost: %v", err)
	}
	// RabbitMQ answers a vhost the user has no permissions in with
	// NOT_ALLOWED, a failed login with ACCESS_REFUSED.
	if code := refusedWith(t, URL(addr, ra.User, ra.Password, rb.Vhost)); code != amqp.NotAllowed {
		t.Fatalf("A's credentials on B's vhost: code %d, want NOT_ALLOWED (%d)", code, amqp.NotAllowed)
	}
	if code := refusedWith(t, URL(addr, rb.User, ra.Password, rb.Vhost)); code != amqp.AccessRefused {
		t.Fatalf("B's user with A's password: code %d, want ACCESS_REFUSED", code)
	}
	for _, vh := range []string{rb.Vhost, "/"} {
		if code := refusedWith(t, URL(addr, "guest", "guest", vh)); code != amqp.AccessRefused {
			t.Fatalf("guest on %s: code %d, want ACCESS_REFUSED", vh, code)
		}
	}
}

// A second Provision changes nothing: same password hash, no creation.
func TestProvisionIsIdempotent(t *testing.T) {
	ctx := context.Background()
	admin, _ := adminFor(t)
	s := instanceFor(t, admin)
	if _, err := Provision(ctx, admin, s); err != nil {
		t.Fatal(err)
	}
	u1, _ := admin.getUser(ctx, s.Names.Role)
	r, err := Provision(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := admin.getUser(ctx, s.Names.Role)
	if r.Created || u1.PasswordHash != u2.PasswordHash {
		t.Fatalf("second provision changed something: created %v, hash %s -> %s", r.Created, u1.PasswordHash, u2.PasswordHash)
	}
	// A changed secret is the password from then on.
	if err := os.WriteFile(s.SecretsFile, []byte("another-password-of-enough-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(ctx, admin, s); err != nil {
		t.Fatal(err)
	}
	u3, _ := admin.getUser(ctx, s.Names.Role)
	if !hashMatches(u3.PasswordHash, u3.Algorithm, "another-password-of-enough-length") {
		t.Fatal("the password was not set to the secret")
	}
}

// Every conflict is reported, and nothing is changed: no user, no
// secret, the foreign vhost as it was.
func TestProvisionFindsEveryConflictBeforeChangingAnything(t *testing.T) {
	ctx := context.Background()
	admin, _ := adminFor(t)
	s := instanceFor(t, admin)
	other := instanceFor(t, admin)
	n := s.Names.Role
	// A vhost of the instance's name made by someone else, which a third
	// user may use; the instance's user name taken by an administrator.
	if err := admin.do(ctx, "PUT", map[string]string{"description": "not deploykit's"}, nil, "vhosts", n); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(ctx, admin, other); err != nil {
		t.Fatal(err)
	}
	if err := admin.do(ctx, "PUT", fullAccess, nil, "permissions", n, other.Names.Role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.do(ctx, "DELETE", nil, nil, "vhosts", n)
		admin.do(ctx, "DELETE", nil, nil, "users", n)
	})
	_, err := Provision(ctx, admin, s)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("provision over a foreign vhost: %v", err)
	}
	for _, want := range []string{"description is \"not deploykit's\"", "grants permissions to user " + other.Names.Role} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if ok, _ := admin.UserExists(ctx, n); ok {
		t.Fatal("a user was created despite the conflict")
	}
	if _, err := os.Stat(s.SecretsFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a secret was written despite the conflict: %v", err)
	}
	vh, _ := admin.getVhost(ctx, n)
	if vh.Description != "not deploykit's" {
		t.Fatalf("the foreign vhost was changed: %+v", vh)
	}
	// The other instance's user, given access elsewhere, conflicts too.
	if _, err := Provision(ctx, admin, other); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "has permissions in vhost "+n) {
		t.Fatalf("user with permissions elsewhere: %v", err)
	}
	if err := Remove(ctx, admin, s.Names, RemoveOptions{Confirm: n}); !errors.Is(err, ErrConflict) {
		t.Fatalf("remove of a foreign vhost: %v", err)
	}
	admin.do(ctx, "DELETE", nil, nil, "permissions", n, other.Names.Role)
	// An administrator of the instance's name.
	admin.do(ctx, "DELETE", nil, nil, "vhosts", n)
	if err := admin.do(ctx, "PUT", map[string]string{"password": "x-password-long-enough", "tags": "administrator"}, nil, "users", n); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(ctx, admin, s); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "tags \"administrator\"") {
		t.Fatalf("provision over an administrator: %v", err)
	}
	if ok, _ := admin.VhostExists(ctx, n); ok {
		t.Fatal("a vhost was created despite the conflict")
	}
}

// Remove deletes vhost, user and secret, twice without complaint, and
// only when confirmed.
func TestRemoveDeletesVhostUserAndSecret(t *testing.T) {
	ctx := context.Background()
	admin, _ := adminFor(t)
	s := instanceFor(t, admin)
	if _, err := Provision(ctx, admin, s); err != nil {
		t.Fatal(err)
	}
	if err := Remove(ctx, admin, s.Names, RemoveOptions{}); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("unconfirmed: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := Remove(ctx, admin, s.Names, RemoveOptions{Confirm: s.Names.Role, SecretsFile: s.SecretsFile}); err != nil {
			t.Fatal(err)
		}
	}
	vh, _ := admin.VhostExists(ctx, s.Names.Role)
	u, _ := admin.UserExists(ctx, s.Names.Role)
	if _, err := os.Stat(s.SecretsFile); vh || u || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("left: vhost %v, user %v, secret %v", vh, u, err)
	}
}

// A's definitions imported into B's vhost: B's user sees A's queues,
// exchanges, bindings and policies there, and A's user still cannot
// get in.
func TestExportReplaceCarriesDefinitionsIntoAnotherVhost(t *testing.T) {
	ctx := context.Background()
	admin, _ := adminFor(t)
	addr, _ := admin.AMQPAddr(ctx)
	a, b := instanceFor(t, admin), instanceFor(t, admin)
	ra, err := Provision(ctx, admin, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Provision(ctx, admin, b)
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := dial(t, URL(addr, ra.User, ra.Password, ra.Vhost))
	ch, _ := conn.Channel()
	if _, err := ch.QueueDeclare("tasks", true, false, false, false, amqp.Table{"x-max-length": int32(100)}); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("events", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("tasks", "task.#", "events", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(ctx, "", "tasks", false, false, amqp.Publishing{Body: []byte("not backed up")}); err != nil {
		t.Fatal(err)
	}
	policy := map[string]any{"pattern": "^tasks$", "definition": map[string]any{"message-ttl": 60000}, "apply-to": "queues"}
	if err := admin.do(ctx, "PUT", policy, nil, "policies", ra.Vhost, "ttl"); err != nil {
		t.Fatal(err)
	}
	// B had a queue of its own, which the replace removes.
	connB, _ := dial(t, URL(addr, rb.User, rb.Password, rb.Vhost))
	chB, _ := connB.Channel()
	if _, err := chB.QueueDeclare("b-only", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	defs, err := Export(ctx, admin, ra.Vhost)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.Queues) != 1 || len(defs.Exchanges) != 1 || len(defs.Bindings) != 1 || len(defs.Policies) != 1 {
		t.Fatalf("exported %d queues, %d exchanges, %d bindings, %d policies", len(defs.Queues), len(defs.Exchanges), len(defs.Bindings), len(defs.Policies))
	}
	data, err := defs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), ra.Vhost) {
		t.Fatalf("definitions name the source vhost: %s", data)
	}
	parsed, err := ParseDefinitions(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // converges when run again
		if err := Replace(ctx, admin, b, parsed); err != nil {
			t.Fatal(err)
		}
	}
	back, err := Export(ctx, admin, rb.Vhost)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != string(data) {
		t.Fatalf("B's definitions after the replace:\n%s\nwant A's:\n%s", again, data)
	}
	connB2, refused := dial(t, URL(addr, rb.User, rb.Password, rb.Vhost))
	if refused {
		t.Fatal("B's user refused on its vhost after the replace")
	}
	chB2, _ := connB2.Channel()
	q, err := chB2.QueueDeclarePassive("tasks", true, false, false, false, amqp.Table{"x-max-length": int32(100)})
	if err != nil {
		t.Fatalf("A's queue is not in B's vhost: %v", err)
	}
	if q.Messages != 0 {
		t.Fatalf("messages were carried: %d", q.Messages)
	}
	if _, refused := dial(t, URL(addr, ra.User, ra.Password, rb.Vhost)); !refused {
		t.Fatal("A's user got into B's vhost after the replace")
	}
	var perms []permission
	admin.do(ctx, "GET", nil, &perms, "vhosts", rb.Vhost, "permissions")
	for _, p := range perms {
		if p.User != rb.User && p.User != admin.User() {
			t.Fatalf("vhost %s grants %s", rb.Vhost, p.User)
		}
	}
}

func TestParseDefinitionsRefusesWhatItDoesNotCarry(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{`, "unexpected end"},
		{"array", `[]`, "cannot unmarshal array"},
		{"users", `{"users":[{"name":"x"}]}`, `unknown key "users"`},
		{"shovel", `{"parameters":[{"component":"shovel","name":"s","value":{}}]}`, "runtime parameters"},
		{"queue without name", `{"queues":[{"durable":true}]}`, `queues[0]: no "name"`},
		{"empty name", `{"exchanges":[{"name":""}]}`, "empty name"},
		{"long name", `{"queues":[{"name":"` + strings.Repeat("q", 256) + `"}]}`, "at most 255 bytes"},
		{"binding type", `{"bindings":[{"source":"a","destination":"b","destination_type":"vhost"}]}`, `destination_type "vhost"`},
		{"policy definition", `{"policies":[{"name":"p","pattern":".*","definition":[]}]}`, `"definition" is not an object`},
		{"object", `{"queues":[1]}`, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinitions([]byte(tc.in))
			if !errors.Is(err, ErrDefinitions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: %v (want %q)", tc.in, err, tc.want)
			}
		})
	}
	d, err := ParseDefinitions([]byte(`{"rabbit_version":"3.10.8","parameters":[],"policies":[{"vhost":"dk-a","name":"p","pattern":"^q","definition":{"message-ttl":1}}],"queues":[{"name":"q","vhost":"dk-a","durable":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Marshal()
	var back map[string][]map[string]any
	json.Unmarshal(b, &back)
	if back["queues"][0]["vhost"] != nil || back["policies"][0]["vhost"] != nil || back["queues"][0]["durable"] != true {
		t.Fatalf("vhost fields kept or fields lost: %s", b)
	}
}

func TestAdminURL(t *testing.T) {
	for _, bad := range []string{"amqp://a:b@h/", "http://h:15672/", "://x"} {
		if _, err := ParseAdminURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	a, err := ParseAdminURL("http://admin:s3cret@mq.example:15672/?amqp=10.0.0.5:5673")
	if err != nil {
		t.Fatal(err)
	}
	if s := a.String(); strings.Contains(s, "s3cret") || s != "admin@mq.example:15672" {
		t.Fatalf("String %q", s)
	}
	if addr, _ := a.AMQPAddr(context.Background()); addr != "10.0.0.5:5673" {
		t.Fatalf("amqp= ignored: %s", addr)
	}
	if u := URL("127.0.0.1:5672", "dk-a", "pw", "dk-a"); u != "amqp://dk-a:pw@127.0.0.1:5672/dk-a" {
		t.Fatal(u)
	}
}
