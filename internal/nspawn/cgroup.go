package nspawn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// cgroups are the control groups one container's systemd-nspawn starts in:
// a new child of this process's own group in each hierarchy nspawn works
// in (the unified one, and name=systemd on a hybrid or legacy host).
//
// Why: with --keep-unit and no host systemd, nspawn puts the container in
// "payload" under the group it was started in. Every container started
// from the same group (all of a test binary's, and other binaries' run
// from the same shell) then shares one tree, so two containers' same-named
// units are one cgroup. Each systemd sees the other's processes in it as
// pid 0 (not in its pid namespace): `systemctl kill` fails with EIO
// ("Failed to send signal SIGKILL to auxiliary processes") and a unit's
// group is not empty while the other container's unit runs.
type cgroups []string

// newCgroups makes the groups for the container called name. Hierarchies
// it cannot find or write are left out: nspawn then shares this process's
// group, as before.
func newCgroups(name string) (cgroups, error) {
	own, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer own.Close()
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer mounts.Close()
	var g cgroups
	for _, dir := range cgroupDirs(own, mounts) {
		d := filepath.Join(dir, "deploykit-nspawn-"+name)
		if err := os.Mkdir(d, 0o755); err != nil {
			g.remove()
			return nil, fmt.Errorf("control group for container %s: %w", name, err)
		}
		g = append(g, d)
	}
	return g, nil
}

// cgroupDirs returns the directories of this process's group in the
// unified hierarchy and the name=systemd one, given /proc/self/cgroup and
// /proc/self/mountinfo.
func cgroupDirs(ownCgroup, mountinfo io.Reader) []string {
	paths := map[string]string{} // "" = unified, "name=systemd"
	sc := bufio.NewScanner(ownCgroup)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			paths[""] = f[2]
		case f[1] == "name=systemd":
			paths["name=systemd"] = f[2]
		}
	}
	var dirs []string
	seen := map[string]bool{}
	sc = bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 {
			continue
		}
		var key string
		switch {
		case p[0] == "cgroup2":
			key = ""
		case p[0] == "cgroup" && strings.Contains(","+p[2]+",", ",name=systemd,"):
			key = "name=systemd"
		default:
			continue
		}
		path, ok := paths[key]
		if !ok || seen[key] {
			continue
		}
		root := unescapeMount(f[3])
		rel, ok := strings.CutPrefix(path, root)
		if !ok {
			continue // our group is not visible under this mount
		}
		seen[key] = true
		dirs = append(dirs, filepath.Join(unescapeMount(f[4]), rel))
	}
	return dirs
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// wrap returns the argv that moves itself into the groups, then execs
// argv: nspawn must read its own group from its first instruction.
func (g cgroups) wrap(argv []string) []string {
	if len(g) == 0 {
		return argv
	}
	var script strings.Builder
	for i := range g {
		fmt.Fprintf(&script, `echo $$ >"$%d" || exit 125; `, i+1)
	}
	fmt.Fprintf(&script, `shift %d; exec "$@"`, len(g))
	out := []string{"/bin/sh", "-c", script.String(), "sh"}
	for _, d := range g {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return append(out, argv...)
}

// remove removes the groups and what nspawn and the container's systemd
// made in them, deepest first. The container's processes are gone once
// nspawn has exited, but the kernel may take a moment to release them, so
// a busy group is retried for a short while.
func (g cgroups) remove() error {
	var errs []error
	for _, d := range g {
		var dirs []string
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, p := range dirs {
			deadline := time.Now().Add(2 * time.Second)
			for {
				err := syscall.Rmdir(p)
				if err == nil || errors.Is(err, syscall.ENOENT) {
					break
				}
				if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
					errs = append(errs, fmt.Errorf("rmdir %s: %w", p, err))
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return errors.Join(errs...)
}
