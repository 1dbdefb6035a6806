package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/atomicfile"
)

// UserTag marks a RabbitMQ user as a deploykit instance's. RabbitMQ gives
// unknown tags no rights.
const UserTag = "deploykit-instance"

// Spec says what to provision for one instance.
type Spec struct {
	// Names of the instance (account.NamesFor): the vhost and the user
	// are both named Names.Role.
	Names account.Names
	// SecretsFile keeps the user's password (created 0600 when missing).
	SecretsFile string
	// Owner, when privileged, gets the secrets file (the instance's
	// processes read it); nil or unprivileged leaves it the caller's.
	Owner *account.Account
	// Logger; nil discards. Passwords are never logged.
	Logger *slog.Logger
}

// Result describes a provisioned vhost and user.
type Result struct {
	Vhost, User string
	Password    string // from the secrets file; keep it out of logs
	Created     bool   // the vhost or the user was created by this call
}

// String omits the password.
func (r *Result) String() string { return fmt.Sprintf("vhost %s, user %s", r.Vhost, r.User) }

var discard = slog.New(slog.DiscardHandler)

// Marker is the description that marks a vhost as instance name's.
func Marker(name string) string { return "deploykit instance " + name }

// fullAccess is what the instance's user may do in its vhost.
var fullAccess = permission{Configure: ".*", Write: ".*", Read: ".*"}

// state is what the server holds for one instance, read before any change.
type state struct {
	vhost      *vhostInfo
	user       *userInfo
	userPerms  []permission // the user's, in every vhost
	vhostPerms []permission // on the vhost, for every user
}

func (a *Admin) readState(ctx context.Context, name string) (*state, error) {
	var st state
	var err error
	if st.vhost, err = a.getVhost(ctx, name); err != nil {
		return nil, err
	}
	if st.user, err = a.getUser(ctx, name); err != nil {
		return nil, err
	}
	if st.user != nil {
		if st.userPerms, err = a.userPermissions(ctx, name); err != nil {
			return nil, err
		}
	}
	if st.vhost != nil {
		if st.vhostPerms, err = a.vhostPermissions(ctx, name); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// conflicts explains everything that makes the server's state not the
// instance's, or returns nil.
func (st *state) conflicts(names account.Names, admin string) error {
	name := names.Role
	var errs []error
	if st.vhost != nil && st.vhost.Description != Marker(names.Instance) {
		errs = append(errs, fmt.Errorf("%w: vhost %s exists and its description is %q, not %q", ErrConflict, name, st.vhost.Description, Marker(names.Instance)))
	}
	if st.user != nil {
		if len(st.user.Tags) != 1 || st.user.Tags[0] != UserTag {
			errs = append(errs, fmt.Errorf("%w: user %s exists with tags %q, not %q alone", ErrConflict, name, strings.Join(st.user.Tags, ","), UserTag))
		}
		for _, p := range st.userPerms {
			if p.Vhost != name {
				errs = append(errs, fmt.Errorf("%w: user %s has permissions in vhost %s", ErrConflict, name, p.Vhost))
			}
		}
	}
	for _, p := range st.vhostPerms {
		if p.User != name && p.User != admin {
			errs = append(errs, fmt.Errorf("%w: vhost %s grants permissions to user %s too", ErrConflict, name, p.User))
		}
	}
	return errors.Join(errs...)
}

// Provision makes the instance's vhost and user exist as the package doc
// describes. Conflicts are found before anything changes.
func Provision(ctx context.Context, admin *Admin, spec Spec) (*Result, error) {
	names := spec.Names
	if err := account.ValidateName(names.Instance); err != nil {
		return nil, err
	}
	if names.Role == "" {
		return nil, fmt.Errorf("broker: instance %s: empty vhost name", names.Instance)
	}
	if spec.SecretsFile == "" {
		return nil, errors.New("broker: Spec.SecretsFile is required")
	}
	log := spec.Logger
	if log == nil {
		log = discard
	}
	if err := admin.checkAdmin(ctx); err != nil {
		return nil, err
	}
	st, err := admin.readState(ctx, names.Role)
	if err != nil {
		return nil, err
	}
	if err := st.conflicts(names, admin.user); err != nil {
		return nil, err
	}
	// The password is on disk before the user exists: a crash in between
	// leaves a secret without a user (harmless, reused), never a user
	// whose password nobody knows.
	password, err := ensureSecret(spec.SecretsFile, spec.Owner)
	if err != nil {
		return nil, err
	}
	return provision(ctx, admin, names, st, password, log)
}

func provision(ctx context.Context, admin *Admin, names account.Names, st *state, password string, log *slog.Logger) (*Result, error) {
	name := names.Role
	res := &Result{Vhost: name, User: name, Password: password}
	if st.vhost == nil {
		log.Info("broker: creating vhost", "vhost", name)
		if err := admin.do(ctx, "PUT", map[string]string{"description": Marker(names.Instance), "tags": "deploykit"}, nil, "vhosts", name); err != nil {
			return nil, err
		}
		res.Created = true
	}
	if st.user == nil || !hashMatches(st.user.PasswordHash, st.user.Algorithm, password) {
		if st.user == nil {
			log.Info("broker: creating user", "user", name)
			res.Created = true
		}
		if err := admin.do(ctx, "PUT", map[string]string{
			"password_hash": passwordHash(password), "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": UserTag,
		}, nil, "users", name); err != nil {
			return nil, err
		}
	}
	has := false
	for _, p := range st.userPerms {
		if p.Vhost == name && p.Configure == fullAccess.Configure && p.Write == fullAccess.Write && p.Read == fullAccess.Read {
			has = true
		}
	}
	if !has {
		if err := admin.do(ctx, "PUT", fullAccess, nil, "permissions", name, name); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// passwordHash is RabbitMQ's rabbit_password_hashing_sha256 form of a
// password: base64(salt ‖ SHA-256(salt ‖ password)), a 4-byte salt. The
// server stores it as given, so the password itself never travels.
func passwordHash(password string) string {
	salt := make([]byte, 4)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, h[:]...))
}

// hashMatches reports whether a stored hash is of password.
func hashMatches(stored, algorithm, password string) bool {
	b, err := base64.StdEncoding.DecodeString(stored)
	if err != nil || len(b) < 5 {
		return false
	}
	var h hash.Hash
	switch algorithm {
	case "", "rabbit_password_hashing_sha256":
		h = sha256.New()
	case "rabbit_password_hashing_sha512":
		h = sha512.New()
	default:
		return false
	}
	salt := b[:4]
	h.Write(salt)
	h.Write([]byte(password))
	return subtle.ConstantTimeCompare(h.Sum(nil), b[4:]) == 1
}

// ensureSecret returns the password in path, creating it (0600, owned by
// owner when privileged) when the file does not exist.
func ensureSecret(path string, owner *account.Account) (string, error) {
	p, err := ReadSecret(path)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	// URL-safe: the password goes into BROKER_URL as it is.
	p = base64.RawURLEncoding.EncodeToString(b)
	if err := atomicfile.WriteFile(path, []byte(p+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("broker: writing the secrets file: %w", err)
	}
	if owner != nil && owner.Privileged {
		if err := os.Chown(path, owner.UID, owner.GID); err != nil {
			return "", fmt.Errorf("broker: %w", err)
		}
	}
	return p, nil
}

// ReadSecret returns the password kept in a secrets file; a missing file
// is an error wrapping fs.ErrNotExist.
func ReadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("broker: %w", err)
	}
	p := strings.TrimSpace(string(b))
	if len(p) < 16 {
		return "", fmt.Errorf("%w: %s: shorter than 16 characters", ErrBadSecret, path)
	}
	if strings.ContainsAny(p, " \t\r\n\x00") {
		return "", fmt.Errorf("%w: %s: has white space or NUL", ErrBadSecret, path)
	}
	return p, nil
}

// URL is the AMQP URL an instance's processes connect with:
// amqp://USER:PASSWORD@ADDR/VHOST, ADDR from Admin.AMQPAddr.
func URL(addr, user, password, vhost string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, password), Host: addr,
		Path: "/" + vhost, RawPath: "/" + url.PathEscape(vhost)}
	return u.String()
}

// RemoveOptions confirm and direct a removal.
type RemoveOptions struct {
	// Confirm must repeat the vhost's name: deleting a vhost deletes its
	// queues and messages, and this keeps a zero value from ever doing it.
	Confirm string
	// SecretsFile is removed too when set.
	SecretsFile string
	Logger      *slog.Logger
}

// Remove deletes the instance's vhost (its queues, messages and
// connections with it) and user. Missing ones are fine; a vhost or user
// that is not the instance's is refused (ErrConflict), before anything is
// deleted.
func Remove(ctx context.Context, admin *Admin, names account.Names, opts RemoveOptions) error {
	name := names.Role
	if name == "" {
		return fmt.Errorf("broker: instance names %+v: empty vhost", names)
	}
	if opts.Confirm != name {
		return fmt.Errorf("%w: set RemoveOptions.Confirm to %q to delete it", ErrNotConfirmed, name)
	}
	log := opts.Logger
	if log == nil {
		log = discard
	}
	vh, err := admin.getVhost(ctx, name)
	if err != nil {
		return err
	}
	u, err := admin.getUser(ctx, name)
	if err != nil {
		return err
	}
	if vh != nil && vh.Description != Marker(names.Instance) {
		return fmt.Errorf("%w: vhost %s is not marked as instance %s's; not deleting it", ErrConflict, name, names.Instance)
	}
	if u != nil && !u.Tags.has(UserTag) {
		return fmt.Errorf("%w: user %s is not tagged %s; not deleting it", ErrConflict, name, UserTag)
	}
	if vh != nil {
		log.Info("broker: deleting vhost", "vhost", name)
		if err := admin.do(ctx, "DELETE", nil, nil, "vhosts", name); err != nil && !notFound(err) {
			return err
		}
	}
	if u != nil {
		log.Info("broker: deleting user", "user", name)
		if err := admin.do(ctx, "DELETE", nil, nil, "users", name); err != nil && !notFound(err) {
			return err
		}
	}
	if opts.SecretsFile != "" {
		if err := os.Remove(opts.SecretsFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("broker: %w", err)
		}
	}
	return nil
}
