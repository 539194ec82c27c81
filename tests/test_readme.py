"""The docs stay true: every command and the Python example in README.md run as shown."""
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands():
    """``sx-model ...`` and ``python -m sx_model ...`` lines of the bash blocks (continuations joined,
    comments dropped); the set-up lines (venv, pip) are what CI runs and are left out here."""
    out = []
    for block in _blocks("bash"):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("sx-model ") or line.startswith("python -m sx_model"):
                out.append(line)
    return out


COMMANDS = _commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 10
    assert any(c.startswith("sx-model run") for c in COMMANDS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "configs", work / "configs")
    return work


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(workdir, command):
    words = shlex.split(command)
    words = words[3:] if words[:3] == ["python", "-m", "sx_model"] else words[1:]
    if "--out" in words or "--write" in words or "--plot" in words:
        words.append("--force")          # the commands are run in order, some write the same files
    done = subprocess.run([sys.executable, "-m", "sx_model", *words], cwd=workdir, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_readme_python_example_runs(workdir):
    code = "\n".join(_blocks("python"))
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
