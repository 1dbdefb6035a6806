package instance

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// The embedded cluster's unit, as deploykit renders it for a real cluster,
// passes systemd-analyze verify and scores at most 2.0 in its security
// review, like every instance's unit (services/systemd). The cluster's
// running under it is TestEmbeddedClusterUnderSystemdInAContainer in
// examples/deploykit.
func TestEmbeddedClusterUnitPassesAnalyzers(t *testing.T) {
	ctx := context.Background()
	// The server's user must reach the cluster: not t.TempDir, whose
	// parent is 0700.
	root, err := os.MkdirTemp("", "dkunit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	c, err := pgcluster.New(pgcluster.Options{Dir: filepath.Join(root, "postgres"), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		testenv.Skip(t, "PostgreSQL cluster: %v", err)
	}
	comp, err := clusterUnit(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	units, err := systemd.Render(clusterInstance, []services.Component{comp})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, u := range units {
		files[u.Name] = u.Content
	}
	testenv.AnalyzeUnits(t, files, 2.0)
}
