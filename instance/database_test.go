package instance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	analyze := testenv.Command(t, "systemd-analyze")
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
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		p := filepath.Join(dir, u.Name)
		if err := os.WriteFile(p, u.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	env := append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":", "SYSTEMD_LOG_COLOR=0")
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	service := filepath.Join(dir, systemd.ServiceName(clusterInstance, clusterComponent))
	cmd = exec.Command(analyze, "security", "--offline=true", "--no-pager", service)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no security score:\n%s", out)
	}
	if v, _ := strconv.ParseFloat(string(m[1]), 64); v > 2.0 {
		t.Errorf("the cluster's unit scores %.1f > 2.0:\n%s", v, out)
	}
	t.Logf("%s: exposure %s %s", filepath.Base(service), m[1], m[2])
}
