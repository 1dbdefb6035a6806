package nspawn_test

import (
	"context"
	"fmt"
	"time"

	"github.com/deploykit/deploykit/internal/nspawn"
)

// Boot a container, run systemctl inside it, power it off. (Needs root,
// systemd-nspawn and the root file system: see EnsureRootfs.)
func ExampleBoot() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := nspawn.Boot(ctx, nspawn.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	out, err := c.Exec(ctx, "systemctl", "is-system-running")
	fmt.Printf("%s %v\n", out, err)
}
