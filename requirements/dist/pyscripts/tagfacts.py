# Prints, as one JSON object, the facts about this interpreter that wheel
# tag computation needs (the inputs of packaging.tags.sys_tags).
# Runs unchanged on CPython 3.6 to 3.13 and PyPy; standard library only.
import json
import os
import platform
import re
import struct
import subprocess
import sys
import sysconfig


def elf_header(path):
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return None
            cls, data = ident[4], ident[5]
            end = "<" if data == 1 else ">"
            if cls == 1:
                fmt, size = end + "HHIIIIIHHH", 30
            elif cls == 2:
                fmt, size = end + "HHIQQQIHHH", 42
            else:
                return None
            (_, machine, _, _, phoff, _, flags, _, phentsize, phnum) = struct.unpack(fmt, f.read(size))
            interp = None
            for i in range(phnum):
                f.seek(phoff + i * phentsize)
                ph = f.read(phentsize)
                if cls == 1:
                    p_type, p_offset, _, _, p_filesz = struct.unpack(end + "IIIII", ph[:20])
                else:
                    p_type, _, p_offset, _, _, p_filesz = struct.unpack(end + "IIQQQQ", ph[:40])
                if p_type == 3:  # PT_INTERP
                    f.seek(p_offset)
                    interp = f.read(p_filesz).strip(b"\0").decode("ascii", "replace")
            return {"class": cls, "data": data, "machine": machine, "flags": flags, "interpreter": interp}
    except (OSError, ValueError, struct.error):
        return None


def musl_version(elf):
    ld = elf and elf.get("interpreter")
    if not ld or "musl" not in ld:
        return ""
    try:
        proc = subprocess.Popen([ld], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate()
    except OSError:
        return ""
    lines = [n for n in (n.strip() for n in err.decode("utf-8", "replace").splitlines()) if n]
    if len(lines) < 2 or lines[0][:4] != "musl":
        return ""
    m = re.match(r"Version (\d+)\.(\d+)", lines[1])
    return "%s.%s" % (m.group(1), m.group(2)) if m else ""


def glibc_version():
    try:
        s = os.confstr("CS_GNU_LIBC_VERSION")
        if s:
            return s.rsplit()[1]
    except (AttributeError, OSError, ValueError, IndexError):
        pass
    try:
        import ctypes
        f = ctypes.CDLL(None).gnu_get_libc_version
        f.restype = ctypes.c_char_p
        v = f()
        return v.decode("ascii") if isinstance(v, bytes) else v
    except Exception:
        return ""


def manylinux_overrides(glibc):
    # The _manylinux module (PEP 600) may veto manylinux versions.
    try:
        import _manylinux
    except ImportError:
        return []
    m = re.match(r"(\d+)\.(\d+)", glibc or "")
    if not m:
        return []
    major, minor = int(m.group(1)), int(m.group(2))
    plat = sysconfig.get_platform().replace(".", "_").replace("-", "_").replace(" ", "_")
    arch = plat.split("_", 1)[-1]
    archs = {"armv8l": ["armv8l", "armv7l"]}.get(arch, [arch, "i686", "armv7l"])
    vetoed = []
    for a in archs:
        for mj in range(major, 1, -1):
            for mn in range(minor if mj == major else 50, -1, -1):
                ok = None
                if hasattr(_manylinux, "manylinux_compatible"):
                    ok = _manylinux.manylinux_compatible(mj, mn, a)
                elif (mj, mn) == (2, 5) and hasattr(_manylinux, "manylinux1_compatible"):
                    ok = bool(_manylinux.manylinux1_compatible)
                elif (mj, mn) == (2, 12) and hasattr(_manylinux, "manylinux2010_compatible"):
                    ok = bool(_manylinux.manylinux2010_compatible)
                elif (mj, mn) == (2, 17) and hasattr(_manylinux, "manylinux2014_compatible"):
                    ok = bool(_manylinux.manylinux2014_compatible)
                if ok is not None and not ok:
                    vetoed.append("%d_%d_%s" % (mj, mn, a))
    return vetoed


def opt_bool(v):
    return None if v is None else bool(v)


try:
    from importlib.machinery import EXTENSION_SUFFIXES
except ImportError:
    EXTENSION_SUFFIXES = []
elf = elf_header(sys.executable)
glibc = glibc_version()
mac_version, _, mac_arch = platform.mac_ver()
facts = {
    "implementation": sys.implementation.name,
    "version_major": sys.version_info[0],
    "version_minor": sys.version_info[1],
    "py_version_nodot": str(sysconfig.get_config_var("py_version_nodot") or ""),
    "platform": sysconfig.get_platform(),
    "system": platform.system(),
    "is_32bit": sys.maxsize <= 2 ** 32,
    "py_debug": opt_bool(sysconfig.get_config_var("Py_DEBUG")),
    "has_refcount": hasattr(sys, "gettotalrefcount"),
    "debug_extension": "_d.pyd" in EXTENSION_SUFFIXES,
    "with_pymalloc": opt_bool(sysconfig.get_config_var("WITH_PYMALLOC")),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "ext_suffix": str(sysconfig.get_config_var("EXT_SUFFIX") or ""),
    "soabi": str(sysconfig.get_config_var("SOABI") or ""),
    "glibc": glibc or "",
    "musl": musl_version(elf),
    "elf": elf,
    "manylinux_vetoed": manylinux_overrides(glibc),
    "mac_version": mac_version,
    "mac_arch": mac_arch,
}
sys.stdout.write(json.dumps(facts, sort_keys=True))
