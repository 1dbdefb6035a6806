package pgtest_test

import (
	"context"
	"testing"

	"github.com/deploykit/deploykit/internal/pgtest"
)

// A package's tests share one throwaway cluster: TestMain tears it down,
// each test takes its own database.
func Example() {
	// func TestMain(m *testing.M) { pgtest.Main(m) }
	_ = func(t *testing.T) {
		srv := pgtest.Get(t)
		db := srv.CreateDatabase(t)
		conn := srv.Connect(t)
		_, _ = conn.Exec(context.Background(), "CREATE ROLE app LOGIN")
		_ = srv.URLFor(db)
	}
}
