package backup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/pgtest"
)

// crashed stands for a process that died inside Restore: the test's
// OnEvent panics with it, and nothing of Restore's own rollback runs (its
// deferred abort keys on a returned error).
type crashed struct{}

// TestUndoPutsBackEveryTarget stops a KeepReplaced restore at each point
// of its swap — the directory exchanged, the database swapped, everything
// done — and checks that Undo then leaves the database and the directory
// as they were before the restore (nothing of it left: no temporary
// database, no staging or replaced directory), and that a second Undo
// changes nothing. A restore that reached the end and is not undone is
// kept until DropReplaced.
func TestUndoPutsBackEveryTarget(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `CREATE TABLE marker (v text); INSERT INTO marker VALUES ('backed up')`)
	src := filepath.Join(t.TempDir(), "data")
	makeTree(t, src)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source(), Dirs: []Dir{{Name: "data", Path: src}}})

	b := newInstanceDB(t, srv, false)
	b.execAs(t, `CREATE TABLE marker (v text); INSERT INTO marker VALUES ('before')`)
	target := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(target, "mine"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "mine", "file"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, target)
	marker := func() string {
		var v string
		if err := b.connect(t).QueryRow(ctx, "SELECT v FROM marker").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	ours := func() []string {
		names := restoreDatabases(t, srv, b.name)
		beside, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".data.dk-*"))
		for _, p := range beside {
			names = append(names, filepath.Base(p))
		}
		return names
	}
	restore := func(id string, stopAt func(Event) bool) (stopped bool) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(crashed); !ok {
					panic(r)
				}
				stopped = true
			}
		}()
		_, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(),
			Dirs: map[string]string{"data": target}, KeepReplaced: true, ID: id, OnEvent: func(e Event) {
				if stopAt(e) {
					panic(crashed{})
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	never := func(Event) bool { return false }
	for _, tc := range []struct {
		point  string
		stopAt func(Event) bool
	}{
		{"directory exchanged", func(e Event) bool { return e.Kind == "swap" && e.Path == target }},
		{"database swapped", func(e Event) bool { return e.Kind == "swap" && e.Path == b.name }},
		{"done", never},
	} {
		t.Run(tc.point, func(t *testing.T) {
			id := NewRestoreID()
			if stopped := restore(id, tc.stopAt); stopped != (tc.point != "done") {
				t.Fatalf("restore stopped: %v", stopped)
			}
			if len(ours()) == 0 {
				t.Fatal("the restore left nothing to undo")
			}
			for i := 0; i < 2; i++ {
				if err := Undo(ctx, id, b.restoreTarget(), map[string]string{"data": target}); err != nil {
					t.Fatalf("undo %d: %v", i+1, err)
				}
				if got := treeOf(t, target); got != before {
					t.Fatalf("undo %d: directory\n%s\nwant\n%s", i+1, got, before)
				}
				if got := marker(); got != "before" {
					t.Fatalf("undo %d: database says %q", i+1, got)
				}
				if left := ours(); len(left) != 0 {
					t.Fatalf("undo %d: left %q", i+1, left)
				}
			}
		})
	}

	// Not undone: restored, the replaced data kept beside until
	// DropReplaced.
	restore(NewRestoreID(), never)
	if got := marker(); got != "backed up" {
		t.Fatalf("restored database says %q", got)
	}
	if got, want := treeOf(t, target), treeOf(t, src); got != want {
		t.Fatalf("restored directory\n%s\nwant\n%s", got, want)
	}
	kept := ours()
	if len(kept) != 2 || !strings.HasSuffix(kept[0], "_old") || !strings.HasPrefix(kept[1], ".data.dk-swap-") {
		t.Fatalf("kept %q, want the replaced database and directory", kept)
	}
	if err := DropReplaced(ctx, b.restoreTarget(), map[string]string{"data": target}); err != nil {
		t.Fatal(err)
	}
	if left := ours(); len(left) != 0 {
		t.Fatalf("after DropReplaced: %q", left)
	}
	if err := Undo(ctx, "nothex!!", nil, nil); err == nil {
		t.Fatal("undo of a bad ID succeeded")
	}
}

// A directory that did not exist is restored too, and an undo leaves it
// empty: there was nothing to put back.
func TestUndoOfANewDirectory(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	makeTree(t, src)
	arch := createArchive(t, Options{Instance: "prod", Dirs: []Dir{{Name: "data", Path: src}}})
	target := filepath.Join(t.TempDir(), "new", "data")
	id := NewRestoreID()
	if _, err := Restore(context.Background(), bytes.NewReader(arch), RestoreOptions{Instance: "prod",
		Dirs: map[string]string{"data": target}, KeepReplaced: true, ID: id}); err != nil {
		t.Fatal(err)
	}
	if got, want := treeOf(t, target), treeOf(t, src); got != want {
		t.Fatalf("restored\n%s\nwant\n%s", got, want)
	}
	if err := Undo(context.Background(), id, nil, map[string]string{"data": target}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(target)
	if err != nil || len(ents) != 0 {
		t.Fatalf("after undo: %v %v, want an empty directory", ents, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".data.dk-*")); len(left) != 0 {
		t.Fatalf("left %q", left)
	}
}
