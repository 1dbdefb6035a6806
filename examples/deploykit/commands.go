package main

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/services/supervise"
)

// subcommand is one of deploykit's commands, by the name it is invoked
// by, and how to build it.
type subcommand struct {
	name  string
	build func() *cobra.Command
}

// subcommands lists every command (TestSubcommandsAreNamedAsTheyAreBuilt
// checks each name against the command built).
func (a *app) subcommands() []subcommand {
	control := func(verb, short, past string) func() *cobra.Command {
		return func() *cobra.Command { return a.controlCommand(verb, short, past) }
	}
	return []subcommand{
		{supervise.DaemonSubcommand, a.superviseCommand},
		// Instances.
		{"create", a.createCommand}, {"list", a.listCommand}, {"status", a.statusCommand},
		{"start", control("start", "Start an instance's components", "started")},
		{"stop", control("stop", "Stop an instance's components", "stopped")},
		{"restart", control("restart", "Restart an instance's components (sockets handed over: no dropped requests)", "restarted")},
		{"upgrade", a.upgradeCommand}, {"apply", a.applyCommand}, {"hotfix", a.hotfixCommand},
		{"rollback", a.rollbackCommand}, {"run", a.runCommand},
		{"backup", a.backupCommand}, {"verify", a.verifyCommand}, {"restore", a.restoreCommand},
		{"clone", a.cloneCommand}, {"units", a.unitsCommand}, {"logs", a.logsCommand},
		{"remove", a.removeCommand}, {"shutdown", a.shutdownCommand},
		// Packaging without instances: they drive venv and requirements
		// directly.
		{"venv", a.venvCommand}, {"lock", a.lockCommand}, {"install", a.installCommand}, {"sync", a.syncCommand},
		{"doctor", a.doctorCommand},
	}
}

// addCommands adds to root the one command args invoke, or every command
// when they invoke none of them by name (no arguments, --help, help,
// completion, a mistyped name). A process builds only the command it
// runs: building all 25, with their flags and help, took about 0.6 ms
// and some 30 page faults of every start (pflag writes each list flag's
// default through a csv.Writer with a fresh 4 KiB buffer; a page fault
// costs 11-17 µs on this VM). cobra decides which command args invoke:
// the first argument that names one is offered to it as a bare stand-in,
// and anything else it finds builds the whole tree.
func (a *app) addCommands(root *cobra.Command, args []string) {
	cmds := a.subcommands()
	for _, arg := range args {
		i := slices.IndexFunc(cmds, func(c subcommand) bool { return c.name == arg })
		if i < 0 {
			continue
		}
		stub := &cobra.Command{Use: cmds[i].name, Run: func(*cobra.Command, []string) {}}
		root.AddCommand(stub)
		found, _, err := root.Find(args)
		root.RemoveCommand(stub)
		if err == nil && found == stub {
			// Nor is cobra's completion command built: the command run
			// is another one.
			root.CompletionOptions.DisableDefaultCmd = true
			root.AddCommand(cmds[i].build())
			return
		}
		break
	}
	for _, c := range cmds {
		root.AddCommand(c.build())
	}
}

// superviseCommand is the built-in supervisor's daemon: services/supervise
// re-executes this program as `deploykit __supervise INSTANCE-DIR`.
func (a *app) superviseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    supervise.DaemonSubcommand + " INSTANCE-DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := instance.SupervisorMain(cmd.Context(), append([]string{supervise.DaemonSubcommand}, args...), a.logger())
			return err
		},
	}
}
