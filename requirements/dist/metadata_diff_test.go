package dist

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// metadataOracle prints, for each wheel named on stdin, the fields
// packaging.metadata.parse_email reads from its METADATA.
const metadataOracle = `
import json, sys, zipfile
from pip._vendor.packaging import metadata
out = {}
for path in sys.stdin.read().split():
    z = zipfile.ZipFile(path)
    name = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")][0]
    raw, unparsed = metadata.parse_email(z.read(name))
    out[path] = {k: raw.get(k) for k in ("metadata_version", "name", "version", "summary", "requires_dist",
        "requires_python", "provides_extra", "dynamic", "description", "description_content_type", "license")}
    out[path]["unparsed"] = sorted(unparsed)
json.dump(out, sys.stdout)
`

// TestMetadataMatchesPackaging compares ParseMetadata with
// packaging.metadata.parse_email (pip's vendored copy) on every wheel of
// the wheelhouse.
func TestMetadataMatchesPackaging(t *testing.T) {
	var python string
	for _, py := range testenv.Pythons(t) {
		if exec.Command(py.Path, "-c", "from pip._vendor.packaging import metadata; metadata.parse_email").Run() == nil {
			python = py.Path
		}
	}
	if python == "" {
		testenv.Skip(t, "no interpreter whose pip vendors packaging.metadata (packaging >= 23.1)")
	}
	wh := testenv.GetWheelhouse(t)
	wheels, _ := filepath.Glob(filepath.Join(wh.Dir, "*.whl"))
	if len(wheels) < 50 {
		t.Fatalf("%d wheels in the wheelhouse", len(wheels))
	}
	cmd := exec.Command(python, "-c", metadataOracle)
	cmd.Stdin = strings.NewReader(strings.Join(wheels, "\n"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var want map[string]map[string]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for _, w := range wheels {
		m, err := ReadWheelMetadata(t.Context(), w)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		lic, _ := m.Get("License")
		got := map[string]any{
			"metadata_version": m.MetadataVersion, "name": m.Name, "version": m.Version, "summary": m.Summary,
			"requires_dist": m.RequiresDist, "requires_python": m.RequiresPython, "provides_extra": m.ProvidesExtra,
			"dynamic": m.Dynamic, "description": m.Description, "description_content_type": m.DescriptionContentType,
			"license": lic,
		}
		for k, wv := range want[w] {
			if k == "unparsed" {
				continue
			}
			gv := got[k]
			if norm(gv) != norm(wv) {
				t.Errorf("%s: %s = %.200q, packaging says %.200q", filepath.Base(w), k, norm(gv), norm(wv))
			}
		}
	}
}

// norm renders a value as JSON, with absent (None) and empty alike.
func norm(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	switch s {
	case "null", `""`, "[]":
		return ""
	}
	return s
}
