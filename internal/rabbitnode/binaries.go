package rabbitnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrNoBinaries reports that RabbitMQ's server (or Erlang's epmd) is not
// installed.
var ErrNoBinaries = errors.New("rabbitnode: RabbitMQ server not found; install the rabbitmq-server package")

// Binaries are the programs a node runs.
type Binaries struct {
	// Server is RabbitMQ's own rabbitmq-server script (not Debian's
	// /usr/sbin wrapper, which switches users and logs elsewhere).
	Server  string
	EPMD    string
	Version *semver.Version
}

// serverDirs are where RabbitMQ installs its scripts: Debian's
// rabbitmq-server package, then a generic-unix tarball's usual places.
var serverDirs = []string{"/usr/lib/rabbitmq/bin", "/usr/local/lib/rabbitmq/bin", "/opt/rabbitmq/sbin"}

// FindBinaries finds rabbitmq-server and epmd. The error wraps
// ErrNoBinaries when either is missing.
func FindBinaries(ctx context.Context) (Binaries, error) {
	var b Binaries
	for _, d := range serverDirs {
		p := filepath.Join(d, "rabbitmq-server")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			b.Server = p
			break
		}
	}
	if b.Server == "" {
		return b, fmt.Errorf("%w (looked in %s)", ErrNoBinaries, strings.Join(serverDirs, ", "))
	}
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		m, _ := filepath.Glob("/usr/lib/erlang/erts-*/bin/epmd")
		if len(m) == 0 {
			return b, fmt.Errorf("%w: Erlang's epmd is missing (erlang-base)", ErrNoBinaries)
		}
		epmd = m[len(m)-1]
	}
	b.EPMD = epmd
	b.Version = serverVersion(b.Server)
	return b, nil
}

// serverVersion reads the version from the installation's directory name
// (…/lib/rabbitmq_server-3.10.8/sbin/rabbitmq-server): asking the server
// would start an Erlang VM. Nil when it cannot tell.
func serverVersion(server string) *semver.Version {
	real, err := filepath.EvalSymlinks(server)
	if err != nil {
		return nil
	}
	for d := filepath.Dir(real); d != "/" && d != "."; d = filepath.Dir(d) {
		if v, ok := strings.CutPrefix(filepath.Base(d), "rabbitmq_server-"); ok {
			if sv, err := semver.NewVersion(v); err == nil {
				return sv
			}
		}
	}
	return nil
}
