// Package services is deploykit's component model: what one long-running
// process of an instance is (a web server, a worker, a scheduler), and the
// Controller interface through which it is installed, started, stopped,
// restarted, reloaded, inspected and its logs read.
//
// Two controllers implement it: services/systemd renders hardened unit files
// and drives systemctl on hosts whose PID 1 is systemd; services/supervise is
// a built-in supervisor for containers, CI machines and laptops. Both take the
// same []Component, so an application spec is translated once.
//
// services knows nothing about instances beyond their names: a Component
// carries its own user, group, uid and gid, already-resolved argv (see
// Placeholders for the {instance}, {home}, {venv}, {port}, {run} and {data}
// substitutions of DESIGN.md), environment and listen sockets. The caller
// (package instance) builds components from the application spec.
//
// Listen sockets follow systemd's socket activation protocol
// (sd_listen_fds(3)): the controller, not the component, owns the listening
// socket and hands it over as file descriptor 3 onwards with LISTEN_FDS,
// LISTEN_PID and LISTEN_FDNAMES, so a restart drops no connection.
// Programs that bind their port themselves (python -m http.server, a
// development server) declare it in Component.SelfBound instead: the
// controller then passes nothing, and a restart is stop-then-start.
package services
