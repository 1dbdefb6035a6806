package instance

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets kill tests re-execute the test binary as a child that runs
// one operation and is killed (SIGKILL) at a chosen step.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DEPLOYKIT_TEST_CHILD"); mode != "" {
		if err := runChild(context.Background(), mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(ctx context.Context, mode string) error {
	switch mode {
	case "journal":
		return journalChild(ctx, os.Getenv("DEPLOYKIT_TEST_DIR"), os.Getenv("DEPLOYKIT_TEST_CRASH_AT"))
	}
	if f, ok := childModes[mode]; ok {
		return f(ctx)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// childModes are registered by other test files (manager kill tests).
var childModes = map[string]func(context.Context) error{}
