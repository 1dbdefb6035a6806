package vcs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/internal/keylock"
	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// Ref is a parsed VCS requirement URL.
type Ref struct {
	Type         string // git, hg, bzr
	URL          string // the repository URL, without "git+", "@rev" and fragment
	Rev          string // as written after "@"; "" for the default head
	Subdirectory string
	Egg          string // #egg= (legacy project name hint)
}

// Pin is a checkout pinned to an exact revision.
type Pin struct {
	Type      string
	URL       string
	Requested string // Ref.Rev
	Commit    string // git/hg: full hash; bzr: revision id
}

// ErrRevisionNotFound is wrapped when the requested branch, tag or
// revision does not exist in the repository.
var ErrRevisionNotFound = errors.New("revision not found")

// Error is a failed VCS command, with what it printed.
type Error struct {
	Type, URL string
	Op        string
	Output    string
	Err       error
}

func (e *Error) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 800 {
		out = out[len(out)-800:]
	}
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("%s %s: %s: %v%s", e.Type, e.URL, e.Op, e.Err, out)
}

func (e *Error) Unwrap() error { return e.Err }

// IsVCS reports whether a requirement URL is a VCS URL.
func IsVCS(raw string) bool {
	for _, p := range []string{"git+", "hg+", "bzr+"} {
		if strings.HasPrefix(raw, p) {
			return true
		}
	}
	return false
}

// ParseURL parses "git+URL[@rev][#egg=..&subdirectory=..]".
func ParseURL(raw string) (Ref, error) {
	typ, rest, ok := strings.Cut(raw, "+")
	if !ok || typ != "git" && typ != "hg" && typ != "bzr" {
		return Ref{}, fmt.Errorf("%q is not a git+, hg+ or bzr+ URL", raw)
	}
	var r Ref
	r.Type = typ
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		frag, err := url.ParseQuery(rest[i+1:])
		if err != nil {
			return Ref{}, fmt.Errorf("%q: fragment: %w", raw, err)
		}
		r.Subdirectory = strings.Trim(frag.Get("subdirectory"), "/")
		r.Egg = frag.Get("egg")
		rest = rest[:i]
		if strings.Contains(r.Subdirectory, "..") {
			return Ref{}, fmt.Errorf("%q: subdirectory may not contain ..", raw)
		}
	}
	u, err := url.Parse(rest)
	if err != nil {
		return Ref{}, fmt.Errorf("%q: %w", raw, err)
	}
	// The revision is after the last "@" of the path (an "@" in the
	// authority is user info).
	if i := strings.LastIndexByte(u.Path, '@'); i >= 0 {
		r.Rev = u.Path[i+1:]
		u.Path = u.Path[:i]
		u.RawPath = ""
	}
	if u.Scheme == "" {
		return Ref{}, fmt.Errorf("%q: the repository URL needs a scheme (file://, https://, ssh://)", raw)
	}
	r.URL = u.String()
	return r, nil
}

// Cache holds mirrors and checkouts under Dir. It is safe for concurrent
// use, also by several processes sharing Dir: each mirror is updated
// under an exclusive file lock.
type Cache struct {
	Dir string
	// Env is added to the environment of VCS commands (tests set
	// identities, HOME…).
	Env []string

	locks keylock.Map // per mirror, in this process
}

// lockMirror serializes work on one mirror: in this process with a
// mutex, across processes with flock on a sibling lock file.
func (c *Cache) lockMirror(p string) (func(), error) {
	unlock := c.locks.Lock(p)
	unlockFile, err := flock.Lock(p+".lock", 0o644, true)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() {
		unlockFile()
		unlock()
	}, nil
}

func key(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

func (c *Cache) run(ctx context.Context, r Ref, op, dir string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "HGPLAIN=1", "LC_ALL=C")
	cmd.Env = append(cmd.Env, c.Env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &Error{Type: r.Type, URL: redact(r.URL), Op: op, Output: errb.String() + out.String(), Err: err}
	}
	return out.String(), nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

var hexCommit = lazyregexp.New(`^[0-9a-f]{40}$`)

// Checkout resolves r to an exact revision and returns the directory of
// the tree at that revision (the whole repository; Subdirectory is for
// the caller).
func (c *Cache) Checkout(ctx context.Context, r Ref) (Pin, string, error) {
	if c.Dir == "" {
		return Pin{}, "", errors.New("vcs: Cache.Dir is empty")
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return Pin{}, "", err
	}
	mirror := filepath.Join(c.Dir, "mirrors", r.Type+"-"+key(r.URL))
	if err := os.MkdirAll(filepath.Dir(mirror), 0o755); err != nil {
		return Pin{}, "", err
	}
	unlock, err := c.lockMirror(mirror)
	if err != nil {
		return Pin{}, "", err
	}
	defer unlock()
	var commit string
	switch r.Type {
	case "git":
		commit, err = c.gitResolve(ctx, r, mirror)
	case "hg":
		commit, err = c.hgResolve(ctx, r, mirror)
	case "bzr":
		commit, err = c.bzrResolve(ctx, r, mirror)
	default:
		err = fmt.Errorf("unsupported VCS %q", r.Type)
	}
	if err != nil {
		return Pin{}, "", err
	}
	pin := Pin{Type: r.Type, URL: r.URL, Requested: r.Rev, Commit: commit}
	dst := filepath.Join(c.Dir, "checkouts", r.Type+"-"+key(r.URL+"\x00"+commit))
	if _, err := os.Stat(dst); err == nil {
		return pin, dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Pin{}, "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".tmp-")
	if err != nil {
		return Pin{}, "", err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	switch r.Type {
	case "git":
		if _, err = c.run(ctx, r, "clone", tmp, "git", "clone", "--quiet", "--shared", "--no-checkout", mirror, tree); err == nil {
			_, err = c.run(ctx, r, "checkout "+commit, tree, "git", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit)
		}
	case "hg":
		_, err = c.run(ctx, r, "archive", tmp, "hg", "archive", "-R", mirror, "-r", commit, "--no-decode", tree)
	case "bzr":
		_, err = c.run(ctx, r, "export", tmp, "brz", "export", "-d", mirror, "-r", "revid:"+commit, tree)
	}
	if err != nil {
		return Pin{}, "", err
	}
	if err := os.Rename(tree, dst); err != nil {
		if _, statErr := os.Stat(dst); statErr != nil {
			return Pin{}, "", err
		}
	}
	return pin, dst, nil
}

func (c *Cache) gitResolve(ctx context.Context, r Ref, mirror string) (string, error) {
	rev := r.Rev
	if rev == "" {
		rev = "HEAD"
	}
	if _, err := os.Stat(mirror); err != nil {
		tmp := mirror + ".tmp"
		os.RemoveAll(tmp)
		if _, err := c.run(ctx, r, "clone", c.Dir, "git", "clone", "--quiet", "--mirror", r.URL, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, mirror); err != nil {
			return "", err
		}
	} else if !hexCommit.MatchString(rev) || !c.gitHas(ctx, r, mirror, rev) {
		// A branch or tag may have moved: fetch. A full commit hash already
		// present needs no network.
		if _, err := c.run(ctx, r, "fetch", mirror, "git", "fetch", "--quiet", "--prune", "--force", "origin", "+refs/*:refs/*"); err != nil {
			return "", err
		}
	}
	out, err := c.run(ctx, r, "rev-parse "+rev, mirror, "git", "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("git %s: %q: %w", redact(r.URL), r.Rev, ErrRevisionNotFound)
	}
	return strings.TrimSpace(out), nil
}

func (c *Cache) gitHas(ctx context.Context, r Ref, mirror, rev string) bool {
	_, err := c.run(ctx, r, "cat-file", mirror, "git", "cat-file", "-e", rev+"^{commit}")
	return err == nil
}

func (c *Cache) hgResolve(ctx context.Context, r Ref, mirror string) (string, error) {
	rev := r.Rev
	if rev == "" {
		rev = "default"
	}
	if _, err := os.Stat(mirror); err != nil {
		tmp := mirror + ".tmp"
		os.RemoveAll(tmp)
		if _, err := c.run(ctx, r, "clone", c.Dir, "hg", "clone", "--quiet", "-U", r.URL, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, mirror); err != nil {
			return "", err
		}
	} else if hexCommit.MatchString(rev) && c.hgHas(ctx, r, mirror, rev) {
		// A full node already here needs no network.
	} else if _, err := c.run(ctx, r, "pull", mirror, "hg", "pull", "--quiet", "-R", mirror, r.URL); err != nil {
		return "", err
	}
	out, err := c.run(ctx, r, "log -r "+rev, mirror, "hg", "log", "-R", mirror, "-r", rev, "--template", "{node}\n")
	node := strings.TrimSpace(out)
	if err != nil || node == "" || strings.Contains(node, "\n") {
		return "", fmt.Errorf("hg %s: %q: %w", redact(r.URL), r.Rev, ErrRevisionNotFound)
	}
	return node, nil
}

func (c *Cache) hgHas(ctx context.Context, r Ref, mirror, rev string) bool {
	_, err := c.run(ctx, r, "log", mirror, "hg", "log", "-R", mirror, "-r", rev, "--template", "{node}")
	return err == nil
}

func (c *Cache) bzrResolve(ctx context.Context, r Ref, mirror string) (string, error) {
	if _, err := os.Stat(mirror); err != nil {
		tmp := mirror + ".tmp"
		os.RemoveAll(tmp)
		if _, err := c.run(ctx, r, "branch", c.Dir, "brz", "branch", "--quiet", "--no-tree", r.URL, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, mirror); err != nil {
			return "", err
		}
	} else if _, err := c.run(ctx, r, "pull", mirror, "brz", "pull", "--quiet", "--overwrite", "-d", mirror, r.URL); err != nil {
		return "", err
	}
	// pip passes "@rev" to -r. A bare name that is not a revision number
	// or a "spec:" is a tag, or else a revision id (what a lock records).
	var specs []string
	switch {
	case r.Rev == "":
		specs = []string{""}
	case bzrSpec.MatchString(r.Rev):
		specs = []string{r.Rev}
	default:
		specs = []string{"tag:" + r.Rev, "revid:" + r.Rev}
	}
	for _, spec := range specs {
		args := []string{"revision-info", "-d", mirror}
		if spec != "" {
			args = append(args, "-r", spec)
		}
		out, err := c.run(ctx, r, "revision-info", mirror, "brz", args...)
		if err != nil {
			continue
		}
		// An unknown revision id prints "??? ID" and succeeds.
		if f := strings.Fields(out); len(f) == 2 && f[1] != "null:" && !strings.HasPrefix(f[0], "?") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("bzr %s: %q: %w", redact(r.URL), r.Rev, ErrRevisionNotFound)
}

var bzrSpec = lazyregexp.New(`^(-?\d+|[a-z]+:.*)$`)
