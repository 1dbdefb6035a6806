package instance_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/deploykit/deploykit/instance"
)

func ExampleParseSpec() {
	spec, err := instance.ParseSpec([]byte(`name = "demo"
python = ">=3.9, <3.14"
requirements = ["requirements.txt"]
[database]
migrations = "migrations"
[services.web]
command = ["gunicorn", "demo.wsgi"]
listen = true
`), "app.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Name, spec.ListeningServices())

	_, err = instance.ParseSpec([]byte("name = \"demo\"\npython = \"newest\"\n"), "app.toml")
	var se *instance.SpecError
	fmt.Println(errors.As(err, &se), se.Key, se.Line)
	// Output:
	// demo [web]
	// true python 2
}

func ExampleVars_Expand() {
	v := instance.Vars{Instance: "staging", Venv: "/srv/deploykit/instances/staging/releases/r3/venv", Port: 20412}
	s, _ := v.Expand("{venv}/bin/gunicorn --bind 127.0.0.1:{port} --name {instance}")
	fmt.Println(s)
	// Output: /srv/deploykit/instances/staging/releases/r3/venv/bin/gunicorn --bind 127.0.0.1:20412 --name staging
}

// A program that manages instances: open a Manager on a root, create an
// instance from a spec, upgrade it later. (Needs root, Python 3 and
// PostgreSQL server binaries, so it is not run as a test.)
func ExampleManager() {
	// The built-in supervisor re-executes this program as its daemon.
	if handled, err := instance.SupervisorMain(context.Background(), os.Args[1:], nil); handled {
		if err != nil {
			os.Exit(1)
		}
		return
	}
	ctx := context.Background()
	m, err := instance.Open(ctx, instance.Options{
		Root:   "/srv/deploykit",
		Logger: slog.Default(),
		Events: func(e instance.Event) {
			if e.Kind == instance.EventStepDone {
				fmt.Printf("%s %s: %s (%s)\n", e.Op, e.Instance, e.Step, e.Elapsed)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	spec, err := instance.LoadSpec("app.toml")
	if err != nil {
		panic(err)
	}
	if _, err := m.Create(ctx, "staging", spec); err != nil {
		panic(err)
	}
	st, err := m.Upgrade(ctx, "staging", nil)
	if errors.Is(err, instance.ErrLocked) {
		fmt.Println("another operation is running")
		return
	}
	if err != nil {
		panic(err) // the upgrade was rolled back; the old release serves
	}
	fmt.Println("now at", st.Current)
}

// Converge an instance to a spec, as a configuration-management run does on
// each host: plan first (a dry run changes nothing), then apply. The
// services are bound on the host's address, so a load balancer on
// another host reaches them. (Needs root, Python 3 and PostgreSQL server
// binaries, so it is not run as a test.)
func ExampleManager_Apply() {
	ctx := context.Background()
	m, err := instance.Open(ctx, instance.Options{Root: "/srv/deploykit", ListenAddress: "10.0.0.5"})
	if err != nil {
		panic(err)
	}
	spec, err := instance.LoadSpec("/srv/app/app.toml")
	if err != nil {
		panic(err)
	}
	plan, _, err := m.Apply(ctx, "production", spec, instance.ApplyOptions{DryRun: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(plan) // e.g. "production upgraded from r4 to r5 (dry run: would be); differs: lock; packages 1 changed"
	if !plan.Changed {
		return
	}
	plan, st, err := m.Apply(ctx, "production", spec, instance.ApplyOptions{})
	if err != nil {
		panic(err) // a failed upgrade was rolled back
	}
	fmt.Println(plan.Action, st.Current, st.Ports)
}
