package account_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deploykit/deploykit/instance/account"
)

func ExampleNamesFor() {
	n, err := account.NamesFor("", "staging")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.User, n.Group, n.Role, n.Database)
	_, err = account.NamesFor("", "Staging_2")
	fmt.Println(err)
	// Output:
	// dk-staging dk-staging dk-staging dk-staging
	// account: invalid instance name "Staging_2": must start with a lower-case letter
}

// Give an instance its user, lock down its tree, and run a command as it.
func ExampleManager_Ensure() {
	ctx := context.Background()
	m, err := account.New(account.Options{}) // unprivileged (with a warning) unless root
	if err != nil {
		log.Fatal(err)
	}
	dir := "/srv/deploykit/instances/staging"
	a, err := m.Ensure(ctx, "staging", dir)
	if err != nil {
		log.Fatal(err)
	}
	err = a.Secure(ctx, account.Tree{
		Dir:      dir,
		Code:     []string{dir + "/releases"},
		Writable: []string{dir + "/data", dir + "/run", dir + "/log"},
		Secrets:  dir + "/secrets",
	})
	if err != nil {
		log.Fatal(err)
	}
	cmd, err := a.Command(ctx, []string{"python", "-m", "django", "check"}, []string{"DJANGO_SETTINGS_MODULE=demo.settings"}, dir)
	if err != nil {
		log.Fatal(err)
	}
	_ = cmd.Run()
}
