package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/lock"
	"github.com/deploykit/deploykit/venv"
)

// sourceFlags are pip's source options, shared by lock, install and sync.
type sourceFlags struct {
	indexURL   string
	extraIndex []string
	findLinks  []string
	noIndex    bool
	pre        bool
	preferBin  bool
	trusted    []string
	cacheDir   string
	noCompile  bool
}

func (s *sourceFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&s.indexURL, "index-url", "i", "", "base URL of the package index (PEP 503/691)")
	f.StringSliceVar(&s.extraIndex, "extra-index-url", nil, "extra index URLs")
	f.StringSliceVarP(&s.findLinks, "find-links", "f", nil, "directories or HTML pages with links to archives")
	f.BoolVar(&s.noIndex, "no-index", false, "ignore package indexes (use --find-links only)")
	f.BoolVar(&s.pre, "pre", false, "include pre-releases")
	f.BoolVar(&s.preferBin, "prefer-binary", false, "prefer older versions with wheels over newer sdist-only ones")
	f.StringSliceVar(&s.trusted, "trusted-host", nil, "hosts allowed over plain HTTP")
	f.StringVar(&s.cacheDir, "cache-dir", "", "cache for downloads, builds, unpacked wheels and interpreter facts (default ROOT/cache; facts in $XDG_CACHE_HOME/deploykit unless root)")
	f.BoolVar(&s.noCompile, "no-compile", false, "do not byte-compile installed modules")
}

func (s *sourceFlags) sources() instance.Sources {
	var fl []string
	for _, f := range s.findLinks {
		if abs, err := filepath.Abs(f); err == nil && !strings.Contains(f, "://") {
			f = abs
		}
		fl = append(fl, f)
	}
	return instance.Sources{IndexURL: s.indexURL, ExtraIndexURLs: s.extraIndex, FindLinks: fl, NoIndex: s.noIndex, Pre: s.pre, PreferBinary: s.preferBin, TrustedHosts: s.trusted}
}

func (a *app) cacheDir(s *sourceFlags) string {
	if s.cacheDir != "" {
		return s.cacheDir
	}
	root := a.root
	if root == "" {
		root, _ = instance.DefaultRoot()
	}
	return filepath.Join(root, "cache")
}

// factsDir is where interpreter facts are cached: --cache-dir when given,
// else the user's cache (the root's as root), which every command reads,
// so an interpreter is run once, not once per process.
func (a *app) factsDir(cacheDir string) string {
	if cacheDir != "" {
		return cacheDir
	}
	return instance.InterpreterCacheDir(a.root)
}

// requirementsFrom parses -r files and inline requirements (wheel paths
// become NAME @ file:// requirements).
func requirementsFrom(ctx context.Context, files, args []string, src instance.Sources) (*instance.Requirements, error) {
	var abs []string
	for _, f := range files {
		p, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		abs = append(abs, p)
	}
	reqs, err := instance.ParseRequirementFiles(ctx, abs, src)
	if err != nil {
		return nil, err
	}
	for i, arg := range args {
		// A project directory or sdist by path, as pip takes it: named
		// from its metadata or file name by the resolver.
		if looksLikePath(arg) && !strings.HasSuffix(arg, ".whl") {
			p, err := filepath.Abs(arg)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(p); err != nil {
				return nil, usageError{err}
			}
			reqs.Unnamed = append(reqs.Unnamed, instance.UnnamedRequirement{File: "argument", Line: i + 1, Path: p})
			continue
		}
		if strings.HasSuffix(arg, ".whl") {
			p, err := filepath.Abs(arg)
			if err != nil {
				return nil, err
			}
			wn, err := dist.ParseWheelFilename(filepath.Base(p), false)
			if err != nil {
				return nil, usageError{err}
			}
			arg = wn.Name + " @ file://" + p
		}
		r, err := requirements.ParseRequirement(arg)
		if err != nil {
			return nil, usageError{err}
		}
		reqs.Roots = append(reqs.Roots, r)
	}
	if len(reqs.Roots)+len(reqs.Unnamed) == 0 {
		return nil, usagef("no requirements given (use -r FILE, REQUIREMENT… or WHEEL…)")
	}
	return reqs, nil
}

// looksLikePath reports whether a command-line requirement names a local
// path rather than a project: it has a path separator or starts with a dot,
// and is not a PEP 508 "name @ url".
func looksLikePath(arg string) bool {
	if strings.Contains(arg, " @ ") || strings.Contains(arg, "://") {
		return false
	}
	return strings.HasPrefix(arg, ".") || strings.ContainsRune(arg, os.PathSeparator)
}

func (a *app) lockCommand() *cobra.Command {
	var src sourceFlags
	var specPath, out, python string
	var files, upgrade []string
	cmd := &cobra.Command{
		Use:   "lock (--spec app.toml | -r FILE | REQ...) [-o pylock.toml]",
		Short: "Resolve requirements into a pylock.toml (PEP 751)",
		Long: `lock resolves a requirement list — a spec's, pip requirements files, or
requirements on the command line — for the target interpreter, and writes
a PEP 751 pylock.toml with every file's sha256 (stdout without -o). When
no set of versions fits, it explains the conflict and exits 1. An existing
lock at -o is used as preferences: only what must change changes, except
the --upgrade-package names.`,
		Example: `  deploykit lock --spec app.toml -o pylock.toml
  deploykit lock -r requirements.txt --python ">=3.11, <3.12" -o pylock.toml
  deploykit lock "django>=3.2,<4" gunicorn --no-index -f ./wheels`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var reqs *instance.Requirements
			var specPy *venv.Interpreter
			var err error
			if specPath != "" {
				spec, lerr := loadSpec(specPath)
				if lerr != nil {
					return lerr
				}
				if python == "" {
					// The interpreter create and upgrade would build with.
					if specPy, err = instance.InstanceInterpreter(ctx, spec.Python, a.factsDir(src.cacheDir)); err != nil {
						return err
					}
				}
				reqs, err = instance.ParseRequirements(ctx, spec, src.sources())
			} else {
				reqs, err = requirementsFrom(ctx, files, args, src.sources())
			}
			if err != nil {
				return err
			}
			py := specPy
			if py == nil {
				if py, err = venv.FindPython(ctx, python, venv.DiscoverOptions{CacheDir: a.factsDir(src.cacheDir)}); err != nil {
					return err
				}
			}
			rs, err := instance.NewResolver(ctx, py, reqs.Sources, a.cacheDir(&src), a.logger())
			if err != nil {
				return err
			}
			defer rs.Close()
			opts := instance.LockOptions{UpgradePackages: upgrade, Logger: a.logger()}
			if out != "" {
				if prev, err := lock.ReadFile(out); err == nil {
					opts.Previous = prev
				}
			}
			// A lock needs the files' hashes, not the files.
			locked, err := rs.Lock(ctx, reqs, opts)
			if err != nil {
				return err
			}
			data, err := lock.Marshal(locked)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = a.stdout.Write(data)
				return err
			}
			if err := lock.WriteFile(out, locked); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"lock": out, "packages": len(locked.Packages), "python": py.Version})
			}
			fmt.Fprintf(a.stdout, "locked %d packages for Python %s into %s\n", len(locked.Packages), py.Version, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "lock the requirement list of this application spec")
	f.StringArrayVarP(&files, "requirement", "r", nil, "pip requirements file (repeatable)")
	f.StringVarP(&out, "output", "o", "", "write the lock here (default stdout)")
	f.StringVar(&python, "python", "", "target interpreter: a path, a command name or a version constraint")
	f.StringSliceVarP(&upgrade, "upgrade-package", "P", nil, "ignore the existing lock's version of these packages")
	src.add(f)
	return cmd
}

func (a *app) installCommand() *cobra.Command {
	var src sourceFlags
	var venvDir string
	var files []string
	cmd := &cobra.Command{
		Use:   "install --venv DIR (-r FILE | REQ... | WHEEL...)",
		Short: "Resolve and install requirements into a venv, like pip install",
		Long: `install resolves the requirements for the venv's interpreter and installs
the chosen wheels (downloaded, or built from sdists and source trees) into
it, linked from the shared cache, replacing other versions of the same
distributions. Other installed distributions are left alone; use sync to
make a venv hold exactly a lock.`,
		Example: `  deploykit install --venv .venv -r requirements.txt
  deploykit install --venv .venv "django>=3.2,<4" --no-index -f /srv/wheels
  deploykit install --venv .venv ./dist/demo-1.0-py3-none-any.whl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if venvDir == "" {
				return usagef("install: --venv is required")
			}
			reqs, err := requirementsFrom(ctx, files, args, src.sources())
			if err != nil {
				return err
			}
			v, err := venv.Open(ctx, venvDir, venv.OpenOptions{CacheDir: a.factsDir(src.cacheDir)})
			if err != nil {
				return err
			}
			rs, err := instance.NewResolver(ctx, v.Python, reqs.Sources, a.cacheDir(&src), a.logger())
			if err != nil {
				return err
			}
			defer rs.Close()
			// As pip does, installed versions that still fit are kept:
			// they are the resolver's preferences.
			have, err := v.Installed(ctx)
			if err != nil {
				return err
			}
			prev := &lock.Lock{}
			for _, d := range have {
				prev.Packages = append(prev.Packages, lock.Package{Name: d.Name, Version: d.Version})
			}
			locked, err := rs.Resolve(ctx, reqs, instance.LockOptions{Previous: prev, Logger: a.logger()})
			if err != nil {
				return err
			}
			haveVersion := map[string]string{}
			for _, d := range have {
				haveVersion[requirements.NormalizeName(d.Name)] = d.Version
			}
			var wheels []venv.Wheel
			for _, d := range locked.Dists {
				if haveVersion[requirements.NormalizeName(d.Name)] == d.Version && d.DirectURL == nil {
					continue // already satisfied, as pip says
				}
				wheels = append(wheels, venv.Wheel{Path: d.Wheel, SHA256: d.SHA256, DirectURL: d.DirectURL, Requested: d.Requested})
			}
			if len(wheels) == 0 {
				if !a.json {
					fmt.Fprintln(a.stdout, "Requirements already satisfied")
				}
				return nil
			}
			cache, err := venv.OpenCache(a.cacheDir(&src), venv.CacheOptions{Logger: a.logger()})
			if err != nil {
				return err
			}
			installed, err := v.Install(ctx, wheels, venv.InstallOptions{Cache: cache, NoCompile: src.noCompile, Logger: a.logger(), OnEvent: a.venvProgress("install")})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(installed)
			}
			var names []string
			for _, d := range installed {
				names = append(names, d.Name+"-"+d.Version)
			}
			fmt.Fprintf(a.stdout, "Successfully installed %s\n", strings.Join(names, " "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&venvDir, "venv", "", "the virtualenv to install into")
	f.StringArrayVarP(&files, "requirement", "r", nil, "pip requirements file (repeatable)")
	src.add(f)
	return cmd
}

func (a *app) syncCommand() *cobra.Command {
	var src sourceFlags
	var venvDir string
	cmd := &cobra.Command{
		Use:   "sync --venv DIR pylock.toml",
		Short: "Make a venv hold exactly what a lock names",
		Long: `sync installs what the lock names and the venv lacks, replaces what
differs, and removes every other distribution (pip and setuptools too,
unless locked), in one transaction; every file is checked against the
lock's sha256.`,
		Example: `  deploykit sync --venv .venv pylock.toml
  deploykit sync --venv /srv/app/venv pylock.toml --no-compile`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if venvDir == "" {
				return usagef("sync: --venv is required")
			}
			lk, err := lock.ReadFile(args[0])
			if err != nil {
				return err
			}
			v, err := venv.Open(ctx, venvDir, venv.OpenOptions{CacheDir: a.factsDir(src.cacheDir)})
			if err != nil {
				return err
			}
			rs, err := instance.NewResolver(ctx, v.Python, src.sources(), a.cacheDir(&src), a.logger())
			if err != nil {
				return err
			}
			defer rs.Close()
			lockDir, _ := filepath.Abs(filepath.Dir(args[0]))
			dists, err := rs.LockDistributions(ctx, lk, lockDir)
			if err != nil {
				return err
			}
			cache, err := venv.OpenCache(a.cacheDir(&src), venv.CacheOptions{Logger: a.logger()})
			if err != nil {
				return err
			}
			res, err := v.Sync(ctx, dists, venv.InstallOptions{Cache: cache, NoCompile: src.noCompile, Logger: a.logger(), OnEvent: a.venvProgress("sync")})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "synced %s: %d installed, %d removed, %d unchanged\n", venvDir, len(res.Installed), len(res.Removed), len(res.Unchanged))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&venvDir, "venv", "", "the virtualenv to sync")
	src.add(f)
	return cmd
}

// venvProgress turns installer events into progress events.
func (a *app) venvProgress(op string) func(venv.Event) {
	started := false
	return func(e venv.Event) {
		if !started {
			started = true
			a.progress.event(instance.Event{Op: op, Instance: "venv", Kind: instance.EventStep, Step: "wheels"})
		}
		a.progress.event(instance.Event{Op: op, Instance: "venv", Kind: instance.EventProgress, Step: "wheels", Current: int64(e.Done), Total: int64(e.Total), Message: e.Name})
	}
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
		// Create is atomic: killed, it leaves DIR absent (or the empty
		// directory it was) and at most a hidden sibling that a later
		// Create of DIR removes once it is an hour old.
		Annotations: map[string]string{uncaughtSignals: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			py, err := venv.FindPython(ctx, python, venv.DiscoverOptions{CacheDir: a.factsDir(cacheDir)})
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
	f.StringVar(&cacheDir, "cache-dir", "", "cache of interpreter facts (default $XDG_CACHE_HOME/deploykit, ROOT/cache as root)")
	return cmd
}
