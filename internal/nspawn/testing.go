package nspawn

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// Prepare makes sure a test can boot containers from rootfs ("" =
// DefaultRootfs()): it is root, systemd-nspawn and nsenter are there, and
// the root file system is built (about a minute, once per machine). What
// is missing skips the test, or fails it with CI=true (internal/testenv).
func Prepare(t testing.TB, rootfs string) {
	t.Helper()
	testenv.NeedRoot(t)
	for _, c := range []string{"systemd-nspawn", "nsenter"} {
		testenv.Command(t, c)
	}
	if rootfs == "" {
		rootfs = DefaultRootfs()
	}
	if _, err := os.Stat(rootfs + "/" + marker); err != nil {
		testenv.Command(t, "debootstrap")
		// About a minute on a quiet machine; many times that on a busy one.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		if err := EnsureRootfs(ctx, rootfs, "", nil); err != nil {
			testenv.Skip(t, "building the nspawn root file system: %v", err)
		}
	}
}

// Start boots a container for a test (see Prepare). A failing boot skips
// the test, or fails it with CI=true. The container is powered off when
// the test ends.
func Start(t testing.TB, opts Options) *Container {
	t.Helper()
	Prepare(t, opts.Rootfs)
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

// BootHostsForTest boots Hosts for tests (see Prepare and BootHosts); it
// also needs ssh-keygen. The caller closes them: tests of one package
// usually share one set, booted by the first test that needs it and
// closed in TestMain.
func BootHostsForTest(t testing.TB, opts HostsOptions) *Hosts {
	t.Helper()
	Prepare(t, opts.Rootfs)
	testenv.Command(t, "ssh-keygen")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	h, err := BootHosts(ctx, opts)
	if err != nil {
		testenv.Skip(t, "booting %d hosts: %v", opts.N, err)
	}
	var names []string
	for _, x := range h.Hosts {
		names = append(names, x.Name+"@"+x.Address)
	}
	t.Logf("hosts %v up after %v", names, time.Since(start).Round(time.Millisecond))
	return h
}

// StartHosts boots Hosts for one test and closes them when it ends.
func StartHosts(t testing.TB, opts HostsOptions) *Hosts {
	t.Helper()
	h := BootHostsForTest(t, opts)
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("closing hosts: %v", err)
		}
	})
	return h
}
