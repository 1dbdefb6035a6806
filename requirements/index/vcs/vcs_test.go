package vcs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

var identity = []string{
	"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
	"HGUSER=t <t@example.com>", "BRZ_EMAIL=t <t@example.com>", "GIT_CONFIG_NOSYSTEM=1",
}

func sh(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), identity...)
	cmd.Env = append(cmd.Env, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repo makes a repository with version 0.1 (tagged v0.1) then 0.2 on the
// default branch; it returns the commit ids of both.
func repo(t *testing.T, typ string) (dir string, c1, c2 string) {
	dir = filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(dir, 0o755)
	write(t, filepath.Join(dir, "pkg", "VERSION"), "0.1\n")
	switch typ {
	case "git":
		testenv.Command(t, "git")
		sh(t, dir, "git", "init", "-q", "-b", "main")
		sh(t, dir, "git", "add", ".")
		sh(t, dir, "git", "commit", "-q", "-m", "one")
		sh(t, dir, "git", "tag", "v0.1")
		c1 = sh(t, dir, "git", "rev-parse", "HEAD")
		write(t, filepath.Join(dir, "pkg", "VERSION"), "0.2\n")
		sh(t, dir, "git", "commit", "-q", "-am", "two")
		c2 = sh(t, dir, "git", "rev-parse", "HEAD")
	case "hg":
		testenv.Command(t, "hg")
		sh(t, dir, "hg", "init")
		sh(t, dir, "hg", "add", "-q")
		sh(t, dir, "hg", "commit", "-q", "-m", "one")
		c1 = sh(t, dir, "hg", "log", "-r", ".", "--template", "{node}")
		sh(t, dir, "hg", "tag", "-q", "v0.1")
		write(t, filepath.Join(dir, "pkg", "VERSION"), "0.2\n")
		sh(t, dir, "hg", "commit", "-q", "-m", "two")
		c2 = sh(t, dir, "hg", "log", "-r", ".", "--template", "{node}")
	case "bzr":
		testenv.Command(t, "brz")
		sh(t, dir, "brz", "init", "-q")
		sh(t, dir, "brz", "add", "-q")
		sh(t, dir, "brz", "commit", "-q", "-m", "one")
		sh(t, dir, "brz", "tag", "-q", "v0.1")
		c1 = strings.Fields(sh(t, dir, "brz", "revision-info"))[1]
		write(t, filepath.Join(dir, "pkg", "VERSION"), "0.2\n")
		sh(t, dir, "brz", "commit", "-q", "-m", "two")
		c2 = strings.Fields(sh(t, dir, "brz", "revision-info"))[1]
	}
	return dir, c1, c2
}

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]Ref{
		"git+https://u:p@h.example/r.git@v1.0#egg=x&subdirectory=pkg/sub": {Type: "git", URL: "https://u:p@h.example/r.git", Rev: "v1.0", Subdirectory: "pkg/sub", Egg: "x"},
		"hg+file:///srv/repo":                {Type: "hg", URL: "file:///srv/repo"},
		"bzr+ssh://h/r@tag:2.0":              {Type: "bzr", URL: "ssh://h/r", Rev: "tag:2.0"},
		"git+ssh://git@h.example/r.git@main": {Type: "git", URL: "ssh://git@h.example/r.git", Rev: "main"},
	} {
		got, err := ParseURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"svn+http://x", "git+/no/scheme", "git+file:///r#subdirectory=../x"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestCheckout(t *testing.T) {
	for _, typ := range []string{"git", "hg", "bzr"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			dir, c1, c2 := repo(t, typ)
			c := &Cache{Dir: t.TempDir(), Env: append(identity, "HOME="+t.TempDir())}
			ctx := context.Background()
			url := "file://" + dir
			check := func(rev, wantCommit, wantVersion string) string {
				t.Helper()
				pin, tree, err := c.Checkout(ctx, Ref{Type: typ, URL: url, Rev: rev})
				if err != nil {
					t.Fatalf("rev %q: %v", rev, err)
				}
				if pin.Commit != wantCommit || pin.Requested != rev {
					t.Errorf("rev %q: pin %+v, want commit %s", rev, pin, wantCommit)
				}
				data, err := os.ReadFile(filepath.Join(tree, "pkg", "VERSION"))
				if err != nil || strings.TrimSpace(string(data)) != wantVersion {
					t.Errorf("rev %q: VERSION %q, %v", rev, data, err)
				}
				return tree
			}
			check("", c2, "0.2")
			check("v0.1", c1, "0.1")
			tree := check(c1, c1, "0.1")
			// The checkout of a commit is cached: same directory.
			if again := check(c1, c1, "0.1"); again != tree {
				t.Errorf("not cached: %s vs %s", again, tree)
			}
			// A new commit upstream is seen at the next checkout.
			write(t, filepath.Join(dir, "pkg", "VERSION"), "0.3\n")
			switch typ {
			case "git":
				sh(t, dir, "git", "commit", "-q", "-am", "three")
			case "hg":
				sh(t, dir, "hg", "commit", "-q", "-m", "three")
			case "bzr":
				sh(t, dir, "brz", "commit", "-q", "-m", "three")
			}
			pin, _, err := c.Checkout(ctx, Ref{Type: typ, URL: url})
			if err != nil || pin.Commit == c2 {
				t.Errorf("after a new commit: %+v, %v", pin, err)
			}
			_, _, err = c.Checkout(ctx, Ref{Type: typ, URL: url, Rev: "no-such-tag"})
			if !errors.Is(err, ErrRevisionNotFound) || !strings.Contains(err.Error(), "no-such-tag") || !strings.Contains(err.Error(), dir) {
				t.Errorf("missing ref: %v", err)
			}
		})
	}
}

func TestCheckoutMissingRepository(t *testing.T) {
	testenv.Command(t, "git")
	c := &Cache{Dir: t.TempDir()}
	_, _, err := c.Checkout(context.Background(), Ref{Type: "git", URL: "file:///nonexistent/repo.git"})
	var ve *Error
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "/nonexistent/repo.git") {
		t.Errorf("err = %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(c.Dir, "mirrors"))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("partial mirror left: %s", e.Name())
		}
	}
}

// A checkout killed half-way (its context cancelled) leaves no mirror or
// checkout that a later run would trust, and the next run succeeds.
func TestCheckoutInterruptedLeavesNothingHalfDone(t *testing.T) {
	dir, _, c2 := repo(t, "git")
	c := &Cache{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Checkout(ctx, Ref{Type: "git", URL: "file://" + dir}); err == nil {
		t.Fatal("a cancelled checkout succeeded")
	}
	for _, sub := range []string{"mirrors", "checkouts"} {
		ents, _ := os.ReadDir(filepath.Join(c.Dir, sub))
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".tmp") && !strings.HasPrefix(e.Name(), ".tmp-") && !strings.HasSuffix(e.Name(), ".lock") {
				t.Errorf("%s/%s left behind", sub, e.Name())
			}
		}
	}
	pin, tree, err := c.Checkout(context.Background(), Ref{Type: "git", URL: "file://" + dir})
	if err != nil || pin.Commit != c2 {
		t.Fatalf("retry: %+v %v", pin, err)
	}
	if _, err := os.Stat(filepath.Join(tree, "pkg", "VERSION")); err != nil {
		t.Error(err)
	}
}
