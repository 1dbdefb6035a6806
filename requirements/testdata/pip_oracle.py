"""Differential-test oracle: parse requirements files with pip's own code.

Usage: python pip_oracle.py DIR FILE...   (run with DIR as the working
directory). For each FILE, pip's parse_requirements (with a real
PackageFinder, so index/format options take effect) and
install_req_from_parsed_requirement interpret the file; the result is
printed as one JSON object keyed by FILE, normalized to deploykit's
requirements.File shape.
"""
import json
import os
import re
import sys
from optparse import Values

from pip._internal.index.collector import LinkCollector
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.format_control import FormatControl
from pip._internal.models.search_scope import SearchScope
from pip._internal.models.selection_prefs import SelectionPreferences
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import parse_requirements
from pip._internal.vcs import vcs
from pip._vendor.packaging.utils import canonicalize_name

COMES_FROM = re.compile(r"^-[rc] (.*) \(line (\d+)\)$")


def parse(name):
    session = PipSession()
    trusted = []
    orig = session.add_trusted_host

    def add_trusted_host(host, source=None, suppress_logging=False):
        trusted.append(host)
        return orig(host, source=source, suppress_logging=suppress_logging)

    session.add_trusted_host = add_trusted_host
    collector = LinkCollector(
        session=session,
        search_scope=SearchScope(find_links=[], index_urls=[], no_index=False),
    )
    finder = PackageFinder.create(
        link_collector=collector,
        selection_prefs=SelectionPreferences(
            allow_yanked=True, format_control=FormatControl(set(), set())
        ),
    )
    options = Values({"require_hashes": False, "features_enabled": []})
    entries = []
    for pr in parse_requirements(name, session, finder=finder, options=options):
        ireq = install_req_from_parsed_requirement(pr)
        m = COMES_FROM.match(pr.comes_from)
        hashes = sorted(
            "%s:%s" % (algo, d)
            for algo, ds in (ireq.hash_options or {}).items()
            for d in ds
        )
        e = {
            "requirement": pr.requirement,
            "name": canonicalize_name(ireq.req.name) if ireq.req else "",
            "extras": sorted({canonicalize_name(x) for x in ireq.extras}),
            "specifier": str(ireq.req.specifier) if ireq.req else "",
            "marker": str(ireq.markers) if ireq.markers else "",
            "url": ireq.link.url if ireq.link else "",
            "editable": bool(ireq.editable),
            "constraint": bool(ireq.constraint),
            "hashes": hashes,
            "file": m.group(1),
            "line": int(m.group(2)),
        }
        if ireq.link and ireq.link.is_vcs:
            backend = vcs.get_backend_for_scheme(ireq.link.scheme)
            _, rev, _ = backend.get_url_rev_and_auth(ireq.link.url_without_fragment)
            e["vcs"] = backend.name
            e["revision"] = rev or ""
            e["subdirectory"] = ireq.link.subdirectory_fragment or ""
        if ireq.global_options:
            e["global_options"] = list(ireq.global_options)
        if pr.options and pr.options.get("config_settings"):
            cs = pr.options["config_settings"]
            e["config_settings"] = {
                k: (v if isinstance(v, list) else [v]) for k, v in cs.items()
            }
        entries.append(e)
    return {
        "entries": entries,
        "index_urls": list(finder.index_urls),
        "find_links": list(finder.find_links),
        "no_index": finder.search_scope.no_index,
        "pre": finder.allow_all_prereleases,
        "trusted_hosts": trusted,
        "no_binary": sorted(finder.format_control.no_binary),
        "only_binary": sorted(finder.format_control.only_binary),
        "prefer_binary": finder.prefer_binary,
        "require_hashes": bool(options.require_hashes),
    }


def main():
    os.chdir(sys.argv[1])
    out = {}
    for name in sys.argv[2:]:
        try:
            out[name] = parse(name)
        except BaseException as exc:  # noqa: BLE001 - report every failure
            if isinstance(exc, KeyboardInterrupt):
                raise
            out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
