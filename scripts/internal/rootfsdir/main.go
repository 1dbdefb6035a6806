// Command rootfsdir prints where the test harness (internal/nspawn) keeps
// its root file system: $DEPLOYKIT_TEST_CACHE/nspawn-rootfs-HASH. For
// scripts/first-run-parts.sh, which must find it without booting anything.
package main

import (
	"fmt"

	"github.com/deploykit/deploykit/internal/nspawn"
)

func main() { fmt.Println(nspawn.DefaultRootfs()) }
