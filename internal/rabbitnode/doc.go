// Package rabbitnode manages a private RabbitMQ node: the embedded default
// message broker of deploykit (ROOT/rabbitmq, see DESIGN.md "The
// instance") and, through internal/rabbittest, the throwaway node of tests.
//
// A node lives in one directory, Options.Dir:
//
//	Dir/                 0700, owned by the node's system user
//	Dir/ports.json       AMQP, management, distribution and epmd ports, picked once at Init
//	Dir/admin.password   the administrator's password, 0600, owned by the caller
//	Dir/rabbitmq.conf    listeners, the management listener, the first-boot administrator
//	Dir/enabled_plugins  [rabbitmq_management].
//	Dir/.erlang.cookie   the distribution cookie (HOME is Dir), 0400
//	Dir/data/            the node's database (RABBITMQ_MNESIA_DIR)
//	Dir/log/             RabbitMQ's own logs (the main log goes to stdout)
//	Dir/node.pid         the Erlang VM's PID, written by RabbitMQ
//
// Everything a node needs is in that directory and in its environment
// (Env): RABBITMQ_CONF_ENV_FILE points nowhere, so the host's
// /etc/rabbitmq is never read, and nothing is shared with the host's own
// RabbitMQ service (whose Debian unit deploykit never uses).
//
// # Ports and epmd
//
// AMQP listens on Options.Address (127.0.0.1 by default), the management
// API (the only way deploykit talks to the node: instance/broker) on
// 127.0.0.1 at a port of its own, and the Erlang distribution on
// 127.0.0.1 too. Every Erlang node registers with epmd, the port mapper,
// which by default is one daemon on port 4369 shared by every node of the
// host: started by the first node, it outlives it, and it mixes unrelated
// nodes (a test's, the host's, another root's). A node of this package
// has its own epmd instead, on a port of its own (ERL_EPMD_PORT), bound to
// 127.0.0.1, started in the node's process group before RabbitMQ by
// Command and so stopped with the node, whatever stops it (a service
// controller, Stop, a watcher killing the group).
//
// # Users
//
// The node's database is created at first boot with one user, the
// administrator (AdminUser, with the password in admin.password), instead
// of RabbitMQ's default "guest"; Ready deletes a "guest" user should one
// exist anyway (a node directory from elsewhere, an operator's import).
// Instances get users of their own from instance/broker.
//
// When the caller is root the node runs as the "rabbitmq" system user
// (Options.SystemUser; created when missing), otherwise as the caller.
//
// # Running it
//
// Command and Env are the foreground program a service controller runs
// (the built-in supervisor or a systemd unit, see instance); Ready waits
// for it and hardens it. Start runs the same program detached, in a
// process group of its own, for callers without a controller (tests);
// Stop stops a node started either way.
package rabbitnode
