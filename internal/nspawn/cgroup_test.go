package nspawn

import (
	"reflect"
	"strings"
	"testing"
)

const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestCgroupDirsFindsOwnGroupInEachHierarchyNspawnUses(t *testing.T) {
	cases := []struct {
		name, cgroup, mountinfo string
		want                    []string
	}{
		{"hybrid host, root group", "9:name=systemd:/\n4:memory:/x\n0::/\n", hybridMountinfo,
			[]string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}},
		{"unified host, a service's group", "0::/system.slice/ci.service\n",
			"25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
			[]string{"/sys/fs/cgroup/system.slice/ci.service"}},
		{"inside a cgroup namespace whose mount root is a sub-tree", "0::/payload/a b\n",
			"25 20 0:22 /payload /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n",
			[]string{"/sys/fs/cgroup x/a b"}},
		{"no cgroup mounted", "0::/\n", "22 1 0:5 / /proc rw - proc proc rw\n", nil},
	}
	for _, c := range cases {
		got := cgroupDirs(strings.NewReader(c.cgroup), strings.NewReader(c.mountinfo))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCgroupsWrapMovesItselfBeforeExec(t *testing.T) {
	g := cgroups{"/cg/unified/x", "/cg/systemd/x"}
	got := g.wrap([]string{"/usr/bin/systemd-nspawn", "--boot"})
	want := []string{"/bin/sh", "-c", `echo $$ >"$1" || exit 125; echo $$ >"$2" || exit 125; shift 2; exec "$@"`, "sh",
		"/cg/unified/x/cgroup.procs", "/cg/systemd/x/cgroup.procs", "/usr/bin/systemd-nspawn", "--boot"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
	if argv := cgroups(nil).wrap([]string{"a"}); !reflect.DeepEqual(argv, []string{"a"}) {
		t.Fatalf("no groups: %q", argv)
	}
}

func FuzzCgroupDirs(f *testing.F) {
	f.Add("0::/\n9:name=systemd:/\n", hybridMountinfo)
	f.Add("0::/a\n", "1 2 0:1 /a\\134 /m - cgroup2 x rw\n")
	f.Fuzz(func(t *testing.T, cgroup, mountinfo string) {
		for _, d := range cgroupDirs(strings.NewReader(cgroup), strings.NewReader(mountinfo)) {
			if d == "" {
				t.Fatal("empty directory")
			}
		}
	})
}
