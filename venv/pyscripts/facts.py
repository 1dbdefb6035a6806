# deploykit interpreter inspection: prints one JSON object describing the
# running interpreter. Must stay valid Python 3.6 (no walrus, no 3.7+ APIs
# without a guard). Run with -I so the user's environment does not leak in.
import json
import os
import platform
import struct
import sys
import sysconfig

try:
    import importlib.util

    magic = importlib.util.MAGIC_NUMBER.hex()
except Exception:
    magic = ""


def venv_paths():
    # The paths a virtual environment created from this interpreter uses,
    # relative to the venv root: the "venv" scheme (3.11+), else
    # posix_prefix, with every base variable set to a placeholder.
    names = sysconfig.get_scheme_names()
    scheme = "venv" if "venv" in names else "posix_prefix"
    if os.name == "nt":
        scheme = "nt_venv" if "nt_venv" in names else "nt"
    ph = "/@@VENV@@"
    v = {"base": ph, "platbase": ph, "installed_base": ph, "installed_platbase": ph, "userbase": ph}
    out = {}
    for k, p in sysconfig.get_paths(scheme, vars=v).items():
        if p.startswith(ph):
            out[k] = p[len(ph) + 1:]
    return out


impl = sys.implementation
iv = impl.version
impl_version = "%d.%d.%d" % (iv.major, iv.minor, iv.micro)
if iv.releaselevel != "final":
    impl_version += iv.releaselevel[0] + str(iv.serial)

libc = ""
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (AttributeError, OSError, ValueError):
    pass

cv = sysconfig.get_config_var
facts = {
    "executable": sys.executable,
    "base_executable": getattr(sys, "_base_executable", sys.executable),
    "version": platform.python_version(),
    "version_info": list(sys.version_info[:3]) + [sys.version_info[3], sys.version_info[4]],
    "implementation": impl.name,
    "implementation_version": impl_version,
    "cache_tag": impl.cache_tag or "",
    "magic": magic,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "exec_prefix": sys.exec_prefix,
    "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
    "paths": sysconfig.get_paths(),
    "venv_paths": venv_paths(),
    "platform": sysconfig.get_platform(),
    "soabi": cv("SOABI") or "",
    "ext_suffix": cv("EXT_SUFFIX") or "",
    "py_debug": bool(cv("Py_DEBUG")),
    "with_pymalloc": bool(cv("WITH_PYMALLOC")),
    "gil_disabled": bool(cv("Py_GIL_DISABLED")),
    "pointer_bits": struct.calcsize("P") * 8,
    "libc": libc,
    "fs_encoding": sys.getfilesystemencoding(),
}


def run_probe(src, name):
    # Runs another probe program in this same process (one interpreter
    # start for all facts) and returns the JSON it prints.
    import io

    buf, out = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        exec(compile(src, name, "exec"), {"__name__": "__main__"})
    finally:
        sys.stdout = out
    return json.loads(buf.getvalue())


# requirements/dist's tag facts probe and requirements' marker environment
# probe are passed as the first and second arguments.
if len(sys.argv) > 1:
    facts["tag_facts"] = run_probe(sys.argv[1], "<tagfacts>")
if len(sys.argv) > 2:
    facts["markers"] = run_probe(sys.argv[2], "<markers>")
sys.stdout.write(json.dumps(facts, sort_keys=True))
