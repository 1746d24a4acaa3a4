"""kiln's PEP 517 build backend.

pip builds the kiln binary with CMake, against the Python that runs the build (a virtual
environment's, with --no-build-isolation), and installs it as the wheel's one script: it lands
in the environment's bin/, on its PATH. kiln finds the environment from there at run time.
The wheel is tagged for that interpreter and platform: the binary embeds its libpython.
"""

import base64
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = "kiln"


def _version():
    # CMakeLists.txt's project() is the one place the version is written.
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(kiln VERSION ([0-9.]+)", text).group(1)


def _tag():
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{python}-{python}-{platform}"


def _metadata():
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {_version()}\n"
        "Summary: A preforking production app server: static files, single-page apps and "
        "WSGI apps\n"
        "License: MIT\n"
        "Requires-Python: >=3.9\n"
    )


def _wheel_file():
    return (
        "Wheel-Version: 1.0\n"
        "Generator: kiln_wheel\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {_tag()}\n"
    )


def _dist_info():
    return f"{NAME}-{_version()}.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    directory = pathlib.Path(metadata_directory) / _dist_info()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "METADATA").write_text(_metadata())
    (directory / "WHEEL").write_text(_wheel_file())
    return _dist_info()


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = pathlib.Path(tempfile.mkdtemp(prefix="kiln-wheel-"))
    try:
        subprocess.run(
            ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
             "-DKILN_BUILD_TESTS=OFF", "-DKILN_BUILD_EXAMPLES=OFF",
             f"-DPython3_EXECUTABLE={sys.executable}"],
            check=True, stdout=sys.stderr)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "kiln", "-j", str(os.cpu_count() or 2)],
            check=True, stdout=sys.stderr)
        binary = (build / "kiln").read_bytes()
    finally:
        shutil.rmtree(build, ignore_errors=True)

    files = {
        f"{NAME}-{_version()}.data/scripts/kiln": (binary, 0o755),
        f"{_dist_info()}/METADATA": (_metadata().encode(), 0o644),
        f"{_dist_info()}/WHEEL": (_wheel_file().encode(), 0o644),
        f"{_dist_info()}/LICENSE": ((ROOT / "LICENSE").read_bytes(), 0o644),
    }
    record_name = f"{_dist_info()}/RECORD"
    record = [_record_line(name, data) for name, (data, _) in files.items()]
    record.append(f"{record_name},,")
    files[record_name] = (("\n".join(record) + "\n").encode(), 0o644)

    wheel_name = f"{NAME}-{_version()}-{_tag()}.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel_name, "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return wheel_name
