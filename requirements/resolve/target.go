package resolve

import (
	"context"
	"fmt"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Target describes the interpreter a resolution is for.
type Target struct {
	Environment requirements.Environment
	Tags        dist.TagSet
	Python      pep440.Version // python_full_version
}

// ProbeTarget asks an interpreter for its marker environment and wheel
// tags.
func ProbeTarget(ctx context.Context, python string) (Target, error) {
	env, err := requirements.CurrentEnvironment(ctx, python)
	if err != nil {
		return Target{}, err
	}
	facts, err := dist.ProbeTagFacts(ctx, python)
	if err != nil {
		return Target{}, err
	}
	v, err := pep440.Parse(env["python_full_version"])
	if err != nil {
		return Target{}, fmt.Errorf("%s: python_full_version %q: %w", python, env["python_full_version"], err)
	}
	return Target{Environment: env, Tags: dist.NewTagSet(dist.SupportedTags(facts)), Python: v}, nil
}

// Marker is a PEP 508 marker that holds exactly on the target's
// interpreter version and platform, for a lock's environments.
func (t Target) Marker() string {
	e := t.Environment
	return fmt.Sprintf(`python_full_version == %q and sys_platform == %q and platform_machine == %q and implementation_name == %q`,
		e["python_full_version"], e["sys_platform"], e["platform_machine"], e["implementation_name"])
}
