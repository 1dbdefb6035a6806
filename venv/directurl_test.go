package venv

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// TestDirectURLMatchesPip renders the PEP 610 records pip writes with pip's
// own model classes and compares bytes.
func TestDirectURLMatchesPip(t *testing.T) {
	t.Parallel()
	py := py311(t)
	cases := []DirectURL{
		{URL: "file:///w/Django-4.2-py3-none-any.whl", ArchiveSHA256: strings.Repeat("ab", 32)},
		{URL: "https://example.org/p.tar.gz"},
		{URL: "https://github.com/o/r.git", VCS: "git", CommitID: "0123456789abcdef0123456789abcdef01234567", RequestedRevision: "main", Subdirectory: "src/pkg"},
		{URL: "https://hg.example.org/r", VCS: "hg", CommitID: "abc"},
		{URL: "file:///home/u/proj%20dir", Dir: true, Editable: true},
		{URL: "file:///home/u/proj", Dir: true},
		{URL: "file:///tmp/\u00e9t\u00e9/x.whl"},
	}
	script := `
import json, sys
from pip._internal.models.direct_url import DirectUrl, ArchiveInfo, VcsInfo, DirInfo
for line in sys.stdin:
    c = json.loads(line)
    if c["VCS"]:
        info = VcsInfo(vcs=c["VCS"], commit_id=c["CommitID"], requested_revision=c["RequestedRevision"] or None)
    elif c["Dir"]:
        info = DirInfo(editable=c["Editable"])
    else:
        info = ArchiveInfo(hash=("sha256=" + c["ArchiveSHA256"]) if c["ArchiveSHA256"] else None)
    print(DirectUrl(url=c["URL"], info=info, subdirectory=c["Subdirectory"] or None).to_json())
`
	var in strings.Builder
	for _, c := range cases {
		b, _ := json.Marshal(c)
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command(py.Path, "-c", script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No module named 'pip") {
			testenv.Skip(t, "%s has no pip to compare with", py.Path)
		}
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, c := range cases {
		if got := string(c.JSON()); got != lines[i] {
			t.Errorf("case %d:\n pip       %s\n deploykit %s", i, lines[i], got)
		}
	}
}
