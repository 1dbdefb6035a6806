package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/testenv"
)

// contentOf returns the archived content of member name.
func contentOf(t *testing.T, data []byte, name string) (string, bool) {
	t.Helper()
	r, err := archive.NewReader(bytes.NewReader(data), archive.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	found, content := false, ""
	for {
		m, err := r.Next()
		if err == io.EOF {
			return content, found
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == name {
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			found, content = true, string(b)
		}
	}
}

func TestFileChangingWhileReadIsRetried(t *testing.T) {
	for _, size := range []int{100, memSpoolLimit + 1} { // memory and disk spools
		dir := t.TempDir()
		p := filepath.Join(dir, "log")
		os.WriteFile(p, bytes.Repeat([]byte("a"), size), 0o644)
		writes := 0
		var events []string
		opts := Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: dir}},
			afterRead: func(string) {
				if writes == 0 { // a writer appends while the first copy is made
					f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
					f.WriteString("appended")
					f.Close()
				}
				writes++
			},
			OnEvent: func(e Event) { events = append(events, e.Kind) }}
		data := createArchive(t, opts)
		got, ok := contentOf(t, data, "files/data/log")
		if !ok || len(got) != size+len("appended") || !strings.HasSuffix(got, "appended") {
			t.Fatalf("size %d: archived %d bytes, want the settled file of %d", size, len(got), size+8)
		}
		if writes != 2 || strings.Join(events, ",") != "file-retry" {
			t.Fatalf("reads %d, events %v", writes, events)
		}
	}
}

func TestFileThatNeverSettlesFailsTheBackup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "busy")
	os.WriteFile(p, []byte("x"), 0o644)
	opts := Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: dir}}, Retries: 2,
		afterRead: func(string) { os.WriteFile(p, []byte("rewritten, longer"), 0o644) }}
	var buf bytes.Buffer
	_, err := Create(context.Background(), &buf, opts)
	if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v", err)
	}
	// What was written is not an archive anyone accepts.
	if _, cerr := Check(context.Background(), &buf, CheckOptions{}); cerr == nil {
		t.Fatal("a failed backup's output passed Check")
	}
}

func TestCaptureRefusesEscapingSymlink(t *testing.T) {
	dir := t.TempDir()
	os.Symlink("/etc/passwd", filepath.Join(dir, "evil"))
	var buf bytes.Buffer
	_, err := Create(context.Background(), &buf, Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: dir}}})
	if !errors.Is(err, ErrUnsafeSymlink) {
		t.Fatalf("got %v", err)
	}
}

func TestQuiesceWrapsTheCapture(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	var calls []string
	opts := Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: dir}},
		Quiesce: func(context.Context) (func(), error) {
			calls = append(calls, "quiesce")
			return func() { calls = append(calls, "resume") }, nil
		},
		afterRead: func(string) { calls = append(calls, "read") }}
	createArchive(t, opts)
	if strings.Join(calls, ",") != "quiesce,read,resume" {
		t.Fatalf("calls %v", calls)
	}
	opts.Quiesce = func(context.Context) (func(), error) { return nil, errors.New("app refuses") }
	if _, err := Create(context.Background(), io.Discard, opts); err == nil || !strings.Contains(err.Error(), "app refuses") {
		t.Fatalf("got %v", err)
	}
}

func TestRestoreFilesOnlyWithOwner(t *testing.T) {
	testenv.NeedRoot(t)
	src := t.TempDir()
	makeTree(t, src)
	data := createArchive(t, Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: src}}})
	dst := filepath.Join(t.TempDir(), "restored")
	os.MkdirAll(dst, 0o755)
	os.WriteFile(filepath.Join(dst, "old"), []byte("old"), 0o644)
	if _, err := Restore(context.Background(), bytes.NewReader(data), RestoreOptions{Instance: "x",
		Dirs: map[string]string{"data": dst}, Owner: &FileOwner{UID: 65534, GID: 65534}}); err != nil {
		t.Fatal(err)
	}
	if treeOf(t, dst) != treeOf(t, src) {
		t.Fatalf("restored tree differs:\n%s\nwant\n%s", treeOf(t, dst), treeOf(t, src))
	}
	var uids []uint32
	filepath.Walk(dst, func(p string, _ os.FileInfo, _ error) error {
		fi, err := os.Lstat(p)
		if err == nil {
			uids = append(uids, statUID(fi))
		}
		return nil
	})
	for _, u := range uids {
		if u != 65534 {
			t.Fatalf("a restored entry is owned by %d", u)
		}
	}
}

func TestRestoreNeedsATargetForEveryDirectory(t *testing.T) {
	src := t.TempDir()
	data := createArchive(t, Options{Instance: "x", Dirs: []Dir{{Name: "data", Path: src}}})
	_, err := Restore(context.Background(), bytes.NewReader(data), RestoreOptions{Instance: "x"})
	if !errors.Is(err, ErrNoTarget) {
		t.Fatalf("got %v", err)
	}
	if _, err := Restore(context.Background(), bytes.NewReader(data), RestoreOptions{Instance: "x", SkipDirs: true}); err != nil {
		t.Fatalf("SkipDirs: %v", err)
	}
}

func TestCheckEnforcesDatabaseLayout(t *testing.T) {
	cases := map[string]func(w *rawWriter){
		"data before catalog": func(w *rawWriter) { w.file("db/data/0/000000", "1\n") },
		"unknown db member":   func(w *rawWriter) { w.file("db/other", "x") },
		"undeclared dir":      func(w *rawWriter) { w.dir("files/other") },
	}
	for name, fill := range cases {
		_, err := Check(context.Background(), bytes.NewReader(rawArchive(t, fill)), CheckOptions{})
		if !errors.Is(err, ErrLayout) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadManifestFile(t *testing.T) {
	src := t.TempDir()
	p := filepath.Join(t.TempDir(), "x.dkb")
	if _, err := CreateFile(context.Background(), p, Options{Instance: "prod", Release: "r7", Spec: "name = \"demo\"",
		Dirs: []Dir{{Name: "data", Path: src}}}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifestFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Instance != "prod" || m.Release != "r7" || m.Spec != "name = \"demo\"" || m.Created.IsZero() || m.Format != archive.FormatVersion {
		t.Fatalf("%+v", m)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v, want 0600 (it holds the database)", fi.Mode())
	}
	if _, err := ReadManifestFile(filepath.Join(t.TempDir(), "missing.dkb")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestSwapDirExchangesOrMoves(t *testing.T) {
	for name, swap := range map[string]func(string, string) error{"exchange": swapDir, "renames": swapByRenames} {
		dir := t.TempDir()
		staging, target := filepath.Join(dir, "new"), filepath.Join(dir, "target")
		os.MkdirAll(staging, 0o755)
		os.WriteFile(filepath.Join(staging, "f"), []byte("new"), 0o644)
		if err := swap(staging, target); err != nil { // target absent: a move
			t.Fatalf("%s: %v", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "new" {
			t.Fatalf("%s: target holds %q", name, b)
		}
		os.MkdirAll(staging, 0o755)
		os.WriteFile(filepath.Join(staging, "f"), []byte("newer"), 0o644)
		if err := swap(staging, target); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b1, _ := os.ReadFile(filepath.Join(target, "f"))
		b2, _ := os.ReadFile(filepath.Join(staging, "f"))
		if string(b1) != "newer" || string(b2) != "new" {
			t.Fatalf("%s: target %q, old content at staging %q", name, b1, b2)
		}
	}
}
