package nspawn

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// Start boots a container for a test, building the root file system first
// if needed (about a minute, once per machine). A missing tool, not being
// root, or a failing setup skips the test, or fails it with CI=true. The
// container is powered off when the test ends.
func Start(t testing.TB, opts Options) *Container {
	t.Helper()
	testenv.NeedRoot(t)
	for _, c := range []string{"systemd-nspawn", "nsenter"} {
		testenv.Command(t, c)
	}
	if opts.Rootfs == "" {
		opts.Rootfs = DefaultRootfs()
	}
	if _, err := os.Stat(opts.Rootfs + "/" + marker); err != nil {
		testenv.Command(t, "debootstrap")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := EnsureRootfs(ctx, opts.Rootfs, "", nil); err != nil {
			testenv.Skip(t, "building the nspawn root file system: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Boot(ctx, opts)
	if err != nil {
		testenv.Skip(t, "booting a systemd container: %v", err)
	}
	t.Logf("container %s (init pid %d) running after %v", c.Name, c.PID(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing container: %v", err)
		}
	})
	return c
}
