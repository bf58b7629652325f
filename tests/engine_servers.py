"""A throwaway PostgreSQL server and Spark settings for the portability tests.

The PostgreSQL server runs from Debian's ``postgresql`` package in a temporary
folder, listens on 127.0.0.1 on a free port and trusts local connections.
PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` user the package creates (or ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

DATABASE = "dora"
USER = "dora"


def postgres_bin_dir() -> Path | None:
    """Return the newest installed PostgreSQL server's bin folder, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user() -> str | None:
    """Return the user to run the server as under root, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


@contextmanager
def postgres_server() -> Iterator[dict[str, str]]:
    """Start a PostgreSQL server; yield the DORA_POSTGRES_* settings that reach it."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="dora-postgres-"))
    data = folder / "data"
    port = free_port()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    prefix = ["runuser", "-u", user, "--"] if user else []

    def run(*command: str) -> None:
        completed = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=False, cwd=folder
        )
        if completed.returncode != 0:
            log = folder / "server.log"
            detail = log.read_text() if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed:\n{completed.stdout}{completed.stderr}{detail}"
            )

    run(
        str(bin_dir / "initdb"),
        "-D", str(data), "-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C",
    )  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    try:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
            str(folder / "server.log"), "-w", "start")  # fmt: skip
        con = psycopg2.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"create database {DATABASE}")
        con.close()
        yield {
            "DORA_POSTGRES_HOST": "127.0.0.1",
            "DORA_POSTGRES_PORT": str(port),
            "DORA_POSTGRES_USER": USER,
            "DORA_POSTGRES_PASSWORD": "",
            "DORA_POSTGRES_DATABASE": DATABASE,
            "DORA_POSTGRES_SCHEMA": "dora",
            "DORA_POSTGRES_SSLMODE": "disable",
        }
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
            cwd=folder,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def spark_settings() -> Iterator[dict[str, str]]:
    """Yield the DORA_SPARK_* settings of a local Spark session in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="dora-spark-"))
    try:
        yield {"DORA_SPARK_DIR": str(folder), "DORA_SPARK_MASTER": "local[2]"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
