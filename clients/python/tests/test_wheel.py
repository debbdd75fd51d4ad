"""The distribution as a user gets it: a wheel built with `uv build`, installed into an empty
virtualenv, imports with httpx alone and pulls in no Django."""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
UV = shutil.which("uv")

pytestmark = pytest.mark.skipif(UV is None, reason="needs uv on PATH")


def run(*args: str, cwd: Path | None = None) -> str:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
    }
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, PACKAGE)
    [built] = out.glob("reviewqueue_client-*-py3-none-any.whl")
    return built


def test_the_wheel_holds_the_typed_package_and_needs_only_httpx(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(metadata).decode())
    assert "reviewqueue_client/py.typed" in names
    assert "reviewqueue_client/openai_agents/__init__.py" in names
    assert "reviewqueue_client/langgraph/__init__.py" in names
    assert not [n for n in names if n.startswith(("reviewqueue/", "tests/"))]
    requires = meta.get_all("Requires-Dist") or []
    assert [r for r in requires if "extra ==" not in r] == ["httpx>=0.27"]
    assert set(meta.get_all("Provides-Extra") or []) == {"langgraph", "openai-agents"}


def test_a_fresh_virtualenv_imports_it_without_django(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", python, wheel)
    out = run(
        python,
        "-c",
        "import sys, reviewqueue_client; assert 'django' not in sys.modules; "
        "print(reviewqueue_client.__version__)",
        cwd=tmp_path,  # not the repository: nothing of it on sys.path
    )
    version = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["version"]
    assert out.strip() == version
