"""The setup scripts fail loudly: no missing system package may turn into skipped tests later."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bin_without_apt(tmp_path: Path) -> Path:
    """A PATH holding the tools the script needs, but no apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "grep", "awk", "dpkg-query", "id", "dirname"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def test_install_apt_fails_when_it_cannot_install(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("# a package no system has\ncoursebot-no-such-package-xyz\n")
    env = {**os.environ, "PATH": str(_bin_without_apt(tmp_path))}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "install-apt.sh"), str(listing)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "cannot install" in r.stderr and "coursebot-no-such-package-xyz" in r.stderr


def test_install_apt_is_quiet_when_everything_is_there(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("bash\n")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "install-apt.sh"), str(listing)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == ""


def test_ci_entry_point_sets_ci_and_runs_make_test():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if not ln.startswith("#")]
    assert "export CI=true" in lines and lines.index("export CI=true") < lines.index("make test")


def test_require_engine_skips_locally_and_fails_under_ci(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("from conftest import require_engine\n\n"
                     "def test_engine():\n    require_engine('an-engine-nobody-has', False)\n")
    base = [os.sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
            "-c", os.devnull, str(probe)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    local = subprocess.run(base, env={**env, "CI": ""}, capture_output=True, text=True, timeout=120)
    ci = subprocess.run(base, env={**env, "CI": "true"}, capture_output=True, text=True, timeout=120)
    assert local.returncode == 0 and "1 skipped" in local.stdout
    assert ci.returncode != 0 and "1 failed" in ci.stdout and "under CI a missing engine fails" in ci.stdout
