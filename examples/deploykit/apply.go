package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/instance"
)

// applyResult is `deploykit apply --json`'s output, which the
// deploykit.fleet Ansible module returns as is: changed, release and
// ports at the top, the whole plan beside them.
type applyResult struct {
	Instance      string         `json:"instance"`
	Changed       bool           `json:"changed"`
	DryRun        bool           `json:"dry_run"`
	Release       string         `json:"release,omitempty"`
	Ports         map[string]int `json:"ports"`
	ListenAddress string         `json:"listen_address"`
	Plan          *instance.Plan `json:"plan,omitempty"`
	// Seconds is the wall time deploykit spent, so a caller can tell its
	// own overhead from deploykit's.
	Seconds float64 `json:"seconds"`
	// Failed and Error report a failed apply (the instance was rolled
	// back to what it was).
	Failed bool   `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (a *app) applyCommand() *cobra.Command {
	var specPath string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply NAME --spec app.toml [--dry-run]",
		Short: "Converge an instance to a spec: create it, upgrade it, or do nothing",
		Long: `apply makes instance NAME match the spec: it creates the instance when
it does not exist, upgrades it when the spec, its migrations or its
resolved lock differ from the current release (rolling back on failure,
as upgrade does), moves it when the root's listen address changed, and
otherwise does nothing — and restarts nothing. It is the unit of work of
the deploykit.fleet Ansible collection.

--dry-run plans without changing anything on the host (Ansible's check
mode): no user, database, release, restart, directory or lock file.

The exit code is 0 whether or not anything changed; --json prints
changed, release, ports and the plan (packages added, removed and
changed, pending migrations, services added and removed).`,
		Example: `  deploykit apply production --spec app.toml
  deploykit apply production --spec app.toml --dry-run --json
  deploykit --listen-address 10.0.0.5 apply web1 --spec /srv/app/app.toml --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if specPath == "" {
				return usagef("apply: --spec is required")
			}
			spec, err := loadSpec(specPath)
			if err != nil {
				return err
			}
			return a.withManager(cmd, func(ctx context.Context, m *instance.Manager) error {
				plan, st, err := m.Apply(ctx, args[0], spec, instance.ApplyOptions{DryRun: dryRun})
				if a.json && (err == nil || plan != nil) {
					if perr := a.printJSON(applyJSON(m, args[0], plan, st, err)); perr != nil && err == nil {
						return perr
					}
				}
				if err != nil {
					return err
				}
				if !a.json {
					fmt.Fprintln(a.stdout, plan)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "application spec (app.toml)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "plan only: change nothing on the host")
	return cmd
}

func applyJSON(m *instance.Manager, name string, p *instance.Plan, st *instance.State, err error) applyResult {
	r := applyResult{Instance: name, Ports: map[string]int{}, ListenAddress: m.ListenAddress(), Plan: p}
	if p != nil {
		r.Changed, r.DryRun, r.Release, r.Seconds = p.Changed, p.DryRun, p.Release, p.Elapsed.Seconds()
		if p.Ports != nil {
			r.Ports = p.Ports
		}
		r.ListenAddress = p.ListenAddress
	}
	if err != nil {
		// The failed operation was rolled back: the instance is as it was.
		r.Changed, r.Failed, r.Error = false, true, err.Error()
		if p != nil {
			r.Release = p.From
		}
	}
	return r
}
