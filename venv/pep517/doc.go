// Package pep517 is a build frontend: it turns a Python source tree into a
// wheel, or an editable wheel, by calling the tree's build backend in an
// isolated build environment, as pip and pypa/build do.
//
// Specifications followed:
//
//   - PEP 518: [build-system] requires in pyproject.toml names what the
//     build environment holds; a tree without a [build-system] table but
//     with setup.py gets "setuptools>=40.8.0" and
//     setuptools.build_meta:__legacy__, as pip does.
//   - PEP 517: build-backend "module:object" and backend-path (in-tree
//     backends, which must stay inside the tree and must be where the
//     backend is imported from); hooks get_requires_for_build_wheel,
//     prepare_metadata_for_build_wheel and build_wheel, each run in a fresh
//     subprocess of the build environment's interpreter with the source
//     tree as working directory; optional hooks may be missing.
//   - PEP 660: get_requires_for_build_editable and build_editable; a
//     backend without build_editable is reported with
//     ErrEditableUnsupported.
//
// The build environment is a new venv made by package venv from
// Options.Python. Build requirements are installed through the Requirer
// the caller supplies (usually the resolver and the venv installer), so
// this package sits below them. Hook output is captured; a failure is a
// *BuildError that names the project, the step and the tail of the
// backend's output. Built wheels are cached under Options.CacheDir, keyed
// by a hash of the source tree (VCS metadata and build droppings ignored),
// the interpreter and the settings; entries and delivered wheels appear
// by rename only, so a failed, killed or cancelled build leaves no partial
// file behind. Frontend.BuildWheel implements the Builder interface of
// requirements/index.
package pep517
