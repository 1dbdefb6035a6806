// Package deploykit is a Go SDK for running Python web applications as
// several isolated instances side by side on one host — production,
// staging, a developer's branch — each with its own virtualenv, Unix user,
// PostgreSQL role and database, service units and backups.
//
// The root package holds no code; the SDK is its packages, layered so that
// dependencies point down only:
//
//	examples/deploykit   CLI: every subcommand is a few lines over instance.Manager
//	examples/quickstart  two instances of a demo app, end to end
//	instance             Spec, Layout, Manager: create/upgrade/rollback/hotfix/remove/clone
//	instance/account     per-instance Unix user+group, ownership and modes
//	instance/schema      per-instance PostgreSQL role+database, secrets, migrations
//	services             component model, Controller interface
//	services/systemd     hardened unit rendering, systemctl control, verification
//	services/supervise   built-in supervisor: runs components as the instance user
//	backup               archive format (tar + zstd + manifest), create/verify/restore
//	venv                 interpreters, native venv creation, wheel installer, cache
//	requirements         PEP 508 requirements and markers, pip requirements files
//	requirements/pep440  versions and specifiers
//	requirements/dist    wheel/sdist file names, platform tags, core metadata
//	requirements/index   package sources: simple index, find-links, VCS, builds
//	requirements/resolve PubGrub resolver with conflict explanations
//	requirements/lock    pylock.toml (PEP 751)
//
// requirements, venv, services and backup do not know instances exist and
// are useful alone. A deploy script typically works through instance.Manager:
//
//	m, err := instance.Open(ctx, instance.Options{Root: "/srv/deploykit"})
//	...
//	err = m.Create(ctx, "staging", spec)
package deploykit
