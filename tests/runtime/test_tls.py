"""Temporal over TLS and mTLS, configured only through Temporal's environment variables, against
a real dev server behind a TLS-terminating proxy (tests/tls_proxy.py): the connection works,
and each misconfiguration gives one line naming the address and the setting, within 5 s."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from launcher.ports import free_port
from launcher.processes import DevServer
from run_workflow import create_app
from runtime import PROJECT_DIR
from runtime.connection import CONNECT_TIMEOUT, TemporalUnavailable, connect, connect_config
from tests.tls_proxy import (
    CertificateFiles,
    Handshake,
    TlsProxy,
    clean_env,
    make_certificates,
    tls_env,
)
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, submit

pytestmark = pytest.mark.real_server

WRONG_CA = (
    "the TLS handshake failed: the server's certificate is not signed by the CA in "
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH. Check TEMPORAL_TLS_SERVER_CA_CERT_PATH: it must be the "
    "CA that signed the server's certificate."
)
# The server refuses with an alert; whether the SDK reports that alert or only the connection
# it closed depends on the timing (about one attempt in four here), so either line may come.
NO_CLIENT_CERT = re.compile(
    r"(the TLS handshake failed: the server requires a client certificate\. Set"
    r"|it closed the connection after the TLS handshake\. If it requires a client "
    r"certificate, set) TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH\.$"
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """Another CA with the same name: only the signature tells them apart."""
    return make_certificates(tmp_path_factory.mktemp("other-certs"))


@pytest.fixture
def tls_proxy(dev_server: DevServer, certs: CertificateFiles) -> Iterator[TlsProxy]:
    with TlsProxy(("127.0.0.1", dev_server.port), certs) as proxy:
        yield proxy


@pytest.fixture
def mtls_proxy(dev_server: DevServer, certs: CertificateFiles) -> Iterator[TlsProxy]:
    with TlsProxy(("127.0.0.1", dev_server.port), certs, require_client_cert=True) as proxy:
        yield proxy


def ending_with(problem: str) -> re.Pattern[str]:
    return re.compile(re.escape(problem) + "$")


def first_handshake(proxy: TlsProxy) -> Handshake:
    """The proxy's record of the first handshake; it may note a failed one a moment after the
    client has seen the failure."""
    deadline = time.monotonic() + 2
    while not proxy.handshakes and time.monotonic() < deadline:
        time.sleep(0.01)
    return proxy.handshakes[0]


def line_for(address: str, problem: str) -> str:
    return f"Cannot reach the Temporal server at {address} (namespace default): {problem}"


async def connect_failure(env: dict[str, str], within: timedelta = CONNECT_TIMEOUT) -> str:
    """The one line `connect` raises with the settings in `env`; it must come within 5 s."""
    started = time.monotonic()
    with pytest.raises(TemporalUnavailable) as raised:
        await connect(connect_config(env), connect_timeout=within)
    assert time.monotonic() - started < 5
    line = str(raised.value)
    assert "\n" not in line
    assert "tonic" not in line
    return line


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
async def test_connect_goes_through_tls_with_environment_settings_only(
    dev_server: DevServer, certs: CertificateFiles, tmp_path: Path, mutual: bool
) -> None:
    upstream = ("127.0.0.1", dev_server.port)
    with TlsProxy(upstream, certs, require_client_cert=mutual) as proxy:
        env = clean_env(tmp_path) | tls_env(proxy, certs, client_cert=mutual)
        client = await connect(connect_config(env))
        assert (await client.count_workflows()).count >= 0
    assert proxy.handshakes
    assert all(handshake.alpn == "h2" for handshake in proxy.handshakes)
    assert all((h.client_subject is not None) == mutual for h in proxy.handshakes)


async def test_a_wrong_ca_gives_one_line_naming_the_setting(
    tls_proxy: TlsProxy, other_certs: CertificateFiles, tmp_path: Path
) -> None:
    line = await connect_failure(clean_env(tmp_path) | tls_env(tls_proxy, other_certs))

    assert line == line_for(tls_proxy.address, WRONG_CA)
    # The client refused the certificate with an alert (bad signature: decrypt error).
    assert first_handshake(tls_proxy).error is not None


async def test_a_missing_client_certificate_gives_one_line_naming_the_settings(
    mtls_proxy: TlsProxy, certs: CertificateFiles, tmp_path: Path
) -> None:
    line = await connect_failure(clean_env(tmp_path) | tls_env(mtls_proxy, certs))

    assert line.startswith(line_for(mtls_proxy.address, ""))
    assert NO_CLIENT_CERT.search(line), line
    assert first_handshake(mtls_proxy).error == "PEER_DID_NOT_RETURN_A_CERTIFICATE"


async def test_a_certificate_without_its_key_gives_one_line(
    mtls_proxy: TlsProxy, certs: CertificateFiles, tmp_path: Path
) -> None:
    env = clean_env(tmp_path) | tls_env(mtls_proxy, certs, client_cert=True)
    del env["TEMPORAL_TLS_CLIENT_KEY_PATH"]

    line = await connect_failure(env)

    assert line == line_for(
        mtls_proxy.address,
        "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together. "
        "Set both, or neither.",
    )


def test_a_certificate_file_that_is_not_there_is_named_with_its_setting(
    tls_proxy: TlsProxy, certs: CertificateFiles, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.pem"
    env = clean_env(tmp_path) | tls_env(tls_proxy, certs)
    env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = str(missing)

    with pytest.raises(TemporalUnavailable) as raised:
        connect_config(env)

    assert str(raised.value) == line_for(
        tls_proxy.address,
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH names {missing}, which is not a readable file. "
        "Check TEMPORAL_TLS_SERVER_CA_CERT_PATH.",
    )


async def test_a_listener_that_never_answers_tls_is_given_up_in_time(
    certs: CertificateFiles, tmp_path: Path
) -> None:
    # The SDK's connect_timeout alone would wait for minutes here: it bounds the TCP connect.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        env = clean_env(tmp_path) | {
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca_cert),
        }
        line = await connect_failure(env, within=timedelta(seconds=1))

    assert line.startswith(
        line_for(address, "it accepted the connection but did not answer within 1 seconds.")
    )


def test_the_form_shows_the_tls_line_on_its_page(
    tls_proxy: TlsProxy, other_certs: CertificateFiles, tmp_path: Path
) -> None:
    env = clean_env(tmp_path) | tls_env(tls_proxy, other_certs)
    config = app_config(tls_proxy.address, "tls-test")
    app = create_app({**config, "TEMPORAL_CONNECT_CONFIG": connect_config(env)})
    try:
        started = time.monotonic()
        answer = submit(app.test_client(), {**TRIP, "name": "Radia Perlman"})
        elapsed = time.monotonic() - started
    finally:
        app.extensions["temporal_gateway"].close()

    assert answer.status_code == 503
    page = answer.get_data(as_text=True).replace("&#39;", "'")
    assert line_for(tls_proxy.address, WRONG_CA) in page
    assert 'value="Radia Perlman"' in page, "the input is kept"
    assert elapsed < 5


def test_the_worker_the_form_and_the_launcher_each_say_one_line_and_stop(
    mtls_proxy: TlsProxy,
    certs: CertificateFiles,
    other_certs: CertificateFiles,
    tmp_path: Path,
) -> None:
    base = clean_env(tmp_path)
    missing = tmp_path / "missing-ca.pem"
    cases: dict[str, tuple[list[str], dict[str, str], re.Pattern[str]]] = {
        "worker": (
            ["run_worker.py", "--ledger", str(tmp_path / "ledger.sqlite3")],
            base | tls_env(mtls_proxy, other_certs, client_cert=True),
            ending_with(WRONG_CA),
        ),
        "launcher": (
            ["run_demo.py", "--only", "worker", "form", "--form-port", str(free_port())],
            base | tls_env(mtls_proxy, certs),
            NO_CLIENT_CERT,
        ),
        "form": (
            ["run_workflow.py", "--port", str(free_port())],
            base | tls_env(mtls_proxy, certs) | {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(missing)},
            ending_with(
                f"TEMPORAL_TLS_SERVER_CA_CERT_PATH names {missing}, which is not a readable "
                "file. Check TEMPORAL_TLS_SERVER_CA_CERT_PATH."
            ),
        ),
    }
    # All at once: each is a Python start-up of a second or more, and none needs the others.
    processes = {
        name: subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / script), *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, ([script, *options], env, _) in cases.items()
    }
    outputs: dict[str, str] = {}
    try:
        for name, process in processes.items():
            # A generous "does not hang" bound; the 5 s promise is timed in the tests above.
            outputs[name] = process.communicate(timeout=30)[0]
    finally:
        for process in processes.values():
            process.kill()
            process.wait()

    for name, (_, _, problem) in cases.items():
        output = outputs[name]
        assert processes[name].returncode == 1, (name, output)
        assert "Traceback" not in output, (name, output)
        said = [line for line in output.splitlines() if "Cannot reach" in line]
        assert len(said) == 1, (name, output)
        assert line_for(mtls_proxy.address, "") in said[0], (name, output)
        assert problem.search(said[0]), (name, output)
    # The worker and the form print nothing else; the launcher adds that it stopped.
    assert outputs["worker"].count("\n") == outputs["form"].count("\n") == 1
