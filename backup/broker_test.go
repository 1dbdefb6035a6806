package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/backup/archive"
)

// Broker definitions travel as they are, right after the manifest; Check
// and Restore return them, ReadBrokerFile reads them alone.
func TestBrokerDefinitionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "a"), []byte("x"), 0o644)
	defs := []byte(`{"queues":[{"name":"celery","durable":true}],"exchanges":[],"bindings":[],"policies":[]}`)
	out := filepath.Join(dir, "a.dkb")
	_, err := CreateFile(ctx, out, Options{Instance: "prod", Dirs: []Dir{{Name: "data", Path: data}},
		Broker: &Broker{Kind: "rabbitmq", Vhost: "dk-prod", Definitions: defs}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := CheckFile(ctx, out, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Broker) != string(defs) || s.Manifest.Format != archive.FormatVersionBroker || s.Manifest.Broker.Vhost != "dk-prod" {
		t.Fatalf("summary: %s %+v", s.Broker, s.Manifest)
	}
	man, got, err := ReadBrokerFile(out)
	if err != nil || string(got) != string(defs) || man.Instance != "prod" {
		t.Fatalf("ReadBrokerFile: %s %+v %v", got, man, err)
	}
	target := filepath.Join(dir, "restored")
	os.MkdirAll(target, 0o755)
	rs, err := RestoreFile(ctx, out, RestoreOptions{Instance: "prod", Dirs: map[string]string{"data": target}})
	if err != nil || string(rs.Broker) != string(defs) {
		t.Fatalf("restore: %s %v", rs.Broker, err)
	}
	// Without a broker: format 1, no definitions.
	plain := filepath.Join(dir, "b.dkb")
	if _, err := CreateFile(ctx, plain, Options{Instance: "prod"}); err != nil {
		t.Fatal(err)
	}
	man, got, err = ReadBrokerFile(plain)
	if err != nil || got != nil || man.Format != archive.FormatVersion {
		t.Fatalf("plain archive: %s %+v %v", got, man, err)
	}
}
