package account

import (
	"fmt"
	"os"
	"path/filepath"
)

// lookPathIn finds an executable in a PATH value (not the caller's PATH:
// the instance's environment decides what "python" means).
func lookPathIn(prog, pathVar string) (string, error) {
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("account: %q not found in PATH %s", prog, pathVar)
}
