package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// ErrNoBinaries reports that no PostgreSQL server binaries (initdb, pg_ctl,
// postgres) were found.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; install the postgresql package or set Options.BinDir")

// serverBinaries are the programs a directory must hold to run a cluster.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// Binaries is one set of PostgreSQL server programs.
type Binaries struct {
	Dir     string          // directory holding initdb, pg_ctl, postgres
	Version *semver.Version // of postgres --version
}

// FindBinaries looks for PostgreSQL server binaries in
// /usr/lib/postgresql/*/bin (Debian), /usr/pgsql-*/bin (PGDG RPMs),
// pg_config --bindir, and PATH, and returns the newest set. The error wraps
// ErrNoBinaries when there is none.
func FindBinaries(ctx context.Context) (Binaries, error) {
	var cands []string
	for _, g := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin"} {
		m, _ := filepath.Glob(g)
		cands = append(cands, m...)
	}
	if pgc, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.CommandContext(ctx, pgc, "--bindir").Output(); err == nil {
			cands = append(cands, strings.TrimSpace(string(out)))
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	var best Binaries
	seen := map[string]bool{}
	for _, dir := range cands {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		b, err := BinariesIn(ctx, dir)
		if err != nil {
			continue
		}
		if best.Version == nil || b.Version.GreaterThan(best.Version) {
			best = b
		}
	}
	if best.Version == nil {
		return Binaries{}, ErrNoBinaries
	}
	return best, nil
}

// BinariesIn checks that dir holds the server binaries and asks postgres
// for its version.
func BinariesIn(ctx context.Context, dir string) (Binaries, error) {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return Binaries{}, fmt.Errorf("%w: %s has no executable %s", ErrNoBinaries, dir, name)
		}
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("pgcluster: %s/postgres --version: %w", dir, err)
	}
	v, err := parseVersionOutput(string(out))
	if err != nil {
		return Binaries{}, fmt.Errorf("pgcluster: %s/postgres --version: %w", dir, err)
	}
	return Binaries{Dir: dir, Version: v}, nil
}

var versionOutputRE = lazyregexp.New(`\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// parseVersionOutput reads "postgres (PostgreSQL) 15.18 (Debian …)" and
// also development versions like "17devel" or "16beta2" (as 17.0.0, 16.0.0).
func parseVersionOutput(s string) (*semver.Version, error) {
	m := versionOutputRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("unrecognised version output %q", strings.TrimSpace(s))
	}
	v := m[1]
	for _, p := range m[2:] {
		if p == "" {
			p = "0"
		}
		v += "." + p
	}
	return semver.NewVersion(v)
}

// VersionFromNum turns server_version_num (e.g. 150018, or 90624 for 9.6.24)
// into a semantic version (15.18.0, 9.6.24).
func VersionFromNum(num int) (*semver.Version, error) {
	if num <= 0 {
		return nil, fmt.Errorf("pgcluster: invalid server_version_num %d", num)
	}
	if num >= 100000 {
		return semver.NewVersion(fmt.Sprintf("%d.%d.0", num/10000, num%10000))
	}
	return semver.NewVersion(fmt.Sprintf("%d.%d.%d", num/10000, num/100%100, num%100))
}
