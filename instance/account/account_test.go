package account

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// fakeRoot makes an empty passwd/group database for useradd --prefix.
func fakeRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"passwd": 0o644, "group": 0o644, "shadow": 0o600, "gshadow": 0o600} {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// openTempDir returns a temporary directory every user can traverse (a
// t.TempDir sits in a 0700 parent, closed to the instance users).
func openTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "dkacct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// privileged returns a Manager over a private passwd database with uids in
// a range the host does not use.
func privileged(t *testing.T) *Manager {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.Command(t, "useradd")
	m, err := New(Options{Root: fakeRoot(t), UIDMin: 61000, UIDMax: 61999})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnsureLookupRemoveAreIdempotent(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	if _, err := m.Lookup(ctx, "prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup before Ensure: %v, want ErrNotFound", err)
	}
	a, err := m.Ensure(ctx, "prod", "/srv/x/instances/prod")
	if err != nil {
		t.Fatal(err)
	}
	if a.User != "dk-prod" || a.Group != "dk-prod" || a.UID < 61000 || a.UID > 61999 || a.GID < 61000 || !a.Privileged {
		t.Fatalf("account %+v", a)
	}
	b, err := m.Ensure(ctx, "prod", "/srv/x/instances/prod")
	if err != nil {
		t.Fatal(err)
	}
	if *a != *b {
		t.Fatalf("second Ensure changed the account: %+v -> %+v", a, b)
	}
	passwd, _ := os.ReadFile(filepath.Join(m.opts.Root, "etc", "passwd"))
	if !strings.Contains(string(passwd), "dk-prod:x:"+strconv.Itoa(a.UID)+":"+strconv.Itoa(a.GID)+":deploykit instance prod:/srv/x/instances/prod:/usr/sbin/nologin") {
		t.Fatalf("passwd:\n%s", passwd)
	}
	other, err := m.Ensure(ctx, "staging", "/srv/x/instances/staging")
	if err != nil {
		t.Fatal(err)
	}
	if other.UID == a.UID || other.GID == a.GID {
		t.Fatalf("two instances share ids: %+v %+v", a, other)
	}
	for i := 0; i < 2; i++ {
		if err := m.Remove(ctx, "prod"); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if _, err := m.Lookup(ctx, "prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after Remove: %v", err)
	}
	group, _ := os.ReadFile(filepath.Join(m.opts.Root, "etc", "group"))
	if strings.Contains(string(group), "dk-prod:") || !strings.Contains(string(group), "dk-staging:") {
		t.Fatalf("group after Remove:\n%s", group)
	}
}

func TestEnsureRefusesForeignUser(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	if _, err := m.Ensure(ctx, "web", "/srv/a/instances/web"); err != nil {
		t.Fatal(err)
	}
	// Same name, another root's home: not ours to take over.
	_, err := m.Ensure(ctx, "web", "/srv/b/instances/web")
	if !errors.Is(err, ErrForeignUser) || !strings.Contains(err.Error(), "/srv/a/instances/web") {
		t.Fatalf("Ensure with another home: %v, want ErrForeignUser naming the home", err)
	}
	// A user whose primary group is someone else's.
	if err := m.run(ctx, "useradd", "--prefix", m.opts.Root, "--system", "--no-user-group", "--gid", "dk-web", "dk-intruder"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(ctx, "intruder", "/srv/a/instances/intruder"); !errors.Is(err, ErrForeignUser) {
		t.Fatalf("Ensure over a user without its own group: %v", err)
	}
}

func TestInvalidNamesAreRejectedBeforeAnyChange(t *testing.T) {
	ctx := context.Background()
	m, err := New(Options{Root: t.TempDir(), Unprivileged: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"", "Prod", "1abc", "a_b", "a.b", "a b", "-a", "abcdefghijklmnopqrstuvwxy", "ü", "a/b", "a\x00"} {
		if _, err := m.Ensure(ctx, n, "/srv/x"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Ensure(%q): %v, want ErrInvalidName", n, err)
		}
		var ne *NameError
		if err := ValidateName(n); !errors.As(err, &ne) || ne.Name != n {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	if _, err := m.Ensure(ctx, "ok", "relative/home"); err == nil {
		t.Error("relative home accepted")
	}
	if _, err := New(Options{Prefix: "Bad_"}); err == nil {
		t.Error("bad prefix accepted")
	}
	if _, err := New(Options{UIDMin: 10}); err == nil {
		t.Error("half a uid range accepted")
	}
}

func TestNamesFor(t *testing.T) {
	n, err := NamesFor("", "my-branch2")
	if err != nil {
		t.Fatal(err)
	}
	want := Names{Instance: "my-branch2", User: "dk-my-branch2", Group: "dk-my-branch2", Role: "dk-my-branch2", Database: "dk-my-branch2"}
	if n != want {
		t.Fatalf("NamesFor = %+v", n)
	}
	if back, ok := NameFor("", n.Role); !ok || back != "my-branch2" {
		t.Fatalf("NameFor(%q) = %q, %v", n.Role, back, ok)
	}
	if _, ok := NameFor("", "postgres"); ok {
		t.Fatal("NameFor(postgres) claims an instance")
	}
	long := strings.Repeat("a", MaxNameLen)
	if n, err := NamesFor("", long); err != nil || len(n.User) > 32 {
		t.Fatalf("longest name: %v %q", err, n.User)
	}
}

// The map from instance names to system names is injective and inverted by
// NameFor; every valid name yields a valid Unix user name of <= 32 bytes
// and a PostgreSQL identifier of <= 63 bytes.
func FuzzNamesFor(f *testing.F) {
	for _, s := range []string{"a", "prod", "my-branch", "a-b", "a--", strings.Repeat("z", 24), "A", "a_b", ""} {
		f.Add(s, "a-b")
	}
	f.Fuzz(func(t *testing.T, x, y string) {
		nx, errx := NamesFor("", x)
		ny, erry := NamesFor("", y)
		if errx != nil {
			if !errors.Is(errx, ErrInvalidName) {
				t.Fatalf("NamesFor(%q): %v", x, errx)
			}
			return
		}
		if len(nx.User) > 32 || len(nx.Role) > 63 {
			t.Fatalf("NamesFor(%q) too long: %+v", x, nx)
		}
		for i := 0; i < len(nx.User); i++ {
			c := nx.User[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("NamesFor(%q): user %q has %q", x, nx.User, c)
			}
		}
		if back, ok := NameFor("", nx.User); !ok || back != x {
			t.Fatalf("NameFor(NamesFor(%q)) = %q, %v", x, back, ok)
		}
		if erry == nil && x != y && (nx.User == ny.User || nx.Role == ny.Role || nx.Database == ny.Database) {
			t.Fatalf("collision: %q and %q -> %+v", x, y, nx)
		}
	})
}

func FuzzParsePasswd(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\n# c\n\n+nis\n")
	f.Add("dk-a:x:61000:61000:deploykit instance a:/srv/a:/usr/sbin/nologin\n")
	f.Add("bad:x:01:0::/:/bin/sh\n")
	f.Fuzz(func(t *testing.T, s string) {
		us, err := ParsePasswd("passwd", []byte(s))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without line: %v", err)
			}
			return
		}
		for _, u := range us {
			if u.Name == "" || u.UID < 0 || u.GID < 0 {
				t.Fatalf("bad entry %+v", u)
			}
		}
		_, _ = ParseGroup("group", []byte(s))
	})
}

func TestParsePasswdErrorsNameTheLine(t *testing.T) {
	_, err := ParsePasswd("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\nbroken:x:1\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "/etc/passwd" || pe.Line != 2 {
		t.Fatalf("err = %v", err)
	}
	gs, err := ParseGroup("group", []byte("dk-a:x:61000:x,y\nempty:x:5:\n"))
	if err != nil || len(gs) != 2 || len(gs[0].Members) != 2 || gs[1].Members != nil {
		t.Fatalf("ParseGroup = %+v, %v", gs, err)
	}
}

func TestUnprivilegedModeWarnsAndUsesTheCaller(t *testing.T) {
	ctx := context.Background()
	var logged bytes.Buffer
	m, err := New(Options{Unprivileged: true, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Ensure(ctx, "dev", "/srv/x/instances/dev")
	if err != nil {
		t.Fatal(err)
	}
	if m.Privileged() || m.Warning() == "" || !strings.Contains(logged.String(), "uid isolation is OFF") || !strings.Contains(logged.String(), "instance=dev") {
		t.Fatalf("no warning: privileged=%v warning=%q log=%q", m.Privileged(), m.Warning(), logged.String())
	}
	if a.UID != os.Getuid() || a.Privileged || a.Credential() != nil || a.Role != "dk-dev" || a.Database != "dk-dev" {
		t.Fatalf("unprivileged account %+v", a)
	}
	if err := m.Remove(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
}

func TestCommandRunsAsTheAccountWithACleanEnvironment(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	home := openTempDir(t)
	a, err := m.Ensure(ctx, "run", home)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DEPLOYKIT_LEAK", "secret")
	cmd, err := a.Command(ctx, []string{"sh", "-c", `id -u; id -g; id -G; env | sort`}, []string{"APP=1", "PATH=/usr/bin:/bin"}, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	uid, gid := strconv.Itoa(a.UID), strconv.Itoa(a.GID)
	if lines[0] != uid || lines[1] != gid || lines[2] != gid {
		t.Fatalf("ids: %q, want uid %s gid %s groups %s only", lines[:3], uid, gid, gid)
	}
	env := strings.Join(lines[3:], "\n")
	for _, want := range []string{"APP=1", "HOME=" + home, "USER=dk-run", "PATH=/usr/bin:/bin"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "DEPLOYKIT_LEAK") {
		t.Errorf("caller's environment leaked:\n%s", env)
	}
	if _, err := a.Command(ctx, nil, nil, ""); err == nil {
		t.Error("empty argv accepted")
	}
	if _, err := a.Command(ctx, []string{"no-such-program-xyz"}, nil, ""); err == nil {
		t.Error("missing program accepted")
	}
}

// instanceTree lays out an instance directory like the instance package.
func instanceTree(t *testing.T, base, name string) Tree {
	t.Helper()
	dir := filepath.Join(base, name)
	files := map[string]string{
		"instance.toml":                "name = 'x'\n",
		"releases/r1/venv/bin/python":  "#!/bin/sh\n",
		"releases/r1/venv/lib/site.py": "x = 1\n",
		"data/db.txt":                  "private data of " + name,
		"data/sub/deep.txt":            "deep",
		"log/app.log":                  "log of " + name,
		"run/app.pid":                  "1",
		"secrets/database-password":    "pw-" + name,
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "releases/r1/venv/bin/python"), 0o777|os.ModeSetuid|os.ModeSetgid)
	return Tree{
		Dir:      dir,
		Private:  []string{filepath.Join(dir, "instance.toml")},
		Code:     []string{filepath.Join(dir, "releases")},
		Writable: []string{filepath.Join(dir, "data"), filepath.Join(dir, "run"), filepath.Join(dir, "log")},
		Secrets:  filepath.Join(dir, "secrets"),
	}
}

// runAs runs a shell snippet as the account and returns its combined output
// and whether it succeeded.
func runAs(t *testing.T, a *Account, script string, args ...string) (string, bool) {
	t.Helper()
	cmd, err := a.Command(context.Background(), append([]string{"sh", "-c", script, "sh"}, args...), []string{"LC_ALL=C"}, "/")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// The point of the package: a process of instance A cannot read or change
// B's files, and cannot change its own code — the kernel says EACCES.
func TestInstancesCannotReadEachOthersFiles(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	base := openTempDir(t)
	trees := map[string]Tree{}
	accts := map[string]*Account{}
	for _, n := range []string{"a", "b"} {
		tr := instanceTree(t, base, n)
		acct, err := m.Ensure(ctx, n, tr.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := acct.Secure(ctx, tr); err != nil {
			t.Fatal(err)
		}
		if err := acct.Secure(ctx, tr); err != nil {
			t.Fatalf("second Secure: %v", err)
		}
		trees[n], accts[n] = tr, acct
	}
	a, b := accts["a"], trees["b"]
	own := trees["a"]

	// Right after Secure, nothing in data, run, log or secrets is accessible to others at all.
	for _, top := range append(append([]string{}, own.Writable...), own.Secrets) {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := d.Info(); fi.Mode().Perm()&0o007 != 0 {
				t.Errorf("%s: mode %04o gives others access", p, fi.Mode().Perm())
			}
			return nil
		})
	}

	// A reads and writes its own things.
	for _, f := range []string{"data/db.txt", "data/sub/deep.txt", "log/app.log", "secrets/database-password", "releases/r1/venv/lib/site.py", "instance.toml"} {
		if out, ok := runAs(t, a, `cat "$1"`, filepath.Join(own.Dir, f)); !ok {
			t.Errorf("A cannot read its own %s: %s", f, out)
		}
	}
	if out, ok := runAs(t, a, `echo more >> "$1" && mkdir "$2"`, filepath.Join(own.Dir, "data/db.txt"), filepath.Join(own.Dir, "data/new")); !ok {
		t.Errorf("A cannot write its data: %s", out)
	}
	// A cannot change its code or its instance directory.
	for _, script := range []string{
		`echo evil >> "$1/releases/r1/venv/lib/site.py"`,
		`touch "$1/releases/r1/venv/lib/evil.py"`,
		`rm -f "$1/releases/r1/venv/bin/python"`,
		`touch "$1/evil"`,
		`chmod 0777 "$1/releases"`,
	} {
		if out, ok := runAs(t, a, script, own.Dir); ok || !strings.Contains(out, "ermission denied") && !strings.Contains(out, "not permitted") {
			t.Errorf("A could: %s (%s)", script, out)
		}
	}
	// A can neither read nor list nor write B's anything.
	for _, f := range []string{"", "data", "data/db.txt", "log/app.log", "secrets/database-password", "secrets", "releases/r1/venv/lib/site.py", "instance.toml"} {
		p := filepath.Join(b.Dir, f)
		out, ok := runAs(t, a, `if [ -d "$1" ]; then ls "$1"; else cat "$1"; fi`, p)
		if ok || !strings.Contains(out, "Permission denied") {
			t.Errorf("A reading B's %q: ok=%v %q, want EACCES", f, ok, out)
		}
	}
	if out, ok := runAs(t, a, `echo x > "$1"`, filepath.Join(b.Dir, "data", "planted")); ok || !strings.Contains(out, "Permission denied") {
		t.Errorf("A wrote into B's data: %s", out)
	}

	// Modes as documented, and nothing world-accessible.
	check := func(rel string, mode os.FileMode, uid int) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(own.Dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != mode || int(st.Uid) != uid {
			t.Errorf("%s: mode %04o uid %d, want %04o uid %d", rel, fi.Mode().Perm(), st.Uid, mode, uid)
		}
	}
	check(".", 0o750, 0)
	check("instance.toml", 0o640, 0)
	check("releases", 0o750, 0)
	check("releases/r1/venv/bin/python", 0o755, 0)
	if fi, _ := os.Stat(filepath.Join(own.Dir, "releases/r1/venv/bin/python")); fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
		t.Errorf("setuid/setgid kept on a root-owned code file: %v", fi.Mode())
	}
	check("releases/r1/venv/lib/site.py", 0o644, 0)
	check("data", 0o750, a.UID)
	check("data/db.txt", 0o640, a.UID)
	check("secrets", 0o700, a.UID)
	check("secrets/database-password", 0o600, a.UID)
}

// Root walking an instance's writable tree must not follow a symlink the
// instance planted there to make root chown or chmod something else.
func TestSecureDoesNotFollowSymlinks(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	base := t.TempDir()
	tr := instanceTree(t, base, "s")
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(tr.Dir, "data", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(tr.Dir, "log", "dirlink")); err != nil {
		t.Fatal(err)
	}
	a, err := m.Ensure(ctx, "s", tr.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Secure(ctx, tr); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{outside, base} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
			t.Errorf("%s was chowned through a symlink to uid %d", p, st.Uid)
		}
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s was chmodded through a symlink: %04o", outside, fi.Mode().Perm())
	}
	// A symlink as a top directory is refused.
	if err := os.Symlink(base, filepath.Join(base, "toplink")); err != nil {
		t.Fatal(err)
	}
	if err := a.Secure(ctx, Tree{Writable: []string{filepath.Join(base, "toplink")}}); err == nil {
		t.Error("Secure followed a top-level symlink")
	}
}

// Cancelling an unattended command ends its whole process group, not only
// the direct child: a backgrounded grandchild does not outlive it.
func TestGroupCommandCancelKillsTheGroup(t *testing.T) {
	m, err := New(Options{Unprivileged: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Lookup(context.Background(), "grp")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cmd, err := a.GroupCommand(ctx, []string{"sh", "-c", "sleep 60 & sleep 60"}, nil, "/", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	if err := cmd.Wait(); err == nil {
		t.Fatal("cancelled command succeeded")
	}
	// The group is empty once PID 1 has reaped the orphaned grandchild.
	for time.Since(start) < 10*time.Second {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("processes of the cancelled group are still alive")
}

// Ensure is two steps (groupadd, useradd): a crash between them leaves a
// group without its user, which the next Ensure adopts. The longest valid
// name goes through the real useradd.
func TestEnsureConvergesAfterInterruptionAndTakesLongestName(t *testing.T) {
	ctx := context.Background()
	m := privileged(t)
	names, _ := m.Names("half")
	if err := m.run(ctx, "groupadd", append(m.rangeArgs(), "--system", names.Group)...); err != nil {
		t.Fatal(err)
	}
	a, err := m.Ensure(ctx, "half", "/srv/x/instances/half")
	if err != nil {
		t.Fatalf("Ensure after an interrupted one: %v", err)
	}
	group, _ := os.ReadFile(filepath.Join(m.opts.Root, "etc", "group"))
	if strings.Count(string(group), names.Group+":") != 1 || !strings.Contains(string(group), names.Group+":x:"+strconv.Itoa(a.GID)+":") {
		t.Fatalf("group file:\n%s", group)
	}
	long := "a1-" + strings.Repeat("z", MaxNameLen-3)
	la, err := m.Ensure(ctx, long, "/srv/x/instances/"+long)
	if err != nil {
		t.Fatalf("longest name: %v", err)
	}
	if la.User != "dk-"+long {
		t.Fatalf("user %q", la.User)
	}
	if err := m.Remove(ctx, long); err != nil {
		t.Fatal(err)
	}
}
