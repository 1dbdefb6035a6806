package ansible

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/testenv"
)

// The fleet tests run the real ansible-playbook (Debian's ansible-core)
// with this collection against three hosts: systemd-nspawn containers
// booted once per test binary and shared by the tests, each on its own
// loopback address with its own sshd. The deploykit binary is built here
// and installed on them by the deploykit.fleet.install role; the
// application's wheels travel with it (a wheels/ directory its
// requirements file names with --find-links and --no-index).

var (
	dkBinary  string // built by TestMain
	hostsOnce sync.Once
	shared    *nspawn.Hosts
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dkfleet")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dkBinary = filepath.Join(dir, "deploykit")
	if out, err := exec.Command("go", "build", "-o", dkBinary, "../deploykit").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the fleet's hosts:", err)
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fleetHosts returns the three hosts, booting them for the first test
// that asks (the others share them; TestMain powers them off).
func fleetHosts(t testing.TB) *nspawn.Hosts {
	t.Helper()
	testenv.Command(t, "ansible-playbook")
	testenv.Command(t, "ssh")
	hostsOnce.Do(func() { shared = nspawn.BootHostsForTest(t, nspawn.HostsOptions{N: 3}) })
	if shared == nil {
		testenv.Skip(t, "the fleet's hosts could not be booted (see the first test that asked)")
	}
	return shared
}

// fleet is one application deployed with the collection to the hosts:
// its files on the controller, an inventory, and Ansible's settings.
type fleet struct {
	t     testing.TB
	hosts *nspawn.Hosts
	dir   string
	name  string // the instance
	app   string // the application directory (app_src)
	inv   string
	env   []string
}

func randomName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newFleet writes the application (version 1) and the inventory: hosts
// web1…web3 at the hosts' addresses, each one's listen address its own.
func newFleet(t testing.TB, h *nspawn.Hosts) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{t: t, hosts: h, dir: dir, name: randomName("fl"), app: filepath.Join(dir, "app"), inv: filepath.Join(dir, "inventory.ini")}
	var inv strings.Builder
	inv.WriteString("[web]\n")
	for i, x := range h.Hosts {
		fmt.Fprintf(&inv, "web%d ansible_host=%s deploykit_listen_address=%s\n", i+1, x.Address, x.Address)
	}
	inv.WriteString("\n[web:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n")
	if err := os.WriteFile(f.inv, []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"home", "tmp", "cp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	// Only the settings below: no ansible.cfg of the user's or the
	// working directory's.
	if err := os.WriteFile(filepath.Join(dir, "ansible.cfg"), []byte("[defaults]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ssh := strings.Join(append([]string{"-o", "ControlMaster=auto", "-o", "ControlPersist=60s"}, h.SSHOptions()...), " ")
	f.env = append(os.Environ(),
		"ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"),
		"ANSIBLE_COLLECTIONS_PATH="+root,
		"ANSIBLE_HOME="+filepath.Join(dir, "home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"),
		"ANSIBLE_SSH_ARGS="+ssh,
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_PIPELINING=True",
		"ANSIBLE_STDOUT_CALLBACK=results_json",
		"ANSIBLE_CALLBACK_PLUGINS="+filepath.Join(root, "testdata", "callback_plugins"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_DEPRECATION_WARNINGS=False",
		"ANSIBLE_FORKS=5",
	)
	f.writeApp(t, "1", "")
	return f
}

// writeApp writes the application at version; a non-empty command
// replaces the web service's (a release that does not start).
func (f *fleet) writeApp(t testing.TB, version, command string) {
	t.Helper()
	src, err := os.ReadFile("../../instance/testdata/app/server.py")
	if err != nil {
		t.Fatal(err)
	}
	wh := testenv.GetWheelhouse(t)
	six, err := filepath.Glob(filepath.Join(wh.Dir, "six-*.whl"))
	if err != nil || len(six) != 1 {
		t.Fatalf("six's wheel in %s: %v %v", wh.Dir, six, err)
	}
	whl, err := os.ReadFile(six[0])
	if err != nil {
		t.Fatal(err)
	}
	if command == "" {
		command = fmt.Sprintf(`["python", "/srv/apps/%s/server.py"]`, f.name)
	}
	files := map[string]string{
		"server.py":                       string(src),
		"requirements.txt":                "--no-index\n--find-links ./wheels\nsix\n",
		"wheels/" + filepath.Base(six[0]): string(whl),
		"migrations/0001_notes.sql":       "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n",
		"app.toml": fmt.Sprintf(`name = "fleetapp"
python = ">=3.8"
requirements = ["requirements.txt"]
[env]
APP_VERSION = %q
[database]
migrations = "migrations"
[services.web]
command = %s
listen = true
`, version, command),
	}
	for name, content := range files {
		p := filepath.Join(f.app, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// playResult is what ansible-playbook's json callback reports.
type playResult struct {
	Plays []struct {
		Tasks []struct {
			Task struct {
				Name string `json:"name"`
			} `json:"task"`
			Hosts map[string]map[string]any `json:"hosts"`
		} `json:"tasks"`
	} `json:"plays"`
	Stats map[string]struct {
		Ok          int `json:"ok"`
		Changed     int `json:"changed"`
		Failures    int `json:"failures"`
		Unreachable int `json:"unreachable"`
		Skipped     int `json:"skipped"`
	} `json:"stats"`
	Elapsed time.Duration `json:"-"`
	Code    int           `json:"-"`
	Output  string        `json:"-"`
}

// task returns each host's result of the named task (the last run of it).
func (r *playResult) task(name string) map[string]map[string]any {
	var out map[string]map[string]any
	for _, p := range r.Plays {
		for _, tk := range p.Tasks {
			if tk.Task.Name == name {
				if out == nil {
					out = map[string]map[string]any{}
				}
				for h, res := range tk.Hosts {
					out[h] = res
				}
			}
		}
	}
	return out
}

// taskOn is task, and fails the test unless the task reported on all n
// hosts: a name that matches nothing would make checks of its results
// pass vacuously. A role's task is named "ROLE : NAME".
func (r *playResult) taskOn(t testing.TB, name string, n int) map[string]map[string]any {
	t.Helper()
	res := r.task(name)
	if len(res) != n {
		t.Fatalf("task %q reported on %d hosts, want %d:\n%s", name, len(res), n, r.Output)
	}
	return res
}

// installTask is the install role's task that runs the package manager;
// refreshTask refreshes apt's lists before it, on hosts that lack something.
const (
	installTask = "deploykit.fleet.install : Install the missing packages"
	refreshTask = "deploykit.fleet.install : Refresh apt's package lists"
)

// play runs a playbook of playbooks/ with the fleet's variables plus vars.
func (f *fleet) play(t testing.TB, playbook string, vars map[string]any, args ...string) *playResult {
	t.Helper()
	all := map[string]any{"deploykit_binary": dkBinary, "deploykit_instance": f.name, "app_src": f.app}
	for k, v := range vars {
		all[k] = v
	}
	b, _ := json.Marshal(all)
	vf := filepath.Join(f.dir, "vars.json")
	if err := os.WriteFile(vf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if !strings.Contains(playbook, "/") {
		playbook = filepath.Join("playbooks", playbook)
	}
	argv := append([]string{"-i", f.inv, "-e", "@" + vf, playbook}, args...)
	cmd := exec.CommandContext(ctx, "ansible-playbook", argv...)
	cmd.Env = f.env
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := &playResult{Elapsed: time.Since(start), Output: so.String() + se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ansible-playbook %s: %v\n%s", playbook, err, r.Output)
	}
	if jerr := json.Unmarshal(so.Bytes(), r); jerr != nil {
		t.Fatalf("ansible-playbook %s (exit %d): its json output: %v\n%s", playbook, r.Code, jerr, r.Output)
	}
	t.Logf("ansible-playbook %s %s: exit %d in %v, stats %+v", playbook, strings.Join(args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stats)
	if testing.Verbose() {
		for _, p := range r.Plays {
			for _, tk := range p.Tasks {
				var line []string
				for _, h := range sortedKeys(tk.Hosts) {
					res := tk.Hosts[h]
					s := fmt.Sprintf("%s %.2fs", h, res["_seconds"])
					if d, ok := res["deploykit_seconds"].(float64); ok {
						s += fmt.Sprintf(" (deploykit %.2fs)", d)
					}
					line = append(line, s)
				}
				t.Logf("  %-50s %s", tk.Task.Name, strings.Join(line, ", "))
			}
		}
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ok fails the test unless the play succeeded on every host.
func (r *playResult) ok(t testing.TB) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("ansible-playbook failed (exit %d):\n%s", r.Code, r.Output)
	}
}

// hostStatus is `deploykit status --json` on host x (nil: no instance).
type hostStatus struct {
	Current       string         `json:"current"`
	ListenAddress string         `json:"listen_address"`
	Ports         map[string]int `json:"ports"`
	Releases      []struct {
		ID string `json:"id"`
	} `json:"releases"`
	Services []struct {
		Component string `json:"component"`
		State     string `json:"state"`
		PID       int    `json:"pid"`
	} `json:"services"`
}

func (f *fleet) status(t testing.TB, x *nspawn.Host) *hostStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := x.Command(ctx, "/usr/local/bin/deploykit", "status", f.name, "--json").Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		return nil
	}
	if err != nil {
		t.Fatalf("%s: deploykit status: %v %s", x.Address, err, out)
	}
	var st hostStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("%s: %v: %s", x.Address, err, out)
	}
	return &st
}

// answer is what the test application says.
type answer struct {
	Instance string `json:"instance"`
	Version  string `json:"version"`
}

func get(addr string, port int) (answer, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/")
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%s: %v: %s", resp.Status, err, b)
	}
	return a, nil
}

// serving checks every host serves the instance at version on its own
// address, on one port, the same on all; it returns that port.
func (f *fleet) serving(t testing.TB, version, release string) int {
	t.Helper()
	port := 0
	for _, x := range f.hosts.Hosts {
		st := f.status(t, x)
		if st == nil {
			t.Fatalf("%s: no instance %s", x.Address, f.name)
		}
		if st.Current != release || st.ListenAddress != x.Address {
			t.Fatalf("%s: release %s on %s, want %s on %s", x.Address, st.Current, st.ListenAddress, release, x.Address)
		}
		p := st.Ports["web"]
		if port == 0 {
			port = p
		} else if p != port {
			t.Fatalf("%s: port %d, another host has %d: ports differ across hosts", x.Address, p, port)
		}
		a, err := get(x.Address, p)
		if err != nil || a.Instance != f.name || a.Version != version {
			t.Fatalf("%s:%d answered %+v %v, want %s version %s", x.Address, p, a, err, f.name, version)
		}
	}
	return port
}

// hostSh runs a shell script on host x and returns its output.
func hostSh(t testing.TB, x *nspawn.Host, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := x.Exec(ctx, "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %s: %v", x.Address, script, err)
	}
	return strings.TrimSpace(string(out))
}

// haproxy runs HAProxy on 127.0.0.1 in front of the hosts (servers web1…
// named as in the inventory, health-checked) with an admin socket the
// rolling upgrade drains them through; it returns the frontend's port
// and the socket.
func haproxy(t testing.TB, f *fleet, port int) (int, string) {
	t.Helper()
	bin := testenv.Command(t, "haproxy")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sock := filepath.Join(f.dir, "haproxy.sock")
	var servers strings.Builder
	for i, x := range f.hosts.Hosts {
		fmt.Fprintf(&servers, "    server web%d %s:%d check\n", i+1, x.Address, port)
	}
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend fe
    bind 127.0.0.1:%d
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /
    default-server inter 300ms fall 2 rise 1
%s`, sock, front, servers.String())
	cf := filepath.Join(f.dir, "haproxy.cfg")
	if err := os.WriteFile(cf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if a, err := get("127.0.0.1", front); err == nil && a.Instance == f.name {
			return front, sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy on 127.0.0.1:%d does not answer:\n%s", front, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleetWithAnsible deploys one application to three hosts with the
// collection's playbooks and checks, step by step: site.yml deploys it to
// each host, on the host's own address and one port, the install role
// first putting PostgreSQL's server on the host that lacks it with apt,
// from a mirror on 127.0.0.1; a second run changes nothing; check mode on a changed application reports the change and
// makes none; rolling-upgrade.yml upgrades the hosts one by one while
// requests go through HAProxy, with none failing; a release that fails its
// health check stops the rolling upgrade at the first host, rolled back
// there, the others untouched; state absent leaves nothing of the instance
// on any host.
func TestFleetWithAnsible(t *testing.T) {
	h := fleetHosts(t)
	f := newFleet(t, h)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"site installs what a host lacks and deploys to three hosts", func(t *testing.T) {
			// web1 lacks PostgreSQL's server binaries, which the embedded
			// cluster needs: the install role puts them there with apt, from
			// a mirror on 127.0.0.1; web2 and web3 have them.
			start := time.Now()
			mirror := withoutPostgresServer(t, h.Hosts[0])
			t.Logf("web1 without PostgreSQL's server, apt's source %s: %v", mirror.URL, time.Since(start).Round(time.Millisecond))
			r := f.play(t, "site.yml", nil)
			r.ok(t)
			for host, res := range r.taskOn(t, "Converge the instance to the spec", len(h.Hosts)) {
				if res["changed"] != true || res["release"] != "r1" {
					t.Fatalf("%s: %v", host, res)
				}
			}
			installed := r.taskOn(t, installTask, len(h.Hosts))
			for i := range h.Hosts {
				host := fmt.Sprintf("web%d", i+1)
				res := installed[host]
				if i == 0 && (res["changed"] != true || res["failed"] == true) {
					t.Fatalf("%s lacks PostgreSQL's server; the role's package task: %v", host, res)
				}
				if i > 0 && res["skipped"] != true {
					t.Fatalf("%s: the role ran the package manager on a host that has everything: %v", host, res)
				}
			}
			// web1's apt had no lists (withoutPostgresServer): the role
			// refreshed them there, and nowhere else.
			for host, res := range r.taskOn(t, refreshTask, len(h.Hosts)) {
				if refreshed := res["skipped"] != true && res["failed"] != true; refreshed != (host == "web1") {
					t.Fatalf("%s: the role's apt refresh: %v", host, res)
				}
			}
			t.Logf("web1's package task: %.1fs", installed["web1"]["_seconds"])
			if got := mirror.fetched(); len(got) != len(postgresServerPackages) || !strings.HasPrefix(got[0], "postgresql-15_") || !strings.HasPrefix(got[1], "postgresql_") {
				t.Fatalf("web1's apt fetched %q from the mirror, want postgresql and postgresql-15", got)
			}
			// The embedded cluster runs on the binaries the role installed.
			if got := hostSh(t, h.Hosts[0], `dpkg-query -W -f '${db:Status-Abbrev}${Package}\n' `+strings.Join(postgresServerPackages, " ")+`
ls /usr/lib/postgresql/*/bin/initdb
readlink /proc/$(head -1 /srv/deploykit/postgres/data/postmaster.pid)/exe`); !regexp.MustCompile(`^ii +postgresql\nii +postgresql-15\n/usr/lib/postgresql/15/bin/initdb\n/usr/lib/postgresql/15/bin/postgres$`).MatchString(got) {
				t.Fatalf("web1 after the install role: %q", got)
			}
			f.serving(t, "1", "r1")
		}},
		{"a second run changes nothing", func(t *testing.T) {
			pids := map[string]int{}
			for _, x := range h.Hosts {
				pids[x.Address] = f.status(t, x).Services[0].PID
			}
			r := f.play(t, "site.yml", nil)
			r.ok(t)
			if len(r.Stats) != len(h.Hosts) {
				t.Fatalf("stats of %d hosts: %+v", len(r.Stats), r.Stats)
			}
			for host, s := range r.Stats {
				if s.Changed != 0 || s.Failures != 0 {
					t.Fatalf("%s: changed=%d failures=%d on the second run", host, s.Changed, s.Failures)
				}
			}
			// The role found Python and PostgreSQL's binaries, web1's
			// installed by the first run: no package manager, no network.
			for host, res := range r.taskOn(t, installTask, len(h.Hosts)) {
				if res["skipped"] != true {
					t.Fatalf("%s: the role ran the package manager on a host that has everything: %v", host, res)
				}
			}
			for _, x := range h.Hosts {
				if pid := f.status(t, x).Services[0].PID; pid != pids[x.Address] {
					t.Fatalf("%s: web restarted by an unchanged run (pid %d, was %d)", x.Address, pid, pids[x.Address])
				}
			}
		}},
		{"check mode plans a change and makes none", func(t *testing.T) {
			f.writeApp(t, "2", "")
			r := f.play(t, "site.yml", nil, "--check", "--diff")
			r.ok(t)
			for host, res := range r.taskOn(t, "Converge the instance to the spec", len(h.Hosts)) {
				plan, _ := res["plan"].(map[string]any)
				if res["changed"] != true || plan["action"] != "upgrade" || plan["dry_run"] != true {
					t.Fatalf("%s: check mode: %v", host, res)
				}
				// --diff: the release and its packages, before and after.
				diff, _ := res["diff"].(map[string]any)
				if diff["before"] != "release: r1\nsix==1.16.0\n" || diff["after"] != "release: r2\nsix==1.16.0\n" {
					t.Fatalf("%s: diff %v", host, res["diff"])
				}
			}
			for host, s := range r.Stats {
				if s.Changed == 0 {
					t.Fatalf("%s: check mode on a changed application reports no change", host)
				}
			}
			f.serving(t, "1", "r1")
			for _, x := range h.Hosts {
				if got := hostSh(t, x, "grep APP_VERSION /srv/apps/"+f.name+"/app.toml; ls /srv/deploykit/instances/"+f.name+"/releases; ls /tmp | grep -c deploykit-plan || true"); got != "APP_VERSION = \"1\"\nr1\n0" {
					t.Fatalf("%s: after check mode: %q", x.Address, got)
				}
			}
		}},
		{"rolling upgrade under load through HAProxy", func(t *testing.T) {
			port := f.serving(t, "1", "r1")
			front, sock := haproxy(t, f, port)
			stop := testenv.HTTPLoad(t, front, 4, 5*time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			r := f.play(t, "rolling-upgrade.yml", map[string]any{"lb_admin_socket": sock})
			time.Sleep(300 * time.Millisecond)
			okN, failN := stop()
			t.Logf("requests through HAProxy during the rolling upgrade: %d ok, %d failed", okN, failN)
			r.ok(t)
			if failN != 0 || okN < 100 {
				t.Fatalf("%d requests failed during the rolling upgrade (%d ok)", failN, okN)
			}
			f.serving(t, "2", "r2")
		}},
		{"a failing release stops the rolling upgrade at the first host", func(t *testing.T) {
			f.writeApp(t, "3", `["python", "-c", "raise SystemExit(3)"]`)
			r := f.play(t, "rolling-upgrade.yml", nil)
			if r.Code == 0 {
				t.Fatalf("the rolling upgrade of a failing release succeeded:\n%s", r.Output)
			}
			if s := r.Stats["web1"]; s.Failures != 1 {
				t.Fatalf("web1: %+v", s)
			}
			for _, host := range []string{"web2", "web3"} {
				if s := r.Stats[host]; s.Ok+s.Changed+s.Failures > 0 {
					t.Fatalf("%s was worked on after web1 failed: %+v", host, s)
				}
			}
			res := r.task("Upgrade the instance")["web1"]
			if msg, _ := res["msg"].(string); !strings.Contains(msg, "rolled back") || !strings.Contains(msg, "web") {
				t.Fatalf("web1's failure does not say what failed: %v", res)
			}
			f.serving(t, "2", "r2") // web1 rolled back, web2 and web3 untouched
		}},
		{"the modules: stopped, started, restarted, instance_info, backup", func(t *testing.T) {
			r := f.play(t, "testdata/modules.yml", nil)
			r.ok(t)
			res := func(task string) map[string]any { return r.task(task)["web1"] }
			for task, changed := range map[string]bool{"Stop": true, "Stop again": false, "Start": true, "Start again": false, "Restart": true,
				"Backup": true, "Backup again without force": false} {
				if got := res(task)["changed"]; got != changed {
					t.Errorf("%s: changed %v, want %v: %v", task, got, changed, res(task))
				}
			}
			if svcs, _ := res("Start")["services"].([]any); len(svcs) != 1 || svcs[0].(map[string]any)["state"] != "active" {
				t.Errorf("Start: services %v", res("Start")["services"])
			}
			inst, _ := res("Info")["instance"].(map[string]any)
			if inst["current"] != "r2" || inst["listen_address"] != h.Hosts[0].Address || res("Info")["exists"] != true {
				t.Errorf("Info: %v", res("Info"))
			}
			if res("Info of a missing instance")["exists"] != false {
				t.Errorf("Info of a missing instance: %v", res("Info of a missing instance"))
			}
			if all, _ := res("Info of all")["instances"].([]any); len(all) != 1 {
				t.Errorf("Info of all: %v", res("Info of all"))
			}
			if b, _ := res("Backup")["backup"].(map[string]any); b["path"] != "/var/tmp/fleet-test.dkb" || b["instance"] != f.name {
				t.Errorf("Backup: %v", res("Backup"))
			}
			hostSh(t, h.Hosts[0], "/usr/local/bin/deploykit verify /var/tmp/fleet-test.dkb && rm /var/tmp/fleet-test.dkb")
			if msg, _ := res("A spec that does not exist fails with deploykit's message")["msg"].(string); !strings.Contains(msg, "/nonexistent/app.toml") {
				t.Errorf("a missing spec: %v", res("A spec that does not exist fails with deploykit's message"))
			}
			f.serving(t, "2", "r2")
		}},
		{"state absent removes the instance everywhere", func(t *testing.T) {
			r := f.play(t, "site.yml", map[string]any{"deploykit_state": "absent"})
			r.ok(t)
			for _, x := range h.Hosts {
				if st := f.status(t, x); st != nil {
					t.Fatalf("%s: the instance is still there: %+v", x.Address, st)
				}
				left := hostSh(t, x, fmt.Sprintf(`getent passwd dk-%[1]s; getent group dk-%[1]s
ls /etc/systemd/system | grep -- '-%[1]s' ; ls -d /srv/deploykit/instances/%[1]s /srv/apps/%[1]s 2>/dev/null
port=$(sed -n 's/^port = //p' /srv/deploykit/postgres/data/deploykit.conf)
runuser -u postgres -- psql -h /srv/deploykit/postgres/run -p "$port" -d postgres -Atc "SELECT 'role ' || rolname FROM pg_roles WHERE rolname = 'dk-%[1]s' UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datname = 'dk-%[1]s'"
true`, f.name))
				if left != "" {
					t.Fatalf("%s: left behind by state absent:\n%s", x.Address, left)
				}
			}
			r = f.play(t, "site.yml", map[string]any{"deploykit_state": "absent"})
			r.ok(t)
			for host, s := range r.Stats {
				if s.Changed != 0 {
					t.Fatalf("%s: a second absent run changed something", host)
				}
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
