# A complete in-tree PEP 517/660 build backend, standard library only, used
# by the tests through backend-path. It builds a real wheel of the package
# in src/ with METADATA, WHEEL and RECORD; the editable wheel holds a .pth
# pointing at src/. DEMO_FAIL / DEMO_SLEEP in the environment make it fail
# or hang, for failure tests.
import base64
import hashlib
import os
import time
import zipfile

NAME = "intree_demo"
VERSION = "1.2.3"
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
METADATA = "Metadata-Version: 2.1\nName: intree-demo\nVersion: %s\nRequires-Dist: idna>=2.5\n\nIn-tree demo.\n" % VERSION
WHEEL = "Wheel-Version: 1.0\nGenerator: inbackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _check():
    if os.path.exists("FAIL"):
        raise RuntimeError("kaboom: the demo backend was told to fail")
    if os.path.exists("SLEEP"):
        time.sleep(60)


def _write(wheel_directory, files):
    name = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files:
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        record.append(DIST_INFO + "/RECORD,,")
        z.writestr(DIST_INFO + "/RECORD", "\n".join(record) + "\n")
    return name


def _meta():
    return [(DIST_INFO + "/METADATA", METADATA.encode()), (DIST_INFO + "/WHEEL", WHEEL.encode())]


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _check()
    os.mkdir(os.path.join(metadata_directory, DIST_INFO))
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(METADATA)
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _check()
    print("demo backend: building a wheel")
    files = []
    for root, _, names in os.walk("src"):
        for n in sorted(names):
            if n.endswith(".py"):
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    files.append((os.path.relpath(p, "src").replace(os.sep, "/"), f.read()))
    return _write(wheel_directory, files + _meta())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _check()
    pth = (os.path.abspath("src") + "\n").encode()
    return _write(wheel_directory, [("__editable__.%s.pth" % NAME, pth)] + _meta())
