package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// Host is what the cluster's settings are sized from.
type Host struct {
	Memory int64 // bytes of RAM the server may use (the cgroup's limit if lower than the machine's)
	Disk   int64 // bytes of the file system holding the data directory
}

// Setting is one postgresql.conf parameter.
type Setting struct {
	Name, Value string
	Why         string // one line, written above it in deploykit.conf
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// Tuning returns the settings deploykit gives a cluster on host h, in the
// order deploykit.conf lists them (see the package doc, "Settings").
func Tuning(h Host) []Setting {
	mem := h.Memory
	if mem <= 0 {
		mem = 1 * gib
	}
	disk := h.Disk
	if disk <= 0 {
		disk = 32 * gib
	}
	maxWAL := clamp(disk/32, 1*gib, 4*gib)
	return []Setting{
		{"shared_buffers", size(clamp(mem/8, 128*mib, 4*gib)),
			"an eighth of memory (the host's applications share it), 128MB to 4GB"},
		{"effective_cache_size", size(max(mem/2, 128*mib)), "the planner's guess of the OS cache: half of memory"},
		{"maintenance_work_mem", size(clamp(mem/32, 64*mib, 1*gib)),
			"index builds and VACUUM sort in memory: a thirty-second of memory, 64MB to 1GB"},
		{"wal_level", "minimal",
			"no replication or archiving here: a table created or emptied in the transaction that fills it (a restore, COPY) writes no WAL"},
		{"max_wal_senders", "0", "wal_level = minimal needs it"},
		{"max_wal_size", size(maxWAL),
			"bulk loads and index builds checkpoint by size, not every few hundred MB: 1GB to 4GB, a thirty-second of the disk"},
		{"min_wal_size", size(maxWAL / 4), "WAL segments kept for reuse rather than created anew"},
		{"checkpoint_timeout", "15min", "fewer checkpoints, fewer full-page images after each"},
		{"checkpoint_completion_target", "0.9", "spread checkpoint writes (the default since PostgreSQL 14)"},
	}
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

// size writes n bytes in PostgreSQL's units, rounded down to MB.
func size(n int64) string {
	mb := n / mib
	if mb%1024 == 0 {
		return strconv.FormatInt(mb/1024, 10) + "GB"
	}
	return strconv.FormatInt(mb, 10) + "MB"
}

// HostOf measures the host for a cluster whose data directory is (or
// will be) under dir.
func HostOf(dir string) Host {
	var h Host
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		h.Memory = int64(si.Totalram) * int64(si.Unit)
	}
	if lim := cgroupMemoryLimit(); lim > 0 && (h.Memory == 0 || lim < h.Memory) {
		h.Memory = lim
	}
	var fs syscall.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if syscall.Statfs(d, &fs) == nil {
			h.Disk = int64(fs.Blocks) * fs.Bsize
			break
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return h
}

// cgroupMemoryLimit is the memory limit of the caller's cgroup (v2, then
// v1), 0 when none.
func cgroupMemoryLimit() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		case strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		v, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		if err == nil && n > 0 && n < 1<<60 {
			return n
		}
	}
	return 0
}

// initdbWrites are the parameters initdb writes uncommented into
// postgresql.conf with the value it writes: another value there is the
// administrator's.
var initdbWrites = map[string]string{"shared_buffers": "128MB", "max_wal_size": "1GB", "min_wal_size": "80MB"}

// replicationParams are the settings that show the administrator set the
// cluster up for replication or archiving: then wal_level stays theirs.
var replicationParams = []string{"wal_level", "max_wal_senders", "archive_mode", "archive_command", "archive_library"}

// adminSettings returns the parameters the administrator set: in
// postgresql.conf (other than initdb's own lines) and in
// postgresql.auto.conf (ALTER SYSTEM). Include directives other than
// deploykit's are not followed.
func adminSettings(data string) (map[string]string, error) {
	set := map[string]string{}
	for _, f := range []string{"postgresql.conf", "postgresql.auto.conf"} {
		b, err := os.ReadFile(filepath.Join(data, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		for name, value := range parseConf(b) {
			if f == "postgresql.conf" && initdbWrites[name] == value {
				continue
			}
			set[name] = value
		}
	}
	return set, nil
}

var confLineRE = lazyregexp.New(`^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*('(?:[^'\\]|''|\\.)*'|[^\s#']*)`)

// parseConf returns the active name = value lines of a postgresql.conf
// (names lower-cased, quotes removed; the last line of a name wins).
func parseConf(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := confLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v := m[2]
		if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2 {
			v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		}
		out[strings.ToLower(m[1])] = v
	}
	return out
}

// tuningFor is Tuning(host) minus what the administrator set (adminSettings)
// and what Options.Settings set; wal_level and max_wal_senders are left
// out as a pair when the cluster is set up for replication or archiving
// or has replication slots (with them, a server at wal_level = minimal
// refuses to start).
func (c *Cluster) tuningFor(data string) ([]Setting, error) {
	admin, err := adminSettings(data)
	if err != nil {
		return nil, err
	}
	replicated := false
	for _, p := range replicationParams {
		if _, ok := admin[p]; ok {
			replicated = true
		}
	}
	if slots, err := os.ReadDir(filepath.Join(data, "pg_replslot")); err == nil && len(slots) > 0 {
		replicated = true
	}
	for _, f := range []string{"standby.signal", "recovery.signal"} {
		if _, err := os.Stat(filepath.Join(data, f)); err == nil {
			replicated = true
		}
	}
	var out []Setting
	for _, s := range Tuning(c.host(data)) {
		if _, ok := admin[s.Name]; ok {
			continue
		}
		if _, ok := c.opts.Settings[s.Name]; ok {
			continue
		}
		if replicated && (s.Name == "wal_level" || s.Name == "max_wal_senders") {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Cluster) host(data string) Host {
	if c.opts.Host != nil {
		return *c.opts.Host
	}
	return HostOf(data)
}

// Reconfigure makes a running server read its configuration again, so
// the settings a reload can change apply now, and returns those of the
// settings deploykit.conf sets that wait for a restart (shared_buffers,
// wal_level…: a server started before deploykit chose them). The caller
// restarts the server when it can. The admin connection is used.
func (c *Cluster) Reconfigure(ctx context.Context) (restart []string, err error) {
	conn, err := c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return nil, fmt.Errorf("pgcluster: reloading the configuration: %w", err)
	}
	// pg_file_settings reads the files afresh and marks what the running
	// server cannot take without a restart; pg_settings.pending_restart
	// would depend on when this backend gets the reload signal.
	rows, err := conn.Query(ctx, `SELECT DISTINCT name FROM pg_file_settings
		WHERE right(sourcefile, 15) = '/deploykit.conf' AND error = 'setting could not be applied' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
