package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) instanceCommands() []*cobra.Command {
	return []*cobra.Command{a.listCommand()}
}

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the instances under the root",
		Example: "  deploykit list\n  deploykit list --json --root /srv/deploykit",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.manager(cmd.Context())
			if err != nil {
				return err
			}
			list, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				if list == nil {
					return a.printJSON([]any{})
				}
				return a.printJSON(list)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAPP\tRELEASE\tPORTS\tCREATED\tPENDING")
			for _, s := range list {
				ports := make([]string, len(s.Ports))
				for i, p := range s.Ports {
					ports[i] = fmt.Sprint(p)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.App, s.Current, strings.Join(ports, ","), s.Created.Format("2006-01-02 15:04"), s.Pending)
			}
			return tw.Flush()
		},
	}
}
