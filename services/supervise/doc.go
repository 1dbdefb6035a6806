// Package supervise is deploykit's built-in supervisor: it runs an
// instance's components (services.Component) as child processes where there
// is no systemd to lean on — containers, CI machines, laptops.
//
// One supervisor process runs per instance. It
//
//   - runs each component under the component's uid/gid (Credential, with
//     supplementary groups cleared), in its own process group;
//   - restarts a crashed component with exponential backoff (Delay,
//     doubling up to MaxDelay) and gives up after Burst restarts within
//     Interval (a crash loop: state "failed");
//   - stops gracefully: the stop signal to the whole process group, then
//     after StopTimeout SIGKILL to the group, and SIGKILL to what is left
//     of the group whenever a main process exits, so nothing is orphaned;
//   - holds the listen sockets itself and passes them to the component as
//     systemd does (sd_listen_fds(3): fds from 3, LISTEN_FDS,
//     LISTEN_FDNAMES; LISTEN_PID is set to the child's own pid by a
//     one-line /bin/sh shim that execs the command). A restart of a
//     component with sockets starts the new process first, waits until it
//     is ready, then stops the old one: connections queue in the socket's
//     backlog and none is refused;
//   - writes each component's output to DIR/log/COMPONENT.log, rotated by
//     size (COMPONENT.log.1, .2, …), which Logs can follow;
//   - keeps a state file (state.json) and a control socket (control.sock,
//     one JSON request and response per connection, see Request) in its
//     state directory, so another process — `deploykit status/stop/restart`
//     — talks to the running supervisor. A flock on DIR/lock marks it
//     running: a state file whose lock is free is left over from a crashed
//     supervisor, and the next one cleans up after it (leftover process
//     groups, verified by their start time, are killed).
//
// Run is the foreground mode (containers: the supervisor is the main
// process). Controller implements services.Controller and starts the
// supervisor in daemon mode: it re-executes the program (the CLI dispatches
// DaemonSubcommand to DaemonMain) detached with setsid, so the supervisor
// survives the command that started it.
package supervise
