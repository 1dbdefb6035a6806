# -*- coding: utf-8 -*-
# Copyright: deploykit authors
# Apache License 2.0 (see LICENSE in the deploykit repository)
"""A stdout callback for the fleet tests: the whole run as one JSON
document, each task's result per host and the recap's stats, as the json
callback of ansible.posix prints it (that collection is not part of
ansible-core)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: results_json
type: stdout
short_description: the run as one JSON document (deploykit's tests)
description:
  - Prints, at the end, every task's result per host and the stats.
'''

import json
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'results_json'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def _task(self, task):
        tasks = self.plays[-1]['tasks']
        if not tasks or tasks[-1]['task']['id'] != str(task._uuid):  # pylint: disable=protected-access
            tasks.append({'task': {'name': task.get_name(), 'id': str(task._uuid), 'start': time.time()}, 'hosts': {}})  # pylint: disable=protected-access
        return tasks[-1]

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def _record(self, result, **extra):
        res = dict(result._result)  # pylint: disable=protected-access
        res.update(extra)
        task = self._task(result._task)  # pylint: disable=protected-access
        # Seconds from the task's start to this host's result.
        res['_seconds'] = round(time.time() - task['task']['start'], 3)
        task['hosts'][result._host.get_name()] = res  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        out = {'plays': self.plays, 'stats': {}}
        for h in sorted(stats.processed.keys()):
            out['stats'][h] = stats.summarize(h)
        self._display.display(json.dumps(out, default=str, sort_keys=True))
