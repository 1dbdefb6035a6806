package instance

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/rabbittest"
)

// TestMain dispatches the two ways this test binary is re-executed: as
// the built-in supervisor's daemon (services/supervise re-executes the
// running program), and as a child running one operation that a kill test
// kills (SIGKILL) at a chosen step.
func TestMain(m *testing.M) {
	if handled, err := SupervisorMain(context.Background(), os.Args[1:], nil); handled {
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if mode := os.Getenv("DEPLOYKIT_TEST_CHILD"); mode != "" {
		if err := runChild(context.Background(), mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Both servers start on first use; only broker tests pay for RabbitMQ.
	os.Exit(pgtest.Finish(rabbittest.Finish(m.Run())))
}

func runChild(ctx context.Context, mode string) error {
	switch mode {
	case "journal":
		return journalChild(ctx, os.Getenv("DEPLOYKIT_TEST_DIR"), os.Getenv("DEPLOYKIT_TEST_CRASH_AT"))
	case "manager":
		return managerChild(ctx)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}
