package ansible

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/testenv"
)

// BenchmarkFleet prints the figures of scripts/bench/fleet.sh (run it
// with -benchtime 1x): the wall time of site.yml on three hosts for a
// first deploy and for a no-change re-run, and of rolling-upgrade.yml,
// each beside the same deploykit operations run on one host without
// Ansible (deploykit apply, by nsenter, on a root of its own); deploykit's
// share of the no-change re-run (the hosts' `deploykit apply` time, as the
// module measures it, over the play's wall time); and the requests that
// failed through HAProxy during the rolling upgrade.
func BenchmarkFleet(b *testing.B) {
	h := fleetHosts(b)
	rounds := 3
	for i := 0; i < b.N; i++ {
		benchFleet(b, h, rounds)
	}
}

func benchFleet(b *testing.B, h *nspawn.Hosts, rounds int) {
	f := newFleet(b, h)
	one := h.Hosts[0]
	ctx := context.Background()

	// deploykit alone on one host, on a root of its own, with a fresh
	// embedded cluster as site.yml's first deploy has.
	dk := "/opt/dkbench/deploykit"
	if err := one.CopyIn(dkBinary, dk); err != nil {
		b.Fatal(err)
	}
	copyDir(b, one, f.app, "/srv/apps/"+f.name)
	apply := func() time.Duration {
		b.Helper()
		start := time.Now()
		out, err := one.Command(ctx, dk, "--root", "/srv/dkbench", "--listen-address", one.Address, "apply", f.name, "--spec", "/srv/apps/"+f.name+"/app.toml", "--json").CombinedOutput()
		if err != nil {
			b.Fatalf("deploykit apply on %s: %v\n%s", one.Address, err, out)
		}
		return time.Since(start)
	}
	alone := map[string][]time.Duration{}
	alone["first"] = append(alone["first"], apply())
	for r := 0; r < rounds; r++ {
		alone["rerun"] = append(alone["rerun"], apply())
	}
	f.writeApp(b, "2", "")
	copyDir(b, one, f.app, "/srv/apps/"+f.name)
	alone["upgrade"] = append(alone["upgrade"], apply())
	hostSh(b, one, dk+" --root /srv/dkbench remove "+f.name+" --yes --delete-backups && "+dk+" --root /srv/dkbench shutdown && rm -rf /srv/dkbench /opt/dkbench /srv/apps/"+f.name)
	f.writeApp(b, "1", "")

	// The same with Ansible on three hosts.
	ansible := map[string][]time.Duration{}
	r := f.play(b, "site.yml", nil)
	r.ok(b)
	ansible["first"] = append(ansible["first"], r.Elapsed)
	var shares []string
	for i := 0; i < rounds; i++ {
		r := f.play(b, "site.yml", nil)
		r.ok(b)
		ansible["rerun"] = append(ansible["rerun"], r.Elapsed)
		var secs []float64
		for host, res := range r.task("Converge the instance to the spec") {
			if res["changed"] != false {
				b.Fatalf("%s: the re-run changed the instance: %v", host, res)
			}
			s, _ := res["deploykit_seconds"].(float64)
			secs = append(secs, s)
		}
		sort.Float64s(secs)
		mean := 0.0
		for _, s := range secs {
			mean += s
		}
		mean /= float64(len(secs))
		shares = append(shares, fmt.Sprintf("%.1f%% (hosts' deploykit apply %.3f–%.3f s of %.2f s)",
			100*mean/r.Elapsed.Seconds(), secs[0], secs[len(secs)-1], r.Elapsed.Seconds()))
	}
	port := f.serving(b, "1", "r1")
	front, sock := haproxy(b, f, port)
	f.writeApp(b, "2", "")
	stop := testenv.HTTPLoad(b, front, 4, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	r = f.play(b, "rolling-upgrade.yml", map[string]any{"lb_admin_socket": sock})
	time.Sleep(300 * time.Millisecond)
	okN, failN := stop()
	r.ok(b)
	ansible["upgrade"] = append(ansible["upgrade"], r.Elapsed)
	f.serving(b, "2", "r2")
	r = f.play(b, "site.yml", map[string]any{"deploykit_state": "absent"})
	r.ok(b)

	fmt.Printf("\nfleet: %d hosts (systemd-nspawn, sshd on 127.0.R.x), ansible-core, forks 5; one host: deploykit apply by nsenter\n", len(h.Hosts))
	fmt.Printf("%-34s %-28s %-28s %s\n", "operation", "Ansible on 3 hosts", "deploykit on 1 host", "Ansible ÷ deploykit (medians)")
	for _, row := range []struct{ key, name string }{
		{"first", "first deploy (create)"},
		{"rerun", "no-change re-run"},
		{"upgrade", "rolling upgrade (serial: 1)"},
	} {
		a, o := ansible[row.key], alone[row.key]
		fmt.Printf("%-34s %-28s %-28s %.1f×\n", row.name, rounds2s(a), rounds2s(o), median(a).Seconds()/median(o).Seconds())
	}
	fmt.Printf("deploykit's share of each no-change re-run: %s\n", strings.Join(shares, "; "))
	fmt.Printf("requests through HAProxy during the rolling upgrade: %d ok, %d failed\n", okN, failN)
	if failN != 0 {
		b.Errorf("%d requests failed during the rolling upgrade", failN)
	}
}

// copyDir copies the host directory src into x at dst.
func copyDir(t testing.TB, x *nspawn.Host, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return x.CopyIn(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func rounds2s(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
	}
	return strings.Join(parts, ", ") + " s"
}
