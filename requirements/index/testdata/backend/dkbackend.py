# A small in-tree PEP 517 backend (standard library only) for the tests of
# requirements/index: it builds dk-built 0.5 (Requires-Dist: six) and fails
# when a file named FAIL is in the source tree.
import base64
import hashlib
import os
import zipfile

NAME, VERSION = "dk_built", "0.5"
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
METADATA = "Metadata-Version: 2.1\nName: dk-built\nVersion: %s\nRequires-Dist: six\n" % VERSION


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.path.exists("FAIL"):
        raise RuntimeError("kaboom: the test backend was told to fail")
    files = [
        ("dk_built/__init__.py", b"VALUE = 1\n"),
        (DIST_INFO + "/METADATA", METADATA.encode()),
        (DIST_INFO + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: dkbackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
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


build_editable = build_wheel
