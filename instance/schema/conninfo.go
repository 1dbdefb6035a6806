package schema

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/instance/account"
)

// ConnInfo is how an instance reaches its database.
type ConnInfo struct {
	// Host is a hostname or address, or a Unix socket directory
	// (starting with '/').
	Host     string
	Port     int
	User     string
	Database string
	// Password is "" for peer authentication over the socket.
	Password string
}

// Peer reports whether the connection relies on peer authentication.
func (c ConnInfo) Peer() bool { return c.Password == "" && strings.HasPrefix(c.Host, "/") }

// URL is the DATABASE_URL form (postgres://…), as libpq, pgx, psycopg and
// dj-database-url read it; a socket directory goes in the host parameter.
// It holds the password, if any: keep it out of logs (String omits it).
func (c ConnInfo) URL() string {
	u := url.URL{Scheme: "postgres", Path: "/" + c.Database}
	if c.Password != "" {
		u.User = url.UserPassword(c.User, c.Password)
	} else {
		u.User = url.User(c.User)
	}
	q := url.Values{}
	if strings.HasPrefix(c.Host, "/") {
		q.Set("host", c.Host)
		q.Set("port", strconv.Itoa(c.Port))
	} else {
		u.Host = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// String is URL with the password replaced by "xxxxx".
func (c ConnInfo) String() string {
	if c.Password != "" {
		c.Password = "xxxxx"
	}
	return c.URL()
}

// Config parses URL for pgx.
func (c ConnInfo) Config() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(c.URL())
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return cfg, nil
}

// InstanceConnInfo derives an instance's connection from the admin's.
//
// With peer, the instance connects over the admin's Unix socket without a
// password (the server must be local — the admin reaches it by a socket —
// and the connecting process must run as the instance's Unix user of the
// same name; internal/pgcluster's pg_hba.conf allows exactly that).
//
// Without peer, it uses password authentication over TCP: the admin's
// host, or 127.0.0.1 when the admin uses a socket (on the embedded cluster
// a socket login as an instance role is peer-only, whoever connects).
func InstanceConnInfo(admin *pgx.ConnConfig, names account.Names, password string, peer bool) (ConnInfo, error) {
	ci := ConnInfo{Host: admin.Host, Port: int(admin.Port), User: names.Role, Database: names.Database}
	if ci.Port == 0 {
		ci.Port = 5432
	}
	local := strings.HasPrefix(admin.Host, "/")
	if peer {
		if !local {
			return ConnInfo{}, errors.New("schema: peer authentication needs a local server reached by its Unix socket")
		}
		return ci, nil
	}
	if password == "" {
		return ConnInfo{}, errors.New("schema: password authentication without a password")
	}
	if local {
		ci.Host = "127.0.0.1"
	}
	ci.Password = password
	return ci, nil
}
