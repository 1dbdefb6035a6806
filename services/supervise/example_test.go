package supervise_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/supervise"
)

// Run supervises an instance in the foreground (as a container's main
// process would); a Controller in another goroutine — or process — talks to
// it through its control socket.
func ExampleRun() {
	base, _ := os.MkdirTemp("", "dk-example-")
	defer os.RemoveAll(base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- supervise.Run(ctx, supervise.Options{
			Instance: "demo", Dir: filepath.Join(base, "demo"), Autostart: true,
			StartGrace: 100 * time.Millisecond,
			Components: []services.Component{{Name: "worker", Instance: "demo", Command: []string{"/bin/sleep", "60"}}},
		})
	}()
	ctl := &supervise.Controller{Dir: base}
	for {
		sts, err := ctl.Status(ctx, "demo")
		if err == nil && sts[0].State == services.StateActive {
			fmt.Println(sts[0].Component, sts[0].State, sts[0].Sub)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // stops every component, then Run returns
	fmt.Println(<-done)
	// Output:
	// worker active running
	// <nil>
}
