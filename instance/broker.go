package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/backup"
	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/instance/broker"
	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/rabbitnode"
	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// RabbitMQDir holds the embedded RabbitMQ node (internal/rabbitnode).
func (l Layout) RabbitMQDir() string { return filepath.Join(l.Root, "rabbitmq") }

func (l Layout) brokerPasswordFile(name string) string {
	return filepath.Join(l.SecretsDir(name), "broker-password")
}

// brokerNodeNeverBooted reports whether the embedded node never booted:
// RabbitMQ makes its database directory at its first boot.
func (m *Manager) brokerNodeNeverBooted() bool {
	n, err := rabbitnode.New(rabbitnode.Options{Dir: m.layout.RabbitMQDir()})
	return err == nil && never(n.DataDir())
}

// brokerNodeInstance and brokerNodeComponent name the embedded node for
// the service controller ('_' is in no instance name); under systemd its
// unit is deploykit-rmq_embedded-rabbitmq.service.
const (
	brokerNodeInstance  = "rmq_embedded"
	brokerNodeComponent = "rabbitmq"
)

// brokerServer is the RabbitMQ instances get vhosts on: Options.BrokerURL,
// or the embedded node under ROOT/rabbitmq.
type brokerServer struct {
	admin    *broker.Admin
	amqpAddr string           // what instances connect to
	node     *rabbitnode.Node // nil for an external broker
}

// brokerState is kept on the Manager: the embedded node is started once.
type brokerState struct {
	brokerMu sync.Mutex
	brk      *brokerServer
}

// brokerID names the broker Options select: "embedded", or the host and
// port of Options.BrokerURL (never its credentials).
func (m *Manager) brokerID() (string, error) {
	if m.opts.BrokerURL == "" {
		return "embedded", nil
	}
	u, err := url.Parse(m.opts.BrokerURL)
	if err != nil {
		return "", fmt.Errorf("instance: broker URL: %w", err)
	}
	return u.Host, nil
}

// brokerServer returns the broker, creating and starting the embedded
// node on first use.
func (m *Manager) brokerServer(ctx context.Context) (*brokerServer, error) {
	m.brokerMu.Lock()
	defer m.brokerMu.Unlock()
	if m.brk != nil {
		return m.brk, nil
	}
	if m.opts.BrokerURL != "" {
		a, err := broker.ParseAdminURL(m.opts.BrokerURL)
		if err != nil {
			return nil, err
		}
		addr, err := a.AMQPAddr(ctx)
		if err != nil {
			return nil, err
		}
		m.brk = &brokerServer{admin: a, amqpAddr: addr}
		return m.brk, nil
	}
	n, err := m.brokerNode()
	if err != nil {
		return nil, err
	}
	if err := m.superviseBrokerNode(ctx, n); err != nil {
		return nil, fmt.Errorf("instance: embedded RabbitMQ node: %w", err)
	}
	admin, err := n.AdminURL()
	if err != nil {
		return nil, err
	}
	a, err := broker.ParseAdminURL(admin)
	if err != nil {
		return nil, err
	}
	host := n.Address()
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	m.brk = &brokerServer{admin: a, amqpAddr: net.JoinHostPort(host, strconv.Itoa(n.Ports().AMQP)), node: n}
	return m.brk, nil
}

func (m *Manager) brokerNode() (*rabbitnode.Node, error) {
	return rabbitnode.New(rabbitnode.Options{Dir: m.layout.RabbitMQDir(), Address: m.listenAddress(), Logger: m.log})
}

// superviseBrokerNode runs the embedded node under the service
// controller — restarted if it dies and, under systemd, started at boot
// before the instances whose units want it — and waits until it answers.
// A node already running under the controller is left running.
func (m *Manager) superviseBrokerNode(ctx context.Context, n *rabbitnode.Node) error {
	if err := n.Init(ctx); err != nil {
		return err
	}
	ctrl, err := m.controller()
	if err != nil {
		return err
	}
	if st, err := n.Status(); err == nil && st.Running {
		// Asking the built-in supervisor would start its daemon: its
		// record of the node says enough.
		supervised := m.ServicesMode() != "systemd" && exists(filepath.Join(m.layout.SupervisorDir(), brokerNodeInstance, "spec.json"))
		if m.ServicesMode() == "systemd" {
			if _, err := ctrl.Status(ctx, brokerNodeInstance); err == nil {
				supervised = true
			} else if !errors.Is(err, services.ErrNotFound) {
				return err
			}
		}
		if supervised {
			return n.Ready(ctx)
		}
		// Running, but not under this controller (started by hand, or
		// under the other controller): stop it and start it under ours.
		m.emit(Event{Kind: EventInfo, Instance: "rabbitmq", Message: "moving the embedded RabbitMQ node under the service controller: restarting it"})
		if err := n.Stop(ctx); err != nil {
			return err
		}
	}
	comp, err := brokerNodeUnit(ctx, n)
	if err != nil {
		return err
	}
	under := "the built-in supervisor"
	if m.ServicesMode() == "systemd" {
		under = "systemd (" + systemd.ServiceName(brokerNodeInstance, brokerNodeComponent) + ")"
	}
	m.emit(Event{Kind: EventInfo, Instance: "rabbitmq", Message: "starting the embedded RabbitMQ node in " + n.Dir() + " under " + under})
	if err := ctrl.Install(ctx, brokerNodeInstance, []services.Component{comp}); err != nil {
		return err
	}
	if err := ctrl.Start(ctx, brokerNodeInstance); err != nil {
		return err
	}
	return n.Ready(ctx)
}

// brokerNodeUnit is the embedded node as a component of the service
// controller: its own epmd and the server, one process group.
func brokerNodeUnit(ctx context.Context, n *rabbitnode.Node) (services.Component, error) {
	argv, err := n.Command(ctx)
	if err != nil {
		return services.Component{}, err
	}
	user, uid, gid, err := n.SystemUser(ctx)
	if err != nil {
		return services.Component{}, err
	}
	comp := services.Component{
		Name:        brokerNodeComponent,
		Instance:    brokerNodeInstance,
		Command:     argv,
		Env:         n.Env(),
		WorkingDir:  n.Dir(),
		Restart:     services.RestartPolicy{When: services.RestartAlways},
		StopSignal:  syscall.SIGTERM,
		StopTimeout: time.Minute,
		Ready: services.Readiness{Kind: services.ReadyTCP, Timeout: 3 * time.Minute,
			Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Ports().Management))},
		// The node writes only its own directory; Erlang's JIT maps code
		// it writes.
		Relax: services.Relaxations{WritablePaths: []string{n.Dir()}, AllowWriteExecute: true},
	}
	if uid >= 0 {
		comp.User, comp.Group, comp.UID, comp.GID = user, user, uid, gid
	}
	return comp, nil
}

// brokerRefs is what an instance's services need running first: the
// embedded node, when its vhost is there.
func (m *Manager) brokerRefs(st *State) []services.Ref {
	if st.Broker != "" && st.BrokerServer == "embedded" {
		return []services.Ref{{Instance: brokerNodeInstance, Component: brokerNodeComponent}}
	}
	return nil
}

// brokerFor returns the broker holding st's vhost, refusing a Manager
// opened for another one before anything is started or changed.
func (m *Manager) brokerFor(ctx context.Context, st *State) (*brokerServer, error) {
	if err := m.checkBrokerServer(st); err != nil {
		return nil, err
	}
	return m.brokerServer(ctx)
}

// checkBrokerServer records the broker on a record that has none yet and
// refuses one on another broker than Options select.
func (m *Manager) checkBrokerServer(st *State) error {
	id, err := m.brokerID()
	if err != nil {
		return err
	}
	if st.BrokerServer == "" {
		st.BrokerServer = id
	} else if st.BrokerServer != id {
		return fmt.Errorf("instance %s: %w: its broker vhost is on %s, this command uses %s (pass the --broker-url it was created with)", st.Name, ErrOtherServer, st.BrokerServer, id)
	}
	return nil
}

func (m *Manager) brokerSpec(st *State, acct *account.Account) (broker.Spec, error) {
	n, err := names(st)
	if err != nil {
		return broker.Spec{}, err
	}
	return broker.Spec{Names: n, SecretsFile: m.layout.brokerPasswordFile(st.Name), Owner: acct, Logger: m.log}, nil
}

// ensureBroker provisions the instance's vhost and user (when the spec
// asks for a broker) and writes BROKER_URL and CELERY_BROKER_URL into the
// secrets env file.
func (m *Manager) ensureBroker(ctx context.Context, st *State, spec *Spec) error {
	if spec.Broker == nil {
		return nil
	}
	n, err := names(st)
	if err != nil {
		return err
	}
	st.Broker, st.BrokerUser = n.Role, n.Role
	srv, err := m.brokerFor(ctx, st)
	if err != nil {
		return err
	}
	acct, err := m.account(ctx, st)
	if err != nil {
		return err
	}
	bs, err := m.brokerSpec(st, acct)
	if err != nil {
		return err
	}
	res, err := broker.Provision(ctx, srv.admin, bs)
	if err != nil {
		return err
	}
	u := broker.URL(srv.amqpAddr, res.User, res.Password, res.Vhost)
	return m.setEnv(st.Name, acct, map[string]string{"BROKER_URL": u, "CELERY_BROKER_URL": u})
}

// dropBroker deletes the instance's vhost and user, if it has them.
func (m *Manager) dropBroker(ctx context.Context, st *State) error {
	if st.Broker == "" {
		return nil
	}
	n, err := names(st)
	if err != nil {
		return err
	}
	if m.onEmbedded(st.BrokerServer, m.opts.BrokerURL) && m.brokerNodeNeverBooted() {
		// A node that never booted holds no vhost: starting one to
		// delete nothing would fail as the create that could not start
		// it did (no rabbitmq-server), and leave it impossible to undo.
		return removeIfExists(m.layout.brokerPasswordFile(st.Name))
	}
	srv, err := m.brokerFor(ctx, st)
	if err != nil {
		return err
	}
	if err := broker.Remove(ctx, srv.admin, n, broker.RemoveOptions{Confirm: n.Role, SecretsFile: m.layout.brokerPasswordFile(st.Name), Logger: m.log}); err != nil {
		return err
	}
	if !exists(m.layout.EnvFile(st.Name)) {
		return nil
	}
	acct, _ := m.account(ctx, st)
	return m.setEnv(st.Name, acct, map[string]string{"BROKER_URL": "", "CELERY_BROKER_URL": ""})
}

// brokerUndo is the undo of an upgrade's broker step: a vhost the
// upgrade made (the instance had none before) is deleted again.
func (m *Manager) brokerUndo(ctx context.Context, old *State, spec *Spec) error {
	if old.Broker != "" || spec.Broker == nil {
		return nil
	}
	n, err := names(old)
	if err != nil {
		return err
	}
	gained := *old
	gained.Broker, gained.BrokerUser = n.Role, n.Role
	return m.dropBroker(ctx, &gained)
}

// setEnv sets (or, for "", removes) keys in the instance's secrets env
// file, keeping the others: the database step and the broker step each
// write their own.
func (m *Manager) setEnv(name string, acct *account.Account, set map[string]string) error {
	p := m.layout.EnvFile(name)
	env, err := readEnvFile(p)
	if err != nil {
		return err
	}
	for k, v := range set {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# written by deploykit: the instance's database and broker\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	if err := atomicfile.WriteFile(p, b.Bytes(), 0o600); err != nil {
		return err
	}
	if acct != nil && acct.Privileged {
		return os.Chown(p, acct.UID, acct.GID)
	}
	return nil
}

// shutdownBroker stops the embedded node, if this root has one, and
// removes it from the service controller.
func (m *Manager) shutdownBroker(ctx context.Context) error {
	if m.opts.BrokerURL != "" {
		return nil
	}
	m.brokerMu.Lock()
	m.brk = nil
	m.brokerMu.Unlock()
	n, err := m.brokerNode()
	if err != nil {
		return err
	}
	if _, err := n.Status(); errors.Is(err, rabbitnode.ErrNotInitialized) {
		return nil
	}
	if m.ServicesMode() == "systemd" || exists(filepath.Join(m.layout.SupervisorDir(), brokerNodeInstance, "spec.json")) {
		ctrl, err := m.controller()
		if err != nil {
			return err
		}
		if err := ctrl.Uninstall(ctx, brokerNodeInstance); err != nil && !errors.Is(err, services.ErrNotFound) {
			return err
		}
	}
	return n.Stop(ctx)
}

// brokerBackup exports the instance's vhost definitions for its backup
// (nil when it has no broker). Messages are not part of them.
func (m *Manager) brokerBackup(ctx context.Context, st *State) (*backup.Broker, error) {
	if st.Broker == "" {
		return nil, nil
	}
	srv, err := m.brokerFor(ctx, st)
	if err != nil {
		return nil, err
	}
	defs, err := broker.Export(ctx, srv.admin, st.Broker)
	if err != nil {
		return nil, err
	}
	data, err := defs.Marshal()
	if err != nil {
		return nil, err
	}
	return &backup.Broker{Kind: "rabbitmq", Vhost: st.Broker, Definitions: data}, nil
}

// checkBrokerDefinitions refuses an archive whose broker definitions
// could not be imported, before a restore stops anything.
func checkBrokerDefinitions(sum *backup.Summary) error {
	if sum.Manifest.Broker == nil {
		return nil
	}
	if k := sum.Manifest.Broker.Kind; k != "rabbitmq" {
		return fmt.Errorf("the archive's broker is %q, not rabbitmq", k)
	}
	_, err := broker.ParseDefinitions(sum.Broker)
	return err
}

// restoreBroker makes the instance's vhost hold exactly the archive's
// definitions (queues, exchanges, bindings, policies; no messages), in
// its own vhost and for its own user, whichever instance the archive was
// taken of. An archive without definitions leaves the vhost as it is, and
// definitions for an instance without a broker are skipped. It runs after
// the restore's commit and converges when run again.
func (m *Manager) restoreBroker(ctx context.Context, st *State, file string) error {
	man, data, err := backup.ReadBrokerFile(file)
	if err != nil {
		return err
	}
	switch {
	case data == nil && st.Broker != "":
		m.emit(Event{Instance: st.Name, Op: "restore", Kind: EventInfo, Message: "the archive holds no broker definitions: vhost " + st.Broker + " is left as it is"})
		return nil
	case data == nil:
		return nil
	case st.Broker == "":
		m.emit(Event{Instance: st.Name, Op: "restore", Kind: EventInfo, Message: "the archive holds the broker definitions of vhost " + man.Broker.Vhost + ", but the instance has no broker: skipped"})
		return nil
	}
	defs, err := broker.ParseDefinitions(data)
	if err != nil {
		return err
	}
	srv, err := m.brokerFor(ctx, st)
	if err != nil {
		return err
	}
	acct, err := m.account(ctx, st)
	if err != nil {
		return err
	}
	bs, err := m.brokerSpec(st, acct)
	if err != nil {
		return err
	}
	return broker.Replace(ctx, srv.admin, bs, defs)
}
