package resolve_test

import (
	"context"
	"fmt"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
	"github.com/deploykit/deploykit/requirements/resolve"
)

// tiny is a Provider over a fixed table: version -> Requires-Dist.
type tiny map[string]map[string][]string

func (t tiny) Versions(ctx context.Context, name string) ([]resolve.Candidate, error) {
	var out []resolve.Candidate
	for v := range t[name] {
		out = append(out, resolve.Candidate{Name: name, Version: pep440.MustParse(v)})
	}
	return out, nil
}

func (t tiny) Metadata(ctx context.Context, c resolve.Candidate) (*resolve.Metadata, error) {
	md := &resolve.Metadata{}
	for _, d := range t[c.Name][c.Version.String()] {
		md.RequiresDist = append(md.RequiresDist, requirements.MustParseRequirement(d))
	}
	return md, nil
}

func Example() {
	p := tiny{
		"web":   {"1.0": {"db>=2"}, "2.0": {"db>=3"}},
		"db":    {"2.0": nil, "2.5": nil},
		"cache": {"1.0": {"web<2"}},
	}
	env := requirements.Environment{"python_full_version": "3.11.7", "python_version": "3.11"}
	res, err := resolve.Resolve(context.Background(), p,
		[]requirements.Requirement{requirements.MustParseRequirement("web")},
		resolve.Options{Environment: env})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Packages {
		fmt.Println(r.Name, r.Candidate.Version)
	}
	// Output:
	// db 2.5
	// web 1.0
}

func ExampleNoSolutionError() {
	p := tiny{
		"web": {"1.0": {"db>=3"}},
		"db":  {"2.0": nil, "3.0": nil},
	}
	env := requirements.Environment{"python_full_version": "3.11.7", "python_version": "3.11"}
	_, err := resolve.Resolve(context.Background(), p,
		[]requirements.Requirement{
			requirements.MustParseRequirement("web"),
			requirements.MustParseRequirement("db<3"),
		},
		resolve.Options{Environment: env})
	fmt.Println(err)
	// Output:
	// no set of versions satisfies the requirements:
	// Because web 1.0 depends on db>=3 and the requirements ask for web, db 3.0 is required.
	// So, because the requirements ask for db<3, version solving failed. (1)
}
