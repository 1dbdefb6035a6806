#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: instance_info
short_description: Status of deploykit instances on a host
version_added: 1.0.0
description:
  - Reports one instance (C(deploykit status --json)) or every instance
    under the root (C(deploykit list --json)) of the managed host.
  - Changes nothing, except that C(deploykit status) first finishes an
    operation on the instance that was interrupted (a crash), rolling it
    back or forward, so the state reported is a consistent one.
author:
  - deploykit authors
options:
  name:
    description:
      - The instance to report; omitted, every instance under I(root) is
        listed.
    type: str
extends_documentation_fragment:
  - deploykit.fleet.common
attributes:
  check_mode:
    support: full
    details: It reads only.
  diff_mode:
    support: none
seealso:
  - module: deploykit.fleet.instance
'''

EXAMPLES = r'''
- name: Where production runs
  deploykit.fleet.instance_info:
    name: production
  register: info

- name: Its release and listening services
  ansible.builtin.debug:
    msg: "{{ info.instance.current }} on {{ info.instance.listen_address }} {{ info.instance.ports }}"

- name: Every instance of the host
  deploykit.fleet.instance_info:
  register: all_instances
'''

RETURN = r'''
exists:
  description: Whether the instance I(name) exists.
  returned: when I(name) is given
  type: bool
instance:
  description:
    - The instance's record and the live state of its services, as
      C(deploykit status --json) prints it.
  returned: when I(name) is given and the instance exists
  type: dict
  contains:
    current:
      description: The current release.
      type: str
    releases:
      description: The releases kept (id, kind, created, packages).
      type: list
      elements: dict
    ports:
      description: The port of each listening service.
      type: dict
    listen_address:
      description: The address the listening services are bound on.
      type: str
    user:
      description: The instance's Unix user.
      type: str
    database:
      description: The instance's database, when it has one.
      type: str
    services:
      description: Each component's state (component, state, sub, pid, restarts).
      type: list
      elements: dict
  sample:
    name: production
    current: r4
    listen_address: 10.0.0.5
    ports: {"web": 23133}
    services: [{"component": "web", "state": "active", "sub": "running", "pid": 4242}]
instances:
  description: Every instance under the root (C(deploykit list --json)).
  returned: when I(name) is omitted
  type: list
  elements: dict
  sample: [{"name": "production", "app": "demo", "current": "r4", "releases": 3, "ports": [23133]}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.deploykit.fleet.plugins.module_utils.deploykit import (
    COMMON_ARGS,
    EXIT_NOT_FOUND,
    Deploykit,
)


def main():
    argument_spec = dict(name=dict(type='str'))
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    dk = Deploykit(module)
    name = module.params['name']
    result = dict(changed=False)
    if name:
        rc, data, err = dk.json('status', name)
        if rc == EXIT_NOT_FOUND:
            result['exists'] = False
        elif rc != 0 or data is None:
            dk.fail('status', rc, err)
        else:
            result.update(exists=True, instance=data)
    else:
        rc, data, err = dk.json('list')
        if rc != 0 or data is None:
            dk.fail('list', rc, err)
        result['instances'] = data
    result['deploykit_seconds'] = round(dk.seconds, 3)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
