# A minimal in-tree PEP 517 build backend (standard library only) for the
# hotfix-from-a-branch test: it builds greetpkg's wheel from greetpkg.py,
# with the version read from the VERSION file.
import base64
import hashlib
import os
import zipfile

NAME = "greetpkg"


def _version():
    with open("VERSION") as f:
        return f.read().strip()


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    info = "%s-%s.dist-info" % (NAME, version)
    with open("greetpkg.py", "rb") as f:
        files = [("greetpkg.py", f.read())]
    files.append((info + "/METADATA", ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, version)).encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: dkbackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    name = "%s-%s-py3-none-any.whl" % (NAME, version)
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files:
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        record.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return name
