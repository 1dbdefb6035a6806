# Calls one PEP 517 / PEP 660 hook of a build backend, in the manner of
# pyproject_hooks' in-process runner.
#   python hook_runner.py HOOK REQUEST.json RESULT.json
# REQUEST: {"backend": "mod.sub:obj", "backend_path": [abs dirs] or null,
#           "kwargs": {...}}
# RESULT:  {"return": value} | {"missing": true} (the optional hook is not
#          defined) | {"backend_unavailable": true, "traceback": "..."} |
#          {"backend_invalid": true, "message": "..."} |
#          {"error": true, "traceback": "..."}
# Runs on Python 3.6+; the backend's own output goes to stdout/stderr.
import importlib
import json
import os
import sys
import traceback


class BackendUnavailable(Exception):
    pass


class BackendInvalid(Exception):
    pass


def load_backend(spec, backend_path):
    if backend_path:
        sys.path[:0] = backend_path
    mod_name, _, obj_path = spec.partition(":")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError:
        raise BackendUnavailable(traceback.format_exc())
    if backend_path:
        where = os.path.abspath(getattr(obj, "__file__", None) or "")
        if not any(where.startswith(os.path.join(os.path.abspath(p), "")) for p in backend_path):
            raise BackendInvalid("backend %r was loaded from %s, not from backend-path %r" % (mod_name, where, backend_path))
    if obj_path:
        for part in obj_path.split("."):
            obj = getattr(obj, part)
    return obj


def main():
    hook, request, result_file = sys.argv[1:4]
    with open(request) as f:
        req = json.load(f)
    try:
        backend = load_backend(req["backend"], req.get("backend_path"))
        fn = getattr(backend, hook, None)
        if fn is None:
            result = {"missing": True}
        else:
            result = {"return": fn(**req["kwargs"])}
    except BackendUnavailable as e:
        result = {"backend_unavailable": True, "traceback": str(e)}
    except BackendInvalid as e:
        result = {"backend_invalid": True, "message": str(e)}
    except (Exception, SystemExit):
        result = {"error": True, "traceback": traceback.format_exc()}
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_file, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
