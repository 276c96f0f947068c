"""The wheel's metadata says which Pythons, systems and license it is for."""

from __future__ import annotations

import zipfile
from email.parser import Parser

from packaging_support import Dists


def test_wheel_metadata(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(whl.read(name).decode())
        names = whl.namelist()
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier")
    for minor in range(9, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Topic :: System :: Systems Administration" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert "credential_process" in meta["Keywords"]
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "credhelper/service_files/credhelper.service" in names
