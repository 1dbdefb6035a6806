// Command deploykit is the example CLI over deploykit's instance.Manager
// (DESIGN.md, "The example CLI"): every instance subcommand is a thin layer
// over a Manager method; venv, install, sync and lock drive the venv and
// requirements packages directly.
//
//	deploykit create NAME --spec app.toml       build release, user, db, migrate, start
//	deploykit list | status NAME   [--json]
//	deploykit start | stop | restart NAME [COMPONENT]
//	deploykit upgrade NAME [--spec app.toml]    new release; migrate; switch; restart; rollback on failure
//	deploykit apply NAME --spec app.toml [--dry-run]  converge: create, upgrade or nothing (Ansible's unit)
//	deploykit hotfix NAME REQUIREMENT...        new release = current lock + these changes
//	deploykit rollback NAME [--to RELEASE]
//	deploykit run NAME -- CMD ARGS...           in the instance's env, as its user
//	deploykit backup NAME [-o FILE] | verify FILE
//	deploykit restore NAME FILE --yes | clone SRC DST --yes
//	deploykit lock (--spec app.toml | -r FILE | REQ...) [-o pylock.toml] [--python PATH|CONSTRAINT]
//	deploykit venv DIR [--python PATH|CONSTRAINT] [--system-site-packages]
//	deploykit install --venv DIR (-r FILE | REQ... | WHEEL...)
//	deploykit sync --venv DIR pylock.toml
//	deploykit units NAME [--spec app.toml] [-o DIR]
//	deploykit logs NAME [COMPONENT]
//	deploykit remove NAME --yes
//	deploykit doctor
//	deploykit shutdown                          stop the root's embedded PostgreSQL cluster and RabbitMQ node
//	global: --root DIR, --services auto|systemd|supervise, --database-url URL,
//	        --broker-url URL, --listen-address ADDR, --json, -v
//
// --broker-url (or $DEPLOYKIT_BROKER_URL) names an existing RabbitMQ by its
// management API and an administrator: http://USER:PASSWORD@HOST:15672/
// (add ?amqp=HOST:PORT when the instances must reach AMQP at another
// address than the one the server reports). Without it, instances whose
// spec has [broker] get their vhosts on an embedded node under
// ROOT/rabbitmq, started on first need (Debian's rabbitmq-server).
//
// --listen-address (or $DEPLOYKIT_LISTEN_ADDRESS) is the IP address the
// instances' listening services are bound on, health-checked at and
// reported on (default 127.0.0.1). It is recorded in ROOT/settings.toml,
// so later commands keep it. A value that differs from the recorded one
// changes it for the whole root: each instance moves to the new address
// (its sockets are stopped and bound again) the next time it is created,
// upgraded, rolled back, applied, started or restarted.
//
// Exit codes:
//
//	0  success
//	1  the operation failed (an upgrade that fails is rolled back first)
//	2  usage: bad flags or arguments, an invalid spec or instance name,
//	   a --database-url other than the one the instance was created with
//	3  not found: no such instance, release, component or file
//	4  conflict: the instance is locked by another operation, or exists
//
// Progress bars are drawn on stderr only when it is a terminal; otherwise
// each step is one line. --json prints machine-readable output on stdout
// for every read command (list, status, units, doctor, verify, lock).
package main
