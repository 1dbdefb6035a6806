package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"os/user"
	"strconv"
)

func lookupUser(nameOrUID string) (*user.User, error) {
	if _, err := strconv.Atoi(nameOrUID); err == nil {
		return user.LookupId(nameOrUID)
	}
	return user.Lookup(nameOrUID)
}

// ensureSystemUser returns the account name, creating it as a system user
// with its own group and no login shell when missing.
func ensureSystemUser(ctx context.Context, name string, log *slog.Logger) (*sysUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		log.Info("pgcluster: creating system user", "user", name)
		out, cerr := exec.CommandContext(ctx, "useradd", "--system", "--user-group",
			"--no-create-home", "--home-dir", "/var/lib/postgresql", "--shell", "/usr/sbin/nologin",
			"--comment", "PostgreSQL administrator", name).CombinedOutput()
		// Another process may have created it meanwhile: look again.
		u, err = user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: creating system user %s: %v: %s", name, cerr, bytes.TrimSpace(out))
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: gid %q", name, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgcluster: system user %s has uid 0; PostgreSQL refuses to run as root", name)
	}
	return &sysUser{Name: name, UID: uid, GID: gid}, nil
}
