package ansible

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/testenv"
)

// aptMirror is a flat apt repository ("deb [trusted=yes] URL ./") served
// by the test on 127.0.0.1 from .deb files already on the machine (those
// the hosts' root file system was made of): the hosts share the machine's
// network, so they reach it as they reach a Debian mirror, and what their
// package manager installs from it needs no other network. The Packages index is written here from each file's
// control fields (dpkg-deb -f) with the Filename, Size and SHA256 that apt
// checks, and a Release file names the index with its hash; apt takes
// both unsigned because the source says trusted=yes.
type aptMirror struct {
	URL      string
	index    []byte
	release  []byte
	files    map[string]mirrorDeb // by URL path: /pool/SHA256.deb
	mu       sync.Mutex
	received []string // package_version of every .deb fetched
}

type mirrorDeb struct {
	path, pkg, version string
}

// serveAptMirror indexes debs and serves them until the test ends.
func serveAptMirror(t testing.TB, debs []string) *aptMirror {
	t.Helper()
	dpkgDeb := testenv.Command(t, "dpkg-deb")
	m := &aptMirror{files: map[string]mirrorDeb{}}
	for _, deb := range debs {
		control, err := exec.Command(dpkgDeb, "-f", deb).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", deb, err)
		}
		data, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		// Named by hash, so no epoch's colon or other character of a
		// Debian file name has to survive URL quoting.
		url := fmt.Sprintf("/pool/%x.deb", sum)
		control = bytes.TrimRight(control, "\n")
		m.index = fmt.Appendf(m.index, "%s\nFilename: %s\nSize: %d\nSHA256: %x\n\n", control, url[1:], len(data), sum)
		m.files[url] = mirrorDeb{path: deb, pkg: controlField(control, "Package"), version: controlField(control, "Version")}
	}
	sum := sha256.Sum256(m.index)
	m.release = fmt.Appendf(nil, "Date: %s\nSHA256:\n %x %d Packages\n",
		time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"), sum, len(m.index))
	srv := httptest.NewServer(m) // on 127.0.0.1
	t.Cleanup(srv.Close)
	m.URL = srv.URL + "/"
	return m
}

func controlField(control []byte, name string) string {
	for _, line := range strings.Split(string(control), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (m *aptMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := path.Clean("/" + r.URL.Path)
	switch p {
	case "/Packages":
		http.ServeContent(w, r, "Packages", time.Time{}, bytes.NewReader(m.index))
		return
	case "/Release":
		http.ServeContent(w, r, "Release", time.Time{}, bytes.NewReader(m.release))
		return
	}
	d, ok := m.files[p]
	if !ok {
		http.NotFound(w, r) // InRelease, Release.gpg, translations: not kept
		return
	}
	f, err := os.Open(d.path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	if r.Method == http.MethodGet {
		m.mu.Lock()
		m.received = append(m.received, d.pkg+"_"+d.version)
		m.mu.Unlock()
	}
	http.ServeContent(w, r, filepath.Base(d.path), time.Time{}, f)
}

// fetched returns the package_version of each .deb fetched, sorted.
func (m *aptMirror) fetched() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]string(nil), m.received...)
	sort.Strings(out)
	return out
}

// postgresServerPackages are what the rootfs's PostgreSQL server is
// installed as (nspawn.Packages): the name the install role asks Debian's
// apt for, and the server it depends on, which holds initdb.
var postgresServerPackages = []string{"postgresql", "postgresql-15"}

// withoutPostgresServer makes host x one that lacks PostgreSQL's server
// binaries and whose package manager has as its only source a mirror, on
// 127.0.0.1, of the .deb files they were installed from (the root file
// system's, the versions its other packages were installed with); the
// host's overlay is thrown away when it powers off. It returns the mirror,
// which serves until the test ends.
func withoutPostgresServer(t testing.TB, x *nspawn.Host) *aptMirror {
	t.Helper()
	// Only what the host lacks: dpkg-deb reading the control of every
	// package the root file system holds took ~20 s on a loaded machine.
	archives := filepath.Join(nspawn.DefaultRootfs(), "var/cache/apt/archives")
	var debs []string
	for _, p := range postgresServerPackages {
		m, _ := filepath.Glob(filepath.Join(archives, p+"_*.deb"))
		if len(m) != 1 {
			testenv.Skip(t, "%d %s_*.deb in %s, want the one PostgreSQL's server was installed from (debootstrap leaves them there)", len(m), p, archives)
		}
		debs = append(debs, m[0])
	}
	// A host that ran deploykit already has its embedded cluster, which
	// would not need initdb again.
	if out := hostSh(t, x, "ls -d /srv/deploykit/postgres 2>/dev/null || true"); out != "" {
		t.Fatalf("%s already has deploykit's embedded cluster (%s): this test needs a host that never ran it", x.Address, out)
	}
	mirror := serveAptMirror(t, debs)
	hostSh(t, x, fmt.Sprintf(`set -e
# apt's sources: the mirror, and nothing else.
mkdir -p /root/apt-sources-moved-aside
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
	if [ -e "$f" ]; then mv "$f" /root/apt-sources-moved-aside/; fi
done
echo 'deb [trusted=yes] %s ./' >/etc/apt/sources.list.d/deploykit-test-mirror.list
# Installed afresh, Debian's postgresql makes and starts a cluster of its
# own on port 5432, and this host shares the machine's network.
echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
dpkg --purge %s >/dev/null
# What apt installs comes from the mirror: not from the packages the root
# file system was made with, nor from lists of another source.
apt-get clean
apt-get update -q --error-on=any >/dev/null`, mirror.URL, strings.Join(postgresServerPackages, " ")))
	got := hostSh(t, x, `ls /usr/lib/postgresql/*/bin/initdb /usr/bin/initdb 2>/dev/null; dpkg-query -W -f '${db:Status-Abbrev}${Package}\n' `+strings.Join(postgresServerPackages, " ")+` 2>&1 | grep '^ii' || true
apt-cache madison postgresql | grep -cF '`+strings.TrimSuffix(mirror.URL, "/")+`' || true`)
	if got != "1" {
		t.Fatalf("%s: PostgreSQL's server still there, or the mirror not apt's source (want no initdb, no installed package, one candidate from %s):\n%s", x.Address, mirror.URL, got)
	}
	// As on a fresh cloud image, apt has no package lists: the role must
	// refresh them before it installs, or apt knows no postgresql.
	hostSh(t, x, "find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -delete")
	return mirror
}
