// Package instance runs named, isolated deployments ("instances") of a
// Python web application described by an application spec (app.toml), as
// in deploykit's DESIGN.md, section "The instance".
//
// A Spec says what an application is: its interpreter constraint, its
// requirement list (pip requirements files and inline PEP 508
// requirements), environment, database, migrate hook and services. An
// instance is one deployment of it; everything that must differ between
// two instances of one spec — ports, sockets, Unix user, PostgreSQL role
// and database, directories — is derived from the instance name, so
// production and staging run side by side with no edits.
//
// Layout is the on-disk layout under a root (/srv/deploykit as root,
// $XDG_DATA_HOME/deploykit otherwise). Manager composes the other
// packages: requirements/resolve and requirements/lock turn the requirement
// list into a pylock.toml, venv builds the release's virtualenv from the
// shared cache, instance/account and instance/schema give the instance its
// user and database, services/systemd or services/supervise run its
// components, and backup archives it.
//
// Instance names are per host, not per root: an instance's Unix user,
// group, PostgreSQL role and database are all "dk-NAME" (instance/account),
// and user names are global to the host. A second root refuses a name
// another root's instance has, and never touches that instance.
//
// Releases are built by requirements/index (indexes, find-links, local
// paths, VCS; sdists and source trees built by venv/pep517) and
// requirements/resolve, locked into the release's pylock.toml
// (requirements/lock), and installed by venv from the shared cache
// ROOT/cache. A hotfix resolves again with every package of the current
// lock pinned except the named ones. A release byte-compiles in the
// background while the steps after its build that do not need it run
// (database and broker provisioning, starting their servers); the compile
// step waits for it before anything runs the release, and reports how
// much of the compiling the other steps hid (compile.go). Without Options.DatabaseURL the
// embedded cluster (internal/pgcluster) under ROOT/postgres is created and
// started by the first operation that needs it, under the service
// controller and restarted if it dies: a supervised process of the
// built-in supervisor, or under systemd a unit of its own
// (deploykit-pg_embedded-postgres.service) that every instance's units
// want and start after, so boot brings it up first. Shutdown stops it and
// removes it from the controller.
//
// A spec with [broker] gives each instance its own RabbitMQ vhost and
// user (instance/broker; broker.go here), provisioned in a journaled step
// of create, and of an upgrade that adds the table, and deleted by
// remove. Components see BROKER_URL and CELERY_BROKER_URL, through the
// secrets env file as DATABASE_URL. Without Options.BrokerURL the vhosts
// live on an embedded node (internal/rabbitnode) under ROOT/rabbitmq,
// started on first need like the cluster: supervised, or under systemd
// deploykit-rmq_embedded-rabbitmq.service, wanted by the units of the
// instances that use it. A backup keeps the vhost's definitions
// (queues, exchanges, bindings, policies) but not its messages; restore
// and clone replace the target's vhost with them, so after "restore
// production into staging" staging's workers find production's queues,
// empty, in staging's own vhost.
//
// Apply (apply.go) converges an instance to a spec: create, upgrade or
// nothing, with a dry run that plans without changing the host; it is
// what the deploykit.fleet Ansible collection runs on every host. A root's
// listen address (listen.go, ROOT/settings.toml) is where every instance's
// listening services are bound, so a load balancer on another host
// reaches them; ports are hashed from the instance name, so an instance
// has the same port on every host wherever it is free.
//
// Every operation takes an exclusive lock on the instance (a second one
// fails with ErrLocked) and writes a journal before and after each step,
// so a crash at any step leaves the instance in the old or the new state:
// the next operation (or Status) rolls the interrupted one back or forward.
package instance
