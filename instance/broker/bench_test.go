package broker

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/rabbittest"
)

// BenchmarkProvision measures Provision of a new instance's vhost, user
// and permissions on a running broker (the removal is not timed). The
// goal is under 200 ms. scripts/bench/instance.sh runs it against its
// root's embedded node through DEPLOYKIT_TEST_BROKER_URL.
func BenchmarkProvision(b *testing.B) {
	ctx := context.Background()
	admin, _ := adminFor(b)
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		names, err := account.NamesFor("", rabbittest.RandomName("bp"))
		if err != nil {
			b.Fatal(err)
		}
		spec := Spec{Names: names, SecretsFile: filepath.Join(dir, names.Role)}
		if _, err := Provision(ctx, admin, spec); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := Remove(ctx, admin, names, RemoveOptions{Confirm: names.Role, SecretsFile: spec.SecretsFile}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
