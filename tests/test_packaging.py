"""Every data file the package reads is declared as package data, so a non-editable install has it."""
import configparser
import fnmatch

from conftest import ROOT


def test_every_data_file_is_package_data():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["sx_model"].split(",")]
    data = ROOT / "sx_model" / "data"
    for path in data.iterdir():
        if path.is_file():
            relative = f"data/{path.name}"
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
