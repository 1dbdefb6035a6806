package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/backup"
)

// Back up a data directory into a stream, check it, and restore it beside.
// With Options.Database and RestoreOptions.Database set, the instance's
// PostgreSQL database travels in the same archive.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "data", "uploads"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "uploads", "a.txt"), []byte("hello"), 0o644)

	var archive bytes.Buffer // any io.Writer: a file, stdout, an upload
	res, err := backup.Create(ctx, &archive, backup.Options{
		Instance: "prod",
		Release:  "20261126-1",
		Dirs:     []backup.Dir{{Name: "data", Path: filepath.Join(dir, "data")}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("files:", res.Files)

	sum, err := backup.Check(ctx, bytes.NewReader(archive.Bytes()), backup.CheckOptions{Instance: "prod"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", sum.Manifest.Instance, sum.Manifest.Release, sum.Members, "members")

	_, err = backup.Restore(ctx, &archive, backup.RestoreOptions{
		Instance: "staging", Force: true, // production's backup into staging
		Dirs: map[string]string{"data": filepath.Join(dir, "staging-data")},
	})
	b, _ := os.ReadFile(filepath.Join(dir, "staging-data", "uploads", "a.txt"))
	fmt.Println("restored:", string(b), err)
	// Output:
	// files: 1
	// verified: prod 20261126-1 3 members
	// restored: hello <nil>
}
