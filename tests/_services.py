"""Real services for the tests that need them (a PostgreSQL server, a headless browser), found
on this machine or skipped with the reason. Under CI (``CI`` set), where ``.ci/run`` installs
them, a missing service is a failure, not a skip: those tests never go quiet there."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def unavailable(reason: str):
    """Skip with ``reason`` on a developer's machine; fail under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it in .ci/run: this test must not skip there)")
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # the server's own bin (not Debian's pg_wrapper)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server():
    """A throwaway PostgreSQL server on 127.0.0.1 (trust authentication), its data in a fresh
    folder under the system's temporary directory (pytest's own is private to root); yields
    the SQLAlchemy URL of a fresh database ``optuna``. As root it runs as the ``postgres`` user
    (initdb refuses root)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            unavailable("running PostgreSQL as root needs runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="deeprnn-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        root.chmod(0o755)
    port = _free_port()

    def run(*cmd: str):
        done = subprocess.run([*as_user, *cmd], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
        return done

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60", "start",
        "-l", str(root / "server.log"))  # fmt: skip
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "optuna")  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        try:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)
