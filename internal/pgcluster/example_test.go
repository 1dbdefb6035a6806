package pgcluster_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deploykit/deploykit/internal/pgcluster"
)

// The embedded default cluster of a deploykit root: created on first Start,
// left running, reused afterwards.
func Example() {
	ctx := context.Background()
	c, err := pgcluster.New(pgcluster.Options{Dir: "/srv/deploykit/postgres"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil { // initdb on first use; idempotent
		log.Fatal(err)
	}
	conn, err := c.Connect(ctx) // admin role, peer authentication over the socket
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	v, err := pgcluster.ServerVersion(ctx, conn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("PostgreSQL", v.Major(), "at", c.AdminURL())
}

func ExampleVersionFromNum() {
	v, _ := pgcluster.VersionFromNum(150018)
	fmt.Println(v)
	// Output: 15.18.0
}
