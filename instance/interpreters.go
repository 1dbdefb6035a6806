package instance

import (
	"os"

	"github.com/deploykit/deploykit/venv"
)

// InterpreterCacheDir is where interpreter facts are cached (see
// venv.InspectOptions) for every command, so that each interpreter is run
// once per user until it changes, not once per process: as root, the
// root's cache (ROOT/cache, root "" meaning DefaultRoot), where instance
// operations have always kept them; as any other user, the user's own
// cache (venv.UserCacheDir: $XDG_CACHE_HOME/deploykit), shared by that
// user's venv, install, sync, lock and instance commands whatever root
// they name. When neither can be found it returns "" (no caching).
func InterpreterCacheDir(root string) string {
	if os.Geteuid() != 0 {
		if d, err := venv.UserCacheDir(); err == nil {
			return d
		}
	}
	if root == "" {
		var err error
		if root, err = DefaultRoot(); err != nil {
			return ""
		}
	}
	return Layout{Root: root}.CacheDir()
}
