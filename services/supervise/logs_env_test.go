package supervise

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/services"
)

func TestLogRotationAndFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.log")
	r, err := openRotator(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	io.WriteString(r, "first line\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fl, err := openLog(ctx, path, 1, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	got := make(chan string, 1)
	go func() {
		var all strings.Builder
		buf := make([]byte, 64)
		for !strings.Contains(all.String(), "line 29") {
			n, err := fl.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- all.String()
	}()
	for i := range 30 {
		io.WriteString(r, fmt.Sprintf("line %02d ........\n", i))
		time.Sleep(5 * time.Millisecond)
	}
	out := <-got
	// Everything written after the follower opened was seen, in order,
	// across rotations.
	if !strings.HasPrefix(out, "first line\n") {
		t.Errorf("follow output starts %q", out[:min(len(out), 40)])
	}
	last := -1
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil {
			t.Fatalf("bad line %q", l)
		}
		if n != last+1 {
			t.Fatalf("line %d after %d: lost or reordered across rotation\n%s", n, last, out)
		}
		last = n
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if fi, err := os.Stat(p); err != nil || fi.Size() > 100 {
			t.Errorf("%s: %v (size limit 100)", p, err)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more rotated files kept than asked for")
	}
	// Non-follow with Lines: the last n lines, then EOF.
	fl2, _ := openLog(ctx, path, 2, time.Time{}, false)
	b, _ := io.ReadAll(fl2)
	fl2.Close()
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "line 29") {
		t.Errorf("last 2 lines: %q", b)
	}
}

func TestParseEnvFile(t *testing.T) {
	in := "# comment\n; also\n\nA=1\nexport B = two words \nC=\"quoted value\"\nD='x'\nE=\n"
	kvs, err := ParseEnvFile(strings.NewReader(in), "env")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"A", "1"}, {"B", "two words"}, {"C", "quoted value"}, {"D", "x"}, {"E", ""}}
	if len(kvs) != len(want) {
		t.Fatalf("got %q", kvs)
	}
	for i := range want {
		if kvs[i] != want[i] {
			t.Errorf("%d: %q, want %q", i, kvs[i], want[i])
		}
	}
	if _, err := ParseEnvFile(strings.NewReader("A=1\nnot an assignment\n"), "app.env"); err == nil || !strings.Contains(err.Error(), "app.env:2") {
		t.Errorf("error without file:line: %v", err)
	}
}

func FuzzParseEnvFile(f *testing.F) {
	f.Add("A=1\n# c\nexport B='x'\n")
	f.Add("=\n")
	f.Add("K=\"unterminated\n")
	f.Fuzz(func(t *testing.T, s string) {
		kvs, err := ParseEnvFile(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv[0] == "" || strings.ContainsAny(kv[0], "=\n") {
				t.Fatalf("bad key %q", kv[0])
			}
		}
	})
}

func TestEnvironmentFileAndLimits(t *testing.T) {
	dir := t.TempDir()
	envf := filepath.Join(dir, "app.env")
	os.WriteFile(envf, []byte("SECRET=s3cr3t\nOVERRIDDEN=file\n"), 0o600)
	out := filepath.Join(dir, "out")
	c := services.Component{Name: "env", Instance: "t1", EnvironmentFile: envf,
		Env:     map[string]string{"OVERRIDDEN": "spec", "OUT": out},
		Limits:  services.Limits{LimitNOFILE: 777},
		Command: []string{"/bin/sh", "-c", `echo "$SECRET $OVERRIDDEN $(ulimit -n) $PATH" > "$OUT"; exec sleep 1000`}}
	runSup(t, Options{Instance: "t1", Components: []services.Component{c}, Dir: dir, Autostart: true, StartGrace: 50 * time.Millisecond})
	waitFor(t, "output", 5*time.Second, func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	b, _ := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); !strings.HasPrefix(got, "s3cr3t spec 777 /usr/local/sbin:") {
		t.Errorf("component saw %q", got)
	}
}
