package schema_test

import (
	"context"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/instance/schema"
)

// Provision an instance's database, then migrate it as the instance's role.
func Example() {
	ctx := context.Background()
	admin, err := pgx.ParseConfig("postgres://postgres@/postgres?host=/srv/deploykit/postgres/run&port=5433")
	if err != nil {
		log.Fatal(err)
	}
	names, _ := account.NamesFor("", "staging")
	res, err := schema.Provision(ctx, admin, schema.Spec{
		Names:       names,
		SecretsFile: "/srv/deploykit/instances/staging/secrets/database-password",
	})
	if err != nil {
		log.Fatal(err)
	}
	// The deploy process (root) logs in with the password over TCP; the
	// instance's own processes use peer authentication over the socket.
	ci, _ := schema.InstanceConnInfo(admin, names, res.Password, false)
	cfg, _ := ci.Config()
	migs, err := schema.LoadDir("/srv/app/migrations")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, cfg, migs, schema.MigrateOptions{}); err != nil {
		log.Fatal(err)
	}
	peer, _ := schema.InstanceConnInfo(admin, names, "", true)
	fmt.Println("DATABASE_URL=" + peer.URL())
}

func ExampleParseFilename() {
	v, name, err := schema.ParseFilename("0007_add_orders.sql")
	fmt.Println(v, name, err)
	_, _, err = schema.ParseFilename("7-add-orders.sql")
	fmt.Println(err)
	// Output:
	// 7 add_orders <nil>
	// schema: migration file name is not VERSION_NAME.sql: "7-add-orders.sql": no '_' between version and name
}
