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
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

DATABASE = "dora"
USER = "dora"
# The Thrift server over HTTPS: its cluster name in the endpoint path, and the
# password of its throwaway keystore.
HTTP_CLUSTER = "dora"
KEYSTORE_PASSWORD = "throwaway-keystore"
# Hive classes the Thrift server loads when it closes some sessions; pyspark 4.3
# lacks this jar, so scripts/fetch-test-jars takes it from pyspark 3.5.5's sources.
HIVE_LLAP_JAR = (
    Path(__file__).resolve().parent.parent / ".cache/test-jars/hive-llap-common-2.3.9.jar"
)


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


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Return once ``port`` accepts connections; raise if the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark Thrift server exited:\n{log.read_text()[-4000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise RuntimeError(
        f"the Spark Thrift server did not listen on port {port} within {timeout:.0f} s:\n"
        f"{log.read_text()[-4000:]}"
    )


def _self_signed_keystore(folder: Path) -> tuple[Path, Path]:
    """Write a PKCS12 keystore with a certificate for 127.0.0.1; return it and the PEM file."""
    keystore, certificate = folder / "server.p12", folder / "server.pem"
    common = ["-alias", "dora", "-keystore", str(keystore), "-storepass", KEYSTORE_PASSWORD]
    for command in (
        ["keytool", "-genkeypair", *common, "-keyalg", "RSA", "-keysize", "2048",
         "-validity", "2", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1",
         "-storetype", "PKCS12", "-keypass", KEYSTORE_PASSWORD],
        ["keytool", "-exportcert", *common, "-rfc", "-file", str(certificate)],
    ):  # fmt: skip
        subprocess.run(command, capture_output=True, check=True)
    return keystore, certificate


@contextmanager
def spark_thrift_server(http: bool = False) -> Iterator[dict[str, str]]:
    """Start a Spark Thrift server from pyspark's jars on 127.0.0.1.

    Yields the DORA_SPARK_* settings of the ``spark_thrift`` target, or with
    ``http`` those of ``spark_http``: HTTPS with a self-signed certificate,
    which ``SSL_CERT_FILE`` makes Python trust. The server checks no password
    or token (authentication NONE), as a development server does. Its
    warehouse and metastore live in a temporary folder, which also contains the
    staging folder of the table copies.
    """
    if not HIVE_LLAP_JAR.exists():
        raise RuntimeError(
            f"{HIVE_LLAP_JAR} is missing, and without it the Spark Thrift server fails to "
            "close some sessions: run `bash scripts/fetch-test-jars` (scripts/test runs it)"
        )
    folder = Path(tempfile.mkdtemp(prefix="dora-spark-thrift-"))
    port = free_port()
    spark_home = _spark_home()
    log = folder / "server.log"
    settings = {
        "DORA_SPARK_HOST": "127.0.0.1",
        "DORA_SPARK_PORT": str(port),
        "DORA_SPARK_SCHEMA": "dora",
        "DORA_SPARK_STAGING_DIR": str(folder / "staging"),
    }
    if http:
        keystore, certificate = _self_signed_keystore(folder)
        transport = [
            "--hiveconf", "hive.server2.transport.mode=http",
            "--hiveconf", f"hive.server2.thrift.http.port={port}",
            "--hiveconf", f"hive.server2.thrift.http.path=sql/protocolv1/o/0/{HTTP_CLUSTER}",
            "--hiveconf", "hive.server2.use.SSL=true",
            "--hiveconf", f"hive.server2.keystore.path={keystore}",
            "--hiveconf", f"hive.server2.keystore.password={KEYSTORE_PASSWORD}",
        ]  # fmt: skip
        settings |= {
            "DORA_SPARK_TOKEN": "token-of-the-test-server",
            "DORA_SPARK_CLUSTER": HTTP_CLUSTER,
            "SSL_CERT_FILE": str(certificate),
        }
    else:
        transport = ["--hiveconf", f"hive.server2.thrift.port={port}"]
        settings |= {"DORA_SPARK_USER": "dora", "DORA_SPARK_AUTH": "NONE"}
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--master", "local[2]",
        "--name", "dora-thrift",
        "--driver-class-path", str(HIVE_LLAP_JAR),
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", f"spark.sql.warehouse.dir={folder}/warehouse",
        "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={folder}",
        "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        *transport,
        "spark-internal",
    ]  # fmt: skip
    environment = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(port, process, log, timeout=300)
        (folder / "staging").mkdir()
        yield settings
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
