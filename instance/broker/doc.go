// Package broker gives each deploykit instance its own space on a shared
// RabbitMQ — a virtual host and a user — so that two instances' task
// queues never meet: a staging worker never eats production's tasks. It
// also exports and imports a vhost's definitions for backups.
//
// # Provisioning
//
// Provision, over the management HTTP API as an administrator (a user
// tagged "administrator"), makes sure that for one instance
//
//   - a virtual host exists, named like the instance's PostgreSQL role
//     (instance/account: "dk-NAME"), marked as the instance's by its
//     description ("deploykit instance NAME");
//   - a user of the same name exists, tagged "deploykit-instance" and
//     nothing else (no management, monitoring or administrator rights),
//     with a random password kept in the instance's secrets file (mode
//     0600, written before the user is created, sent to the server only
//     as RabbitMQ's salted SHA-256 hash, never logged);
//   - the user may configure, write and read everything in that vhost and
//     has no permissions in any other;
//   - no other user but the administrator may use the vhost.
//
// Everything that could conflict — a vhost of that name that is not the
// instance's, a user of that name that is not (missing marker, other
// tags), a user with permissions elsewhere, a third user with permissions
// on the vhost, an administrator that is not one — is checked before
// anything is changed, and reported as an error wrapping ErrConflict or
// ErrAdminPrivileges: nothing is left half provisioned. A second Provision
// changes nothing. Remove deletes the vhost (its queues, messages and
// connections go with it) and the user, only when the caller repeats the
// vhost's name in RemoveOptions.Confirm.
//
// The instance's processes reach their vhost with URL (BROKER_URL and
// CELERY_BROKER_URL in instance): amqp://USER:PASSWORD@HOST:PORT/VHOST,
// where HOST:PORT is the broker's AMQP listener (Admin.AMQPAddr).
//
// # Definitions, for backups
//
// Export reads a vhost's definitions — queues, exchanges, bindings and
// policies, as RabbitMQ's own definitions export has them — and Import
// declares them in a vhost, which may be another instance's (restore
// production's queues into staging): definitions carry no vhost and no
// user, so what is imported belongs to the target vhost and is reached by
// the target's user only. Replace empties a vhost first (by deleting and
// provisioning it again), so that afterwards it holds exactly the
// imported definitions. Messages are not part of definitions and are not
// backed up: a restore starts with empty queues. Runtime parameters
// (shovels, federation upstreams) are neither exported nor accepted, as
// they may name other vhosts and carry credentials.
//
// ParseDefinitions checks definitions from an untrusted source (a backup
// archive) before they reach a server.
//
// # Why a small client of its own
//
// The management API calls this package needs are a dozen plain JSON
// requests. The Go client for them that the module proxy serves
// (michaelklishin/rabbit-hole v2.12) predates context.Context, cannot
// import definitions into one vhost, decodes definitions into fixed
// structs (dropping what it does not know) and drags in a deprecated AMQP
// client: the requests are written here instead (client.go).
package broker
