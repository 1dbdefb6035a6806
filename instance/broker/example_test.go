package broker_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/instance/broker"
)

// Provision an instance's vhost and user, then keep its queues in a
// backup and declare them in another instance's vhost.
func Example() {
	ctx := context.Background()
	admin, err := broker.ParseAdminURL("http://deploykit-admin:PASSWORD@127.0.0.1:15672/")
	if err != nil {
		log.Fatal(err)
	}
	prod, _ := account.NamesFor("", "production")
	res, err := broker.Provision(ctx, admin, broker.Spec{
		Names:       prod,
		SecretsFile: "/srv/deploykit/instances/production/secrets/broker-password",
	})
	if err != nil {
		log.Fatal(err)
	}
	addr, err := admin.AMQPAddr(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// What production's processes see as BROKER_URL and CELERY_BROKER_URL.
	_ = broker.URL(addr, res.User, res.Password, res.Vhost)

	defs, err := broker.Export(ctx, admin, res.Vhost)
	if err != nil {
		log.Fatal(err)
	}
	staging, _ := account.NamesFor("", "staging")
	err = broker.Replace(ctx, admin, broker.Spec{
		Names:       staging,
		SecretsFile: "/srv/deploykit/instances/staging/secrets/broker-password",
	}, defs)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Vhost, "->", staging.Role, defs.Len(), "definitions")
}

func ExampleURL() {
	fmt.Println(broker.URL("127.0.0.1:5672", "dk-staging", "s3cret", "dk-staging"))
	// Output: amqp://dk-staging:s3cret@127.0.0.1:5672/dk-staging
}
