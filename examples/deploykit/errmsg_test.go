package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// An error the CLI prints should say each thing once: what failed, on what
// (instance, file:line, package, unit) and one next step. sayOnce finds
// where an error does not: a path, quoted string or named thing said
// twice, two content words repeated together ("backup archive: … backup
// archive"), a segment between colons repeated ("instance x: instance
// x"), more than one hint. It looks at the summary, the first line: the
// lines after it are details (a list of candidates, a resolver's
// explanation, the tail of a log) that may well repeat names.

var (
	// pathRE: an absolute path, or a relative one with a directory.
	pathRE   = regexp.MustCompile(`(?:^|[\s"'(=])((?:/|\./|\.\./)[^\s"':,()]+|[\w.-]+/[\w./-]+\.\w+)`)
	quotedRE = regexp.MustCompile(`"([^"]+)"`)
	wordRE   = regexp.MustCompile(`[\w.{}/-]+`)
	// hintRE: an imperative telling the user what to do next.
	hintRE = regexp.MustCompile(`(?im)(?:^|[(;,:.]\s*|\bthen\s+|\bor\s+)(pass|use|run|set|force|try|give|add|install|remove|write|name|choose|start|stop|retry|make|check|fix|free)\b`)
)

// stopwords do not make a repeated pair by themselves.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the to of in on it its is are was be been by as at from for with and or not no
		that this these those which who what when where than then so but if into onto out up down over under
		there here has have had do does did can could may might must should would will shall
		one two any all each every some only also just more most other another own same such
		deploykit`) {
		stopwords[w] = true
	}
}

// sayOnce returns what msg (an error as the CLI prints it, without the
// "deploykit: " prefix) repeats, given the names the invocation used
// (instances, files, packages), which must each appear at most once.
func sayOnce(msg string, names ...string) []string {
	first, _, _ := strings.Cut(msg, "\n")
	var found []string
	add := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		for _, f := range found {
			if f == s {
				return
			}
		}
		found = append(found, s)
	}
	count := func(re *regexp.Regexp, group int, what string) {
		seen := map[string]int{}
		for _, m := range re.FindAllStringSubmatch(first, -1) {
			seen[strings.TrimRight(m[group], ".")]++
		}
		for s, n := range seen {
			if n > 1 {
				add("%s %q said %d times", what, s, n)
			}
		}
	}
	count(pathRE, 1, "path")
	count(quotedRE, 1, "quoted")
	for _, n := range names {
		if n == "" {
			continue
		}
		re := regexp.MustCompile(`(?:^|[^\w./-])` + regexp.QuoteMeta(n) + `(?:$|[^\w/-])`)
		if k := len(re.FindAllStringIndex(first, -1)); k > 1 {
			add("%q said %d times", n, k)
		}
	}
	// Two content words in a row, said twice.
	words := wordRE.FindAllString(strings.ToLower(first), -1)
	pairs := map[string]int{}
	for i := 0; i+1 < len(words); i++ {
		if !stopwords[words[i]] && !stopwords[words[i+1]] {
			pairs[words[i]+" "+words[i+1]]++
		}
	}
	for p, n := range pairs {
		if n > 1 {
			add("%q said %d times", p, n)
		}
	}
	// The same segment between colons twice.
	segs := map[string]int{}
	for _, s := range strings.Split(first, ": ") {
		if s = strings.TrimSpace(s); s != "" {
			segs[strings.ToLower(s)]++
		}
	}
	for s, n := range segs {
		if n > 1 {
			add("segment %q said %d times", s, n)
		}
	}
	// The first word names the operation ("remove x: …"), not a hint.
	var hints []string
	for _, loc := range hintRE.FindAllStringIndex(msg, -1) {
		if loc[0] > 0 {
			hints = append(hints, msg[loc[0]:loc[1]])
		}
	}
	if len(hints) > 1 {
		add("%d hints (%s)", len(hints), strings.Join(hints, " | "))
	}
	return found
}

func TestSayOnceFindsRepeats(t *testing.T) {
	for _, tc := range []struct {
		msg   string
		names []string
		bad   bool
	}{
		// The report that asked for this test.
		{`restore: /tmp/x/bulk.dkb: /tmp/x/bulk.dkb: backup archive: archive belongs to another instance: made from instance "bulk", not "bulk2" (force to restore anyway) (pass --force to restore another instance's backup into bulk2)`,
			[]string{"bulk2", "/tmp/x/bulk.dkb"}, true},
		{`instance bulk: instance bulk: not found`, []string{"bulk"}, true},
		{`/tmp/t.dkb: backup archive: archive is truncated: backup archive: unexpected EOF`, nil, true},
		{`python: invalid version constraint "banana": improper constraint: "banana"`, nil, true},
		{`req.txt: invalid requirements file: could not open requirements file: open req.txt: no such file or directory`, []string{"req.txt"}, true},
		{"bad name\nRun 'deploykit --help' for usage. Use lower-case letters.", nil, true},
		{`instance bulk2: archive /tmp/x/bulk.dkb was made from instance bulk, not bulk2; pass --force to restore it anyway`, []string{"bulk2"}, true},
		// Saying it once.
		{`restore bulk2: /tmp/x/bulk.dkb is a backup of instance bulk (pass --force to restore it into bulk2 anyway)`, []string{"/tmp/x/bulk.dkb"}, false},
		{`instance nosuch: not found`, []string{"nosuch"}, false},
		{`remove deletes the instance x; pass --yes to confirm`, []string{"x"}, false},
		{"lock: no set of versions satisfies the requirements:\nBecause django>=99 needs django>=99 ...", nil, false},
		{`app.toml:3: services.web.command: unknown placeholder {prot} (known: {instance} {home} {venv} {port} {run} {data}; write {{ and }} for literal braces)`, nil, false},
	} {
		got := sayOnce(tc.msg, tc.names...)
		if (len(got) > 0) != tc.bad {
			t.Errorf("sayOnce(%q) = %q, want repeats: %v", tc.msg, got, tc.bad)
		}
	}
}

// TestCLIErrorsSayEachThingOnce drives the CLI through the failures a user
// meets first (bad specs, missing files, unknown instances and components,
// refused and corrupt archives, unsatisfiable requirements, a failed
// upgrade) and checks each error: the documented exit code, the thing at
// fault named, nothing said twice (sayOnce), printed once (no log line
// repeating it).
func TestCLIErrorsSayEachThingOnce(t *testing.T) {
	testenv.NeedRoot(t)
	wh := testenv.GetWheelhouse(t)
	dir := newRoot(t)
	c := &cli{t: t, root: filepath.Join(dir, "root")}
	spec := writeApp(t, dir, wh.Dir, "1")
	a, b := randomName("ea"), randomName("eb")
	t.Cleanup(func() {
		c.run("remove", a, "--yes", "--delete-backups")
		c.run("remove", b, "--yes", "--delete-backups")
	})
	c.ok("create", a, "--spec", spec)
	c.ok("create", b, "--spec", spec)
	archive := filepath.Join(dir, "a.dkb")
	c.ok("backup", a, "-o", archive)

	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole, _ := os.ReadFile(archive)
	truncated := write("trunc.dkb", string(whole[:len(whole)*2/3]))
	notArchive := write("hello.dkb", "hello\n")
	missing := filepath.Join(dir, "missing.dkb")
	syntax := write("bad/syntax.toml", "name = \"a\"\n[services\n")
	unknownKey := write("bad/unknown.toml", "name = \"a\"\nrequirement = [\"r.txt\"]\n")
	missingReq := write("bad/missingreq.toml", "name = \"a\"\nrequirements = [\"nope.txt\"]\n")
	badPython := write("bad/python.toml", "name = \"a\"\npython = \"banana\"\n")
	noPython := write("bad/nopython.toml", "name = \"a\"\npython = \">=9.9\"\n")
	badProgram := write("bad/program.toml", "name = \"a\"\n[services.w]\ncommand = [\"nonexistent-prog\"]\n")
	badReqFile := write("bad/req.txt", "six\nfoo==1 ; python_version >= \"3\" and\n")
	// An upgrade whose migration fails: rolled back.
	brokenMigration := writeApp(t, filepath.Join(dir, "broken"), wh.Dir, "2")
	write("broken/app/migrations/0002_bad.sql", "CREATE TABLE oops (;\n")
	nonEmpty := filepath.Dir(write("nonempty/x", ""))
	venvDir := filepath.Join(dir, "venv")
	c.ok("venv", venvDir)
	withBroker := write("bad/broker.toml", "name = \"a\"\n[broker]\nkind = \"rabbitmq\"\n")
	// Another operation holds a's lock (as a running upgrade would).
	lockA := func() func() {
		f, err := os.OpenFile(filepath.Join(c.root, "instances", a, ".lock"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		f.Truncate(0)
		f.WriteAt([]byte(fmt.Sprintf("%d upgrade\n", os.Getpid())), 0)
		return func() { f.Close() }
	}

	for _, tc := range []struct {
		args []string
		code int
		// names must each appear, and at most once in the summary.
		names []string
		// around, when set, runs before the invocation; what it returns
		// after.
		around func() func()
	}{
		{[]string{"restore", b, archive, "--yes"}, exitUsage, []string{b, archive, "--force"}, nil},
		{[]string{"restore", b, missing, "--yes"}, exitNotFound, []string{missing}, nil},
		{[]string{"restore", b, truncated, "--yes"}, exitFailure, []string{truncated}, nil},
		{[]string{"verify", truncated}, exitFailure, []string{truncated}, nil},
		{[]string{"verify", notArchive}, exitFailure, []string{notArchive}, nil},
		{[]string{"verify", missing}, exitNotFound, []string{missing}, nil},
		{[]string{"create", a, "--spec", spec}, exitConflict, []string{a}, nil},
		{[]string{"create", "Bad_Name", "--spec", spec}, exitUsage, []string{"Bad_Name"}, nil},
		{[]string{"create", "x", "--spec", filepath.Join(dir, "nonexistent.toml")}, exitNotFound, []string{filepath.Join(dir, "nonexistent.toml")}, nil},
		{[]string{"create", "x", "--spec", syntax}, exitUsage, []string{syntax + ":3"}, nil},
		{[]string{"create", "x", "--spec", unknownKey}, exitUsage, []string{unknownKey + ":2", "requirement"}, nil},
		{[]string{"create", "x", "--spec", missingReq}, exitUsage, []string{missingReq + ":2", "nope.txt"}, nil},
		{[]string{"create", "x", "--spec", badPython}, exitUsage, []string{badPython + ":2", "banana"}, nil},
		{[]string{"create", "x", "--spec", noPython}, exitFailure, []string{">=9.9"}, nil},
		{[]string{"create", "x", "--spec", badProgram}, exitFailure, []string{"nonexistent-prog"}, nil},
		{[]string{"units", "x", "--spec", unknownKey}, exitUsage, []string{unknownKey + ":2"}, nil},
		{[]string{"status", "nosuch"}, exitNotFound, []string{"nosuch"}, nil},
		{[]string{"restart", "nosuch"}, exitNotFound, []string{"nosuch"}, nil},
		{[]string{"restart", a, "nosuch"}, exitNotFound, []string{a, "nosuch"}, nil},
		{[]string{"logs", a, "nosuch"}, exitNotFound, []string{a, "nosuch"}, nil},
		{[]string{"rollback", a}, exitNotFound, []string{a}, nil},
		{[]string{"rollback", a, "--to", "r99"}, exitNotFound, []string{a, "r99"}, nil},
		{[]string{"backup", "nosuch"}, exitNotFound, []string{"nosuch"}, nil},
		{[]string{"clone", a, "nosuch", "--yes"}, exitNotFound, []string{"nosuch"}, nil},
		{[]string{"clone", "nosuch", b, "--yes"}, exitNotFound, []string{"nosuch"}, nil},
		{[]string{"remove", a}, exitUsage, []string{a, "--yes"}, nil},
		{[]string{"restore", b, archive}, exitUsage, []string{"--yes"}, nil},
		{[]string{"run", a, "--", "/nonexistent-program"}, exitNotFound, []string{a, "/nonexistent-program"}, nil},
		{[]string{"hotfix", a, "nonexistent-package==1"}, exitFailure, []string{a, "nonexistent-package==1"}, nil},
		{[]string{"upgrade", a, "--spec", brokenMigration}, exitFailure, []string{a, "0002_bad.sql"}, nil},
		{[]string{"lock", "django>=99", "--no-index", "-f", wh.Dir}, exitFailure, []string{"django>=99"}, nil},
		{[]string{"lock", "not a requirement!!"}, exitUsage, []string{"not a requirement!!"}, nil},
		{[]string{"lock", "-r", filepath.Join(dir, "nonexistent.txt")}, exitNotFound, []string{filepath.Join(dir, "nonexistent.txt")}, nil},
		{[]string{"lock", "-r", badReqFile}, exitUsage, []string{badReqFile + ":2"}, nil},
		{[]string{"venv", filepath.Join(dir, "v"), "--python", "9.9"}, exitFailure, []string{"9.9"}, nil},
		{[]string{"install", "--venv", filepath.Join(dir, "novenv"), "six"}, exitNotFound, []string{filepath.Join(dir, "novenv")}, nil},
		{[]string{"sync", "--venv", filepath.Join(dir, "novenv"), filepath.Join(dir, "nolock.toml")}, exitNotFound, []string{filepath.Join(dir, "nolock.toml")}, nil},
		{[]string{"venv", nonEmpty}, exitFailure, []string{nonEmpty}, nil},
		{[]string{"install", "--venv", venvDir, filepath.Join(dir, "nonexistent-1.0-py3-none-any.whl")}, exitNotFound, []string{"nonexistent-1.0-py3-none-any.whl"}, nil},
		{[]string{"lock", "six", "-i", "http://user:s3cret@127.0.0.1:1/simple"}, exitFailure, []string{"six", "127.0.0.1:1/simple"}, nil},
		{[]string{"list", "--listen-address", "localhost:80"}, exitUsage, []string{"localhost:80"}, nil},
		{[]string{"nosuchcommand"}, exitUsage, []string{"nosuchcommand"}, nil},
		{[]string{"restart", a}, exitConflict, []string{a, "upgrade"}, lockA},
		{[]string{"clone", a, a, "--yes"}, exitUsage, []string{a}, nil},
		{[]string{"hotfix", a, "not a requirement!!"}, exitUsage, []string{"not a requirement!!"}, nil},
		{[]string{"apply", "x"}, exitUsage, []string{"--spec"}, nil},
		{[]string{"apply", "x", "--spec", unknownKey}, exitUsage, []string{unknownKey + ":2"}, nil},
		{[]string{"apply", a, "--spec", brokenMigration}, exitFailure, []string{a, "0002_bad.sql"}, nil},
		{[]string{"apply", "Bad_Name", "--spec", spec}, exitUsage, []string{"Bad_Name"}, nil},
		{[]string{"create", "x", "--spec", withBroker, "--broker-url", "http://admin:s3cret@127.0.0.1:1/"}, exitFailure, []string{"127.0.0.1:1"}, nil},
	} {
		name := strings.Join(tc.args, " ")
		var after func()
		if tc.around != nil {
			after = tc.around()
		}
		so, se, code := c.run(tc.args...)
		if after != nil {
			after()
		}
		if strings.Contains(se, "s3cret") {
			t.Errorf("deploykit %s: the error shows a password:\n%s", name, se)
		}
		i := strings.LastIndex(se, "deploykit: ")
		if i < 0 {
			t.Errorf("deploykit %s: exit %d, no error printed\nstdout: %s\nstderr: %s", name, code, so, se)
			continue
		}
		msg := strings.TrimSpace(se[i+len("deploykit: "):])
		t.Logf("deploykit %s\n  exit %d: %s", name, code, strings.ReplaceAll(msg, "\n", "\n    "))
		if code != tc.code {
			t.Errorf("deploykit %s: exit %d, want %d", name, code, tc.code)
		}
		first, _, _ := strings.Cut(msg, "\n")
		for _, n := range tc.names {
			if !strings.Contains(msg, n) {
				t.Errorf("deploykit %s: the error does not name %q", name, n)
			}
		}
		if r := sayOnce(msg, tc.names...); len(r) > 0 {
			t.Errorf("deploykit %s: the error says things twice: %s", name, strings.Join(r, "; "))
		}
		// Printed once: no log line carries it as well.
		if strings.Count(se, first) > 1 || strings.Contains(se, "level=ERROR") {
			t.Errorf("deploykit %s: the error is printed more than once:\n%s", name, se)
		}
	}
}
