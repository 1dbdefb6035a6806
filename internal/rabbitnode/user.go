package rabbitnode

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"os/user"
	"strconv"
)

// ensureSystemUser returns the account, creating it as a system user with
// its own group and no login shell when missing (Debian's package makes
// the same "rabbitmq" user).
func ensureSystemUser(ctx context.Context, name string, log *slog.Logger) (*sysUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		log.Info("rabbitnode: creating system user", "user", name)
		out, cerr := exec.CommandContext(ctx, "useradd", "--system", "--user-group",
			"--no-create-home", "--home-dir", "/var/lib/rabbitmq", "--shell", "/usr/sbin/nologin",
			"--comment", "RabbitMQ messaging server", name).CombinedOutput()
		// Another process may have created it meanwhile: look again.
		u, err = user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("rabbitnode: creating system user %s: %v: %s", name, cerr, bytes.TrimSpace(out))
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("rabbitnode: user %s: uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("rabbitnode: user %s: gid %q", name, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("rabbitnode: system user %s has uid 0", name)
	}
	return &sysUser{Name: name, UID: uid, GID: gid}, nil
}
