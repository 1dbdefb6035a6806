# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options every deploykit.fleet module takes to reach deploykit on
    # the managed host (module_utils/deploykit.py COMMON_ARGS).
    DOCUMENTATION = r'''
options:
  root:
    description:
      - The deploykit root on the managed host (C(--root)).
    type: path
    default: /srv/deploykit
  services:
    description:
      - The service controller (C(--services)). C(auto) is systemd when the
        host's PID 1 is systemd, else deploykit's built-in supervisor.
    type: str
    default: auto
    choices: [auto, supervise, systemd]
  database_url:
    description:
      - A PostgreSQL server URL with a role allowed to create roles and
        databases (C(--database-url)); passed to deploykit in its
        environment, never on its command line.
      - Without it, deploykit creates and runs an embedded cluster under
        I(root)/postgres (the host needs PostgreSQL's server binaries; the
        C(deploykit.fleet.install) role installs them).
    type: str
  listen_address:
    description:
      - The IP address the instances' listening services are bound on
        (C(--listen-address)), typically the host's address that the load
        balancer reaches.
      - deploykit records it in the root, so later runs without it keep it;
        a different value moves every instance of the root to the new
        address the next time each is applied, started or restarted.
      - Omitted, the root's recorded address is kept (127.0.0.1 for a new
        root).
    type: str
  binary:
    description:
      - The deploykit program on the managed host.
    type: path
    default: /usr/local/bin/deploykit
requirements:
  - the deploykit binary on the managed host (the C(deploykit.fleet.install) role puts it there)
'''
