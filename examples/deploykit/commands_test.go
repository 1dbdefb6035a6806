package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSubcommandsAreNamedAsTheyAreBuilt: the table's names are what
// cobra finds a command by, so each must be its command's name.
func TestSubcommandsAreNamedAsTheyAreBuilt(t *testing.T) {
	a := &app{}
	seen := map[string]bool{}
	for _, c := range a.subcommands() {
		if seen[c.name] {
			t.Errorf("%s listed twice", c.name)
		}
		seen[c.name] = true
		if cmd := c.build(); cmd.Name() != c.name || len(cmd.Aliases) > 0 {
			t.Errorf("%s builds the command %s (aliases %v)", c.name, cmd.Name(), cmd.Aliases)
		}
	}
}

// TestOnlyTheInvokedCommandIsBuilt: a command line that names a command
// gets a tree with that command alone; one that names none gets all of
// them, so help, completion and "did you mean" see every command.
func TestOnlyTheInvokedCommandIsBuilt(t *testing.T) {
	names := func(args []string) []string {
		a := &app{}
		var out []string
		for _, c := range a.rootCommand(args).Commands() {
			out = append(out, c.Name())
		}
		return out
	}
	all := len(names(nil))
	if all < 25 {
		t.Fatalf("the full tree has %d commands", all)
	}
	for _, args := range [][]string{
		{"venv", "/tmp/v", "--python", "/usr/bin/python3"},
		{"--root", "/srv/x", "-v", "venv", "--python", "python3.11", "/tmp/v"},
		{"--json", "status", "production"},
		{"__supervise", "/srv/x/instances/p"},
		{"lock", "--help"},
	} {
		var want string
		for _, a := range args {
			if !strings.HasPrefix(a, "-") && a != "/srv/x" {
				want = a
				break
			}
		}
		if got := names(args); !slices.Equal(got, []string{want}) {
			t.Errorf("%q: commands %v, want [%s]", args, got, want)
		}
	}
	// The last: the first argument naming a command is --root's value,
	// cobra finds status, which the stand-in does not offer.
	for _, args := range [][]string{{}, {"--help"}, {"help", "venv"}, {"completion", "bash"}, {"__complete", "ven"}, {"venvv"}, {"--root"}, {"--root", "venv", "status"}} {
		if got := names(args); len(got) < all {
			t.Errorf("%q: %d commands, want all %d", args, len(got), all)
		}
	}
}

// TestHelpOfOneCommandIsUnchanged: a command's help, built alone, is
// what it is in the full tree (global flags included).
func TestHelpOfOneCommandIsUnchanged(t *testing.T) {
	for _, name := range []string{"venv", "install", "create", "restore"} {
		var alone, full bytes.Buffer
		if code := run([]string{name, "--help"}, &alone, &alone); code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", name, code, alone.String())
		}
		a := &app{stdout: &full, stderr: &full}
		root := a.rootCommand(nil)
		root.SetArgs([]string{name, "--help"})
		root.SetOut(&full)
		root.SetErr(&full)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if alone.String() != full.String() || !strings.Contains(alone.String(), "Global Flags:") {
			t.Errorf("%s --help alone:\n%s\nin the full tree:\n%s", name, alone.String(), full.String())
		}
	}
}

// TestSignalsCancelEveryCommandButVenv: SIGTERM cancels a command's
// context, so that its operation rolls back; venv, atomic by itself,
// leaves it to the default action and spares the thread that catching it
// starts.
func TestSignalsCancelEveryCommandButVenv(t *testing.T) {
	a := &app{stopSignals: func() {}}
	for _, c := range a.subcommands() {
		cmd := c.build()
		cmd.SetContext(context.Background())
		a.catchSignals(cmd)
		caught := cmd.Context().Done() != nil
		a.stopSignals()
		a.stopSignals = func() {}
		if caught != (c.name != "venv") {
			t.Errorf("%s: signals caught %v", c.name, caught)
		}
	}
	cmd := a.subcommands()[1].build()
	cmd.SetContext(context.Background())
	a.catchSignals(cmd)
	defer a.stopSignals()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cmd.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the command's context")
	}
}
