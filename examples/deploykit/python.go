package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/deploykit/deploykit/venv"
)

// pythonCommands are the packaging commands that work without instances:
// venv, install, sync, lock (they drive venv and requirements directly).
func (a *app) pythonCommands() []*cobra.Command {
	return []*cobra.Command{a.venvCommand()}
}

func (a *app) venvCommand() *cobra.Command {
	var python, prompt, cacheDir string
	var systemSite bool
	cmd := &cobra.Command{
		Use:   "venv DIR",
		Short: "Create a virtualenv natively (no pip, no venv module)",
		Long: `venv creates a virtual environment in DIR, as python -m venv --without-pip
would, but natively and atomically: pyvenv.cfg, bin/python links,
site-packages and activation scripts. DIR must not exist or be empty.
--python takes a path, a command name (python3.11) or a version constraint
(">=3.10, <3.13"); the default is the newest Python 3 found.`,
		Example: `  deploykit venv .venv
  deploykit venv /tmp/v --python ">=3.11, <3.13" --system-site-packages`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			py, err := venv.FindPython(ctx, python, venv.DiscoverOptions{CacheDir: cacheDir})
			if err != nil {
				return err
			}
			v, err := venv.Create(ctx, dir, py, venv.CreateOptions{SystemSitePackages: systemSite, Prompt: prompt, CacheDir: cacheDir, Logger: a.logger()})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"dir": dir, "python": py.Version, "interpreter": py.Path, "executable": v.Executable()})
			}
			fmt.Fprintf(a.stdout, "created %s (Python %s from %s)\n", dir, py.Version, py.Path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&python, "python", "", "interpreter: a path, a command name or a version constraint")
	f.BoolVar(&systemSite, "system-site-packages", false, "give the venv access to the interpreter's site-packages")
	f.StringVar(&prompt, "prompt", "", "prompt of the activation scripts (default: the directory's name)")
	f.StringVar(&cacheDir, "cache-dir", "", "cache directory (interpreter facts, wheels)")
	return cmd
}
