"""Checks the deploykit.fleet modules as ansible-test's validate-modules
does, offline: each module's documentation (with its doc fragments, as
ansible-doc renders it) and its argument spec agree option by option
(name, type, elements, default, choices, required), secrets are no_log,
check-mode support is what the documentation says, options named by
required_if exist, and every example uses documented options only.

Usage: python3 argspec.py COLLECTIONS_PATH MODULE... (prints what is wrong,
exits 1 if anything is).
"""

import importlib
import json
import os
import subprocess
import sys

import yaml

import ansible.module_utils.basic as basic

SECRET_WORDS = ('password', 'passwd', 'secret', 'token', 'url', 'key')


class Captured(Exception):
    pass


def argspec(name):
    """Runs the module's main() up to AnsibleModule() and captures what it
    was given."""
    captured = {}

    def fake_init(_self, argument_spec, **kwargs):
        captured['spec'] = argument_spec
        captured['kwargs'] = kwargs
        raise Captured()

    basic.AnsibleModule.__init__ = fake_init
    mod = importlib.import_module('ansible_collections.deploykit.fleet.plugins.modules.' + name)
    try:
        mod.main()
    except Captured:
        pass
    return captured['spec'], captured['kwargs']


def docs(path, fqcn):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=path)
    out = subprocess.check_output(['ansible-doc', '--json', fqcn], env=env)
    return json.loads(out)[fqcn]


def check(path, name):
    errors = []
    fqcn = 'deploykit.fleet.' + name
    d = docs(path, fqcn)
    doc = d['doc']
    spec, kwargs = argspec(name)
    opts = doc.get('options') or {}
    for o in sorted(set(opts) | set(spec)):
        if o not in spec:
            errors.append('%s: option %s is documented but not in the argument spec' % (fqcn, o))
            continue
        if o not in opts:
            errors.append('%s: option %s is in the argument spec but not documented' % (fqcn, o))
            continue
        a, b = spec[o], opts[o]
        if not b.get('description'):
            errors.append('%s: option %s has no description' % (fqcn, o))
        for key, dflt in (('type', 'str'), ('elements', None), ('default', None), ('choices', None), ('required', False)):
            x, y = a.get(key, dflt), b.get(key, dflt)
            if x != y:
                errors.append('%s: option %s: %s is %r in the argument spec, %r in the documentation' % (fqcn, o, key, x, y))
        if any(w in o for w in SECRET_WORDS) and a.get('type', 'str') == 'str' and 'no_log' not in a:
            errors.append('%s: option %s may hold a secret: set no_log' % (fqcn, o))
    for cond in kwargs.get('required_if') or []:
        for o in [cond[0]] + list(cond[2]):
            if o not in spec:
                errors.append('%s: required_if names unknown option %s' % (fqcn, o))
    check_mode = ((doc.get('attributes') or {}).get('check_mode') or {}).get('support', 'none')
    if bool(kwargs.get('supports_check_mode')) != (check_mode != 'none'):
        errors.append('%s: supports_check_mode=%s but the documentation says check_mode support %s' % (fqcn, kwargs.get('supports_check_mode'), check_mode))
    for key in ('short_description', 'description', 'author', 'version_added'):
        if not doc.get(key):
            errors.append('%s: documentation has no %s' % (fqcn, key))
    if not d.get('return'):
        errors.append('%s: no RETURN documentation' % fqcn)
    examples = yaml.safe_load(d.get('examples') or '') or []
    if not examples:
        errors.append('%s: no EXAMPLES' % fqcn)
    for task in examples:
        args = task.get(fqcn)
        if args is None:
            continue
        for o in args or {}:
            if o not in spec:
                errors.append('%s: example %r uses undocumented option %s' % (fqcn, task.get('name'), o))
    with open(sys.modules['ansible_collections.deploykit.fleet.plugins.modules.' + name].__file__, encoding="utf-8") as f:
        src = f.read()
    for boiler in ('from __future__ import absolute_import, division, print_function', '__metaclass__ = type'):
        if boiler not in src:
            errors.append('%s: missing boilerplate %r' % (fqcn, boiler))
    if not src.startswith('#!/usr/bin/python'):
        errors.append('%s: the shebang must be #!/usr/bin/python' % fqcn)
    return errors


def main():
    path = sys.argv[1]
    sys.path.insert(0, path)
    errors = []
    for name in sys.argv[2:]:
        errors += check(path, name)
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print('ok: %d modules' % len(sys.argv[2:]))


if __name__ == '__main__':
    main()
