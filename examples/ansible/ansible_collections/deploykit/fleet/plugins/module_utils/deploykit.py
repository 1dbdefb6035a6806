# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)
"""Shared code of the deploykit.fleet modules: the options every module
takes to reach deploykit on the managed host, and one way to run it.

The modules are thin adapters: every decision (what changed, what to roll
back) is deploykit's, reported in its --json output. This file only builds
argument vectors, runs the binary and turns its failures into the module's
failure with deploykit's own message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

# Options common to the modules (see doc_fragments in each module's
# DOCUMENTATION; kept in one place so the argument specs agree).
COMMON_ARGS = dict(
    root=dict(type='path', default='/srv/deploykit'),
    services=dict(type='str', default='auto', choices=['auto', 'supervise', 'systemd']),
    database_url=dict(type='str', no_log=True),
    listen_address=dict(type='str'),
    binary=dict(type='path', default='/usr/local/bin/deploykit'),
)

# deploykit's exit codes (examples/deploykit/doc.go).
EXIT_NOT_FOUND = 3


class Deploykit(object):
    """Runs deploykit on the managed host for an AnsibleModule."""

    def __init__(self, module):
        self.module = module
        self.seconds = 0.0

    def argv(self, *args):
        p = self.module.params
        argv = [p['binary'], '--root', p['root'], '--services', p['services']]
        if p.get('listen_address'):
            argv += ['--listen-address', p['listen_address']]
        return argv + list(args)

    def run(self, *args, **kwargs):
        """Runs deploykit with the global options and args; returns (rc,
        stdout, stderr). The database URL travels in the environment, not
        in the argument vector other users can read."""
        env = {'DEPLOYKIT_ROOT': ''}
        if self.module.params.get('database_url'):
            env['DEPLOYKIT_DATABASE_URL'] = self.module.params['database_url']
        start = time.time()
        rc, out, err = self.module.run_command(self.argv(*args), environ_update=env, **kwargs)
        self.seconds += time.time() - start
        return rc, out, err

    def json(self, *args):
        """Runs deploykit with --json and returns (rc, decoded stdout or
        None, stderr)."""
        rc, out, err = self.run(*(list(args) + ['--json']))
        data = None
        if out.strip():
            try:
                data = json.loads(out)
            except ValueError:
                data = None
        return rc, data, err

    def fail(self, what, rc, err, **extra):
        """Fails the module with deploykit's own message."""
        msg = message(err) or ('deploykit %s failed (exit %d)' % (what, rc))
        self.module.fail_json(msg=msg, rc=rc, stderr=err, deploykit_seconds=round(self.seconds, 3), **extra)


def message(stderr):
    """deploykit's error message: its last 'deploykit: …' line and what
    follows it (a rolled-back step's output), without the prefix."""
    lines = stderr.strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith('deploykit: '):
            return '\n'.join([lines[i][len('deploykit: '):]] + lines[i + 1:]).strip()
    return stderr.strip()
