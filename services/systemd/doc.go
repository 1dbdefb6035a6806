// Package systemd renders an instance's components (services.Component) as
// hardened systemd units and controls them with systemctl.
//
// # Unit layout
//
// Every instance gets its own, complete unit files rather than one template
// unit per component plus per-instance drop-ins:
//
//	deploykit-INSTANCE.target              groups the instance; Wants= every unit below
//	deploykit-INSTANCE-COMPONENT.service   one per component, PartOf= the target
//	deploykit-INSTANCE-COMPONENT.socket    its first listen socket (socket activation)
//	deploykit-INSTANCE-COMPONENT-NAME.socket  further listen sockets, by fd name
//
// Why not templates (deploykit-COMPONENT@INSTANCE.service)? A template
// shares everything but %i, and nearly everything differs per instance: the
// User=/Group=, the release's venv in ExecStart=, the port in ListenStream=,
// the environment, the writable paths. Worse, two applications that both
// call a component "web" would share one template, so upgrading one would
// rewrite the other's unit. Drop-ins carrying all of that would leave the
// template an empty shell and split one service's definition across two
// files. Per-instance units keep one file per service: `systemctl cat`
// shows the whole truth, `systemd-analyze security` scores the real unit,
// and removing an instance removes its files and nothing else's.
//
// Unit names are not injective for names with '-' ("a-b"+"c" and
// "a"+"b-c" both give deploykit-a-b-c.service), so every unit starts with a
// "# deploykit: instance=… component=…" line; Install refuses (ErrCollision)
// to overwrite a unit that belongs to another instance or component.
//
// # Hardening
//
// Units are locked down by default (see hardening in render.go): no
// capabilities, NoNewPrivileges, ProtectSystem=strict with only the
// component's declared paths writable, private /tmp and /dev, no kernel
// tunables/modules/logs/clock/hostname, a @system-service syscall filter
// without @privileged and @resources, AF_UNIX/AF_INET/AF_INET6 only,
// MemoryDenyWriteExecute, UMask=0077. Every rendered unit scores ≤ 2.0 in
// `systemd-analyze security --offline=true` and passes `systemd-analyze
// verify`; the tests run both. What a component needs relaxed is explicit
// in its services.Relaxations.
//
// # Control
//
// Controller implements services.Controller over systemctl (and journalctl
// for logs), run through a Runner so the same code drives the host's
// systemd or one in a container (internal/nspawn). Restart restarts the
// service units only: the socket units keep the listen sockets open, so a
// restart drops no connection.
package systemd
