package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrConnect: the management API could not be reached or refused the
	// administrator's login (see *APIError for the latter).
	ErrConnect = errors.New("broker: cannot reach the RabbitMQ management API")
	// ErrAdminPrivileges: the user is not an administrator.
	ErrAdminPrivileges = errors.New("broker: the management user is not an administrator")
	// ErrConflict: a vhost or user of the instance's name exists and is
	// not the instance's, or shares access with others.
	ErrConflict = errors.New("broker: existing vhost or user is not the instance's")
	// ErrNotConfirmed: Remove without the confirmation.
	ErrNotConfirmed = errors.New("broker: removal not confirmed")
	// ErrBadSecret: the secrets file holds no usable password.
	ErrBadSecret = errors.New("broker: unusable password in the secrets file")
	// ErrDefinitions: definitions that are not acceptable (see
	// ParseDefinitions).
	ErrDefinitions = errors.New("broker: invalid definitions")
)

// APIError is a management API request the server refused.
type APIError struct {
	Method, Path string
	Status       int
	Reason       string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("broker: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Reason)
}

func (e *APIError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return ErrConnect
	}
	return nil
}

// Admin is a RabbitMQ management API, as an administrator.
type Admin struct {
	base     *url.URL // without credentials
	user     string
	password string
	// amqpAddr overrides the AMQP listener the server reports.
	amqpAddr string
	client   *http.Client
}

// ParseAdminURL reads http(s)://USER:PASSWORD@HOST:PORT/[PATH] — the
// management API's base URL with an administrator's credentials — and an
// optional query parameter amqp=HOST:PORT naming the AMQP listener the
// instances are to use, when the one the server reports (Admin.AMQPAddr)
// is not reachable as such (NAT, a proxy).
func ParseAdminURL(raw string) (*Admin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("broker: management URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("broker: management URL %s: want http:// or https://", redact(u))
	}
	if u.Host == "" || u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("broker: management URL %s: want http://USER:PASSWORD@HOST:PORT/", redact(u))
	}
	a := &Admin{user: u.User.Username(), client: &http.Client{Timeout: 30 * time.Second}}
	a.password, _ = u.User.Password()
	if v := u.Query().Get("amqp"); v != "" {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return nil, fmt.Errorf("broker: management URL: amqp=%s: %w", v, err)
		}
		a.amqpAddr = v
	}
	b := *u
	b.User, b.RawQuery, b.Fragment = nil, "", ""
	if !strings.HasSuffix(b.Path, "/") {
		b.Path += "/"
	}
	b.RawPath = ""
	a.base = &b
	return a, nil
}

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// String is the management API's address and user, never the password.
func (a *Admin) String() string { return a.user + "@" + a.base.Host }

// User is the administrator's user name.
func (a *Admin) User() string { return a.user }

// do sends a request to the API (path segments are escaped one by one)
// and decodes a JSON answer into out when out is not nil. A 404 is
// returned as an *APIError with Status 404.
func (a *Admin) do(ctx context.Context, method string, body any, out any, segs ...string) error {
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	path := "api/" + strings.Join(esc, "/")
	u := *a.base
	u.RawPath = u.Path + path
	u.Path += strings.Join(append([]string{"api"}, segs...), "/")
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	req.SetBasicAuth(a.user, a.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrConnect, a, transportCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrConnect, a, err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error, Reason string }
		json.Unmarshal(data, &e)
		reason := e.Reason
		if reason == "" {
			reason = strings.TrimSpace(string(data))
		}
		return &APIError{Method: method, Path: "/" + path, Status: resp.StatusCode, Reason: reason}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("broker: %s /%s: %w", method, path, err)
		}
	}
	return nil
}

func notFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

type overview struct {
	RabbitMQVersion string `json:"rabbitmq_version"`
	Listeners       []struct {
		Protocol  string `json:"protocol"`
		IPAddress string `json:"ip_address"`
		Port      int    `json:"port"`
	} `json:"listeners"`
}

// Version returns the server's RabbitMQ version.
func (a *Admin) Version(ctx context.Context) (string, error) {
	var o overview
	if err := a.do(ctx, "GET", nil, &o, "overview"); err != nil {
		return "", err
	}
	return o.RabbitMQVersion, nil
}

// AMQPAddr returns host:port of the broker's AMQP listener: the amqp=
// parameter of the URL, else the listener the server reports, with the
// management URL's host when it listens on every address.
func (a *Admin) AMQPAddr(ctx context.Context) (string, error) {
	if a.amqpAddr != "" {
		return a.amqpAddr, nil
	}
	var o overview
	if err := a.do(ctx, "GET", nil, &o, "overview"); err != nil {
		return "", err
	}
	for _, l := range o.Listeners {
		if l.Protocol != "amqp" {
			continue
		}
		host := l.IPAddress
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = a.base.Hostname()
		}
		return net.JoinHostPort(host, strconv.Itoa(l.Port)), nil
	}
	return "", fmt.Errorf("broker: %s reports no AMQP listener", a)
}

// checkAdmin makes sure the API's user is an administrator.
func (a *Admin) checkAdmin(ctx context.Context) error {
	var who struct {
		Name string `json:"name"`
		Tags tags   `json:"tags"`
	}
	if err := a.do(ctx, "GET", nil, &who, "whoami"); err != nil {
		return err
	}
	if !who.Tags.has("administrator") {
		return fmt.Errorf("%w: %s has tags %q", ErrAdminPrivileges, who.Name, strings.Join(who.Tags, ","))
	}
	return nil
}

// tags reads RabbitMQ's user and vhost tags, a list since 3.9 and a
// comma-separated string before.
type tags []string

func (t *tags) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*t = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = nil
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*t = append(*t, x)
		}
	}
	return nil
}

func (t tags) has(s string) bool {
	for _, x := range t {
		if x == s {
			return true
		}
	}
	return false
}

type vhostInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Tags        tags   `json:"tags"`
}

type userInfo struct {
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash"`
	Algorithm    string `json:"hashing_algorithm"`
	Tags         tags   `json:"tags"`
}

type permission struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// getVhost returns the vhost, or nil when there is none.
func (a *Admin) getVhost(ctx context.Context, name string) (*vhostInfo, error) {
	var v vhostInfo
	err := a.do(ctx, "GET", nil, &v, "vhosts", name)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// getUser returns the user, or nil when there is none.
func (a *Admin) getUser(ctx context.Context, name string) (*userInfo, error) {
	var u userInfo
	err := a.do(ctx, "GET", nil, &u, "users", name)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (a *Admin) userPermissions(ctx context.Context, user string) ([]permission, error) {
	var ps []permission
	err := a.do(ctx, "GET", nil, &ps, "users", user, "permissions")
	if notFound(err) {
		return nil, nil
	}
	return ps, err
}

func (a *Admin) vhostPermissions(ctx context.Context, vhost string) ([]permission, error) {
	var ps []permission
	err := a.do(ctx, "GET", nil, &ps, "vhosts", vhost, "permissions")
	if notFound(err) {
		return nil, nil
	}
	return ps, err
}

// VhostExists reports whether the vhost exists.
func (a *Admin) VhostExists(ctx context.Context, vhost string) (bool, error) {
	v, err := a.getVhost(ctx, vhost)
	return v != nil, err
}

// UserExists reports whether the user exists.
func (a *Admin) UserExists(ctx context.Context, user string) (bool, error) {
	u, err := a.getUser(ctx, user)
	return u != nil, err
}

// transportCause is what went wrong under an HTTP request that did not
// get an answer, without the URL and address the caller names already:
// "connect: connection refused" rather than `Get "http://…": dial tcp
// ADDR: connect: connection refused`.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return err
}
