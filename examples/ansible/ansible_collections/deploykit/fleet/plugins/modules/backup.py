#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: backup
short_description: Back up a deploykit instance on its host
version_added: 1.0.0
description:
  - Writes a backup archive of the instance I(name) (C(deploykit backup)),
    its database, its data directory and what was running (spec, release,
    lock), verified member by member and sealed.
  - The archive stays on the managed host; M(ansible.builtin.fetch) brings it
    to the controller.
author:
  - deploykit authors
options:
  name:
    description: The instance to back up.
    type: str
    required: true
  dest:
    description:
      - The archive to write on the managed host. Omitted, deploykit writes
        I(root)/backups/NAME/TIMESTAMP.dkb.
    type: path
  force:
    description:
      - When I(dest) exists already, write it again. Without it, an existing
        I(dest) is left alone and the task reports no change.
    type: bool
    default: false
extends_documentation_fragment:
  - deploykit.fleet.common
attributes:
  check_mode:
    support: full
    details: Reports that a backup would be written, and writes none.
  diff_mode:
    support: none
seealso:
  - module: deploykit.fleet.instance
  - module: ansible.builtin.fetch
'''

EXAMPLES = r'''
- name: Back production up before the upgrade
  deploykit.fleet.backup:
    name: production
    dest: /var/backups/production-before-upgrade.dkb
    force: true
  register: backup

- name: Bring the archive home
  ansible.builtin.fetch:
    src: "{{ backup.path }}"
    dest: "backups/{{ inventory_hostname }}/"
    flat: true
'''

RETURN = r'''
path:
  description: The archive written (or, in check mode, that would be; empty when deploykit picks the name).
  returned: always
  type: str
  sample: /srv/deploykit/backups/production/20260101T000000Z.dkb
backup:
  description: deploykit's report of the backup (C(deploykit backup --json)).
  returned: when a backup was written
  type: dict
  sample: {"path": "/var/backups/production.dkb", "tables": 12, "rows": 48210, "files": 31}
deploykit_seconds:
  description: Wall time the deploykit commands of this task took on the host.
  returned: always
  type: float
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.deploykit.fleet.plugins.module_utils.deploykit import (
    COMMON_ARGS,
    Deploykit,
)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        dest=dict(type='path'),
        force=dict(type='bool', default=False),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    dk = Deploykit(module)
    p = module.params
    result = dict(changed=False, path=p['dest'] or '')
    if p['dest'] and os.path.exists(p['dest']) and not p['force']:
        result['deploykit_seconds'] = 0.0
        module.exit_json(**result)
    result['changed'] = True
    if not module.check_mode:
        args = ['backup', p['name']]
        if p['dest']:
            args += ['-o', p['dest']]
        rc, data, err = dk.json(*args)
        if rc != 0 or data is None:
            dk.fail('backup', rc, err)
        result.update(backup=data, path=data.get('path') or result['path'])
    result['deploykit_seconds'] = round(dk.seconds, 3)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
