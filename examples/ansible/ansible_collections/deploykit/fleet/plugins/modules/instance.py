#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: instance
short_description: Converge a deploykit instance to an application spec
version_added: 1.0.0
description:
  - Makes the deploykit instance I(name) on the managed host match the
    application spec I(spec), with C(deploykit apply); starts, stops,
    restarts or removes it.
  - A thin adapter over the C(deploykit) command line and its C(--json)
    output; every decision is deploykit's. With I(state=present), an absent
    instance is created (Unix user, PostgreSQL role and database, first
    release, services); an instance whose spec, migrations or resolved lock
    differ from its current release is upgraded (new release, migrations,
    atomic switch, restart with the listening sockets handed over, health
    check, and rollback to the old release when any step fails); an instance
    bound on another address than I(listen_address) is moved to it;
    otherwise nothing is done and nothing is restarted.
  - A failure fails the task with deploykit's message, and the instance stays
    as it was (deploykit rolled it back).
  - The spec is a file on the managed host, with the files it names
    (requirements files, migrations, wheels for an offline install); the
    playbook copies them there first, like the application's own files.
author:
  - deploykit authors
options:
  name:
    description:
      - The instance name (lower-case letters, digits and C(-), starting with
        a letter, at most 24 characters). It names the instance's Unix user
        and group, PostgreSQL role and database (C(dk-NAME)), its directory
        and its ports, which are the same on every host where they are free.
    type: str
    required: true
  spec:
    description:
      - Path of the application spec (C(app.toml)) on the managed host.
      - Required with I(state=present). With I(state=started), I(state=stopped)
        or I(state=restarted) it is optional; given, the instance is first
        converged to it as with I(state=present).
    type: path
  state:
    description:
      - C(present) converges the instance to I(spec) (C(deploykit apply)).
      - C(absent) removes it (C(deploykit remove)) with its services, user,
        role, database and directories; its backups are kept unless
        I(delete_backups).
      - C(started) starts its components if any is not running;
        C(stopped) stops them if any is running; C(restarted) restarts them
        (listening sockets are handed over, so no request is dropped).
    type: str
    default: present
    choices: [present, absent, started, stopped, restarted]
  delete_backups:
    description:
      - With I(state=absent), also delete the instance's backups under
        I(root)/backups.
    type: bool
    default: false
extends_documentation_fragment:
  - deploykit.fleet.common
attributes:
  check_mode:
    support: full
    details: Plans with C(deploykit apply --dry-run), which changes nothing on the host.
  diff_mode:
    support: full
    details: The release and its locked packages (name==version) before and after.
notes:
  - Check mode plans against the spec file as it is on the host. A playbook
    that copies a new spec in the same run can stage the new files in a
    temporary directory in check mode (see the collection's site.yml).
seealso:
  - module: deploykit.fleet.instance_info
  - module: deploykit.fleet.backup
'''

EXAMPLES = r'''
- name: Production runs the application as in /srv/app/app.toml
  deploykit.fleet.instance:
    name: production
    spec: /srv/app/app.toml
    listen_address: "{{ ansible_host }}"
  register: production

- name: Show the release and where it listens
  ansible.builtin.debug:
    msg: "release {{ production.release }}, web on {{ production.listen_address }}:{{ production.ports.web }}"

- name: Staging on an existing PostgreSQL server
  deploykit.fleet.instance:
    name: staging
    spec: /srv/app/app.toml
    database_url: "postgres://deploykit:{{ vault_pg_password }}@db.example.org/postgres"

- name: Restart production
  deploykit.fleet.instance:
    name: production
    state: restarted

- name: Staging is gone, backups too
  deploykit.fleet.instance:
    name: staging
    state: absent
    delete_backups: true
'''

RETURN = r'''
instance:
  description: The instance name.
  returned: always
  type: str
  sample: production
release:
  description:
    - The instance's current release after the task (in check mode, the
      release an upgrade would make). Empty for an absent instance.
  returned: always
  type: str
  sample: r4
ports:
  description: The port of each listening service.
  returned: always
  type: dict
  sample: {"web": 23133}
listen_address:
  description: The address the listening services are bound on.
  returned: when the instance exists, or would
  type: str
  sample: 10.0.0.5
plan:
  description:
    - deploykit's plan (C(deploykit apply --json)), what was done or, in
      check mode, would be done.
  returned: when the instance was converged to a spec
  type: dict
  contains:
    action:
      description: C(create), C(upgrade), C(move) (to another listen address) or C(none).
      type: str
    reasons:
      description: What differed (C(absent), C(spec), C(migrations), C(lock), C(listen address)).
      type: list
      elements: str
    from:
      description: The release current before.
      type: str
    release:
      description: The release current after.
      type: str
    packages:
      description: Packages C(added), C(removed) and C(changed), each a list of name, from and to versions.
      type: dict
    migrations:
      description: The migration files the new release applied (or would apply).
      type: list
      elements: str
    services_added:
      description: Services the new release adds.
      type: list
      elements: str
    services_removed:
      description: Services the new release drops.
      type: list
      elements: str
  sample:
    action: upgrade
    reasons: [spec, lock]
    from: r3
    release: r4
    packages: {"changed": [{"name": "django", "from": "4.2.10", "to": "4.2.11"}]}
    migrations: [0007_add_index.sql]
services:
  description: The state of each component (C(deploykit status --json)), for C(started), C(stopped) and C(restarted).
  returned: with state started, stopped or restarted
  type: list
  elements: dict
deploykit_seconds:
  description: Wall time the deploykit commands of this task took on the host.
  returned: always
  type: float
  sample: 0.042
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.deploykit.fleet.plugins.module_utils.deploykit import (
    COMMON_ARGS,
    EXIT_NOT_FOUND,
    Deploykit,
)


def summary(s):
    """A release summary as diff text: the release, then name==version."""
    if not s:
        return 'absent\n'
    lines = ['release: %s' % (s.get('release') or '')]
    for name in sorted(s.get('packages') or {}):
        lines.append('%s==%s' % (name, s['packages'][name]))
    return '\n'.join(lines) + '\n'


def apply(dk, module, result):
    p = module.params
    args = ['apply', p['name'], '--spec', p['spec']]
    if module.check_mode:
        args.append('--dry-run')
    rc, data, err = dk.json(*args)
    if rc != 0:
        extra = {}
        if data:
            extra['plan'] = data.get('plan')
        dk.fail('apply', rc, err, **extra)
    result.update(
        changed=bool(data['changed']),
        release=data.get('release') or '',
        ports=data.get('ports') or {},
        listen_address=data.get('listen_address'),
        plan=data.get('plan'),
    )
    plan = data.get('plan') or {}
    if module._diff:  # pylint: disable=protected-access
        before = plan.get('before')
        after = plan.get('after') or before
        if plan.get('action') == 'create':
            before = None
        result['diff'] = dict(
            before_header='%s (release %s)' % (p['name'], plan.get('from') or 'none'),
            after_header='%s (release %s)' % (p['name'], plan.get('release') or 'none'),
            before=summary(before),
            after=summary(after),
        )


def status(dk, name):
    """deploykit status --json, or None for an absent instance."""
    rc, data, err = dk.json('status', name)
    if rc == EXIT_NOT_FOUND:
        return None
    if rc != 0 or data is None:
        dk.fail('status', rc, err)
    return data


def control(dk, module, result, verb):
    name = module.params['name']
    st = status(dk, name)
    if st is None:
        if module.check_mode and result.get('plan'):
            # Check mode on an absent instance with a spec: it would be
            # created, and running.
            result['changed'] = True
            return
        module.fail_json(msg='instance %s not found under %s' % (name, module.params['root']), deploykit_seconds=round(dk.seconds, 3))
    comps = st.get('services') or []
    active = [c for c in comps if c.get('state') == 'active']
    if verb == 'start':
        need = len(active) < len(comps) or not comps
    elif verb == 'stop':
        need = len(active) > 0
    else:
        need = True
    result.update(release=st.get('current') or '', ports=st.get('ports') or {}, listen_address=st.get('listen_address'))
    if need and not module.check_mode:
        rc, dummy, err = dk.run(verb, name)
        if rc != 0:
            dk.fail(verb, rc, err)
        st = status(dk, name) or st
    result['services'] = st.get('services') or []
    result['changed'] = result['changed'] or need


def absent(dk, module, result):
    name = module.params['name']
    st = status(dk, name)
    if st is None:
        return
    result['changed'] = True
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = dict(before='release: %s\n' % st.get('current'), after='absent\n')
    if module.check_mode:
        return
    args = ['remove', name, '--yes']
    if module.params['delete_backups']:
        args.append('--delete-backups')
    rc, dummy, err = dk.run(*args)
    if rc != 0:
        dk.fail('remove', rc, err)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        spec=dict(type='path'),
        state=dict(type='str', default='present', choices=['present', 'absent', 'started', 'stopped', 'restarted']),
        delete_backups=dict(type='bool', default=False),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[('state', 'present', ['spec'])],
    )
    dk = Deploykit(module)
    p = module.params
    result = dict(changed=False, instance=p['name'], release='', ports={})
    if p['state'] == 'absent':
        absent(dk, module, result)
    else:
        if p['spec']:
            apply(dk, module, result)
        if p['state'] != 'present':
            control(dk, module, result, {'started': 'start', 'stopped': 'stop', 'restarted': 'restart'}[p['state']])
    result['deploykit_seconds'] = round(dk.seconds, 3)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
