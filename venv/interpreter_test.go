package venv

import (
	"context"
	"maps"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
)

// Inspect's marker environment comes from requirements.EnvironmentScript
// run inside facts.py: for every interpreter (3.6 up) it must be exactly
// what requirements.CurrentEnvironment reads with the same script alone.
func TestInspectMarkersAreCurrentEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range testenv.Pythons(t) {
		py, err := Inspect(ctx, p.Path, InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env, err := requirements.CurrentEnvironment(ctx, p.Path)
		if err != nil {
			t.Fatal(err)
		}
		if len(py.Markers) != 11 || !maps.Equal(py.Markers, map[string]string(env)) {
			t.Errorf("%s: Inspect markers\n%v\nCurrentEnvironment\n%v", p.Path, py.Markers, env)
		}
		if py.Markers["python_full_version"] != p.Version {
			t.Errorf("%s: python_full_version %q, want %q", p.Path, py.Markers["python_full_version"], p.Version)
		}
	}
}
