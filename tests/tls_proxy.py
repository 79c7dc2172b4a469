"""A TLS-terminating proxy and throwaway certificates, for tests that run Temporal over TLS.

The Temporal dev server (`temporal server start-dev`) speaks plain gRPC only. To test a client
over TLS and mTLS, a test puts this proxy in front of it:

    client --TLS (ALPN h2, optional client certificate)--> TlsProxy --plain TCP--> dev server

The proxy does not understand HTTP/2: it finishes the TLS handshake with Python's `ssl` module,
then copies bytes both ways. Two details matter to a gRPC client (Rust's tonic/rustls in the
Temporal SDK, Go's grpc in the `temporal` CLI):

- ALPN: the proxy must select `h2`. Without it tonic refuses the connection ("HTTP/2 was not
  negotiated") and Go's grpc refuses it too (it requires ALPN since grpc-go 1.67).
- The server certificate must name the address the client dials in its subjectAltName
  (rustls ignores the common name): `make_certificates` puts in IP 127.0.0.1, IP ::1 and DNS
  localhost.

The certificates come from the `cryptography` package (a PyPI wheel, no system package): it is
typed, needs no subprocess and gives exact control over the X.509 extensions that rustls
checks (basic constraints, key usage, extended key usage, subjectAltName).

The proxy runs its own asyncio loop in a daemon thread, so it keeps serving while a test blocks
(in `subprocess.run`, a sync Flask client, `time.sleep`) and works from sync and async tests
alike. `stop()` (or leaving the `with` block) closes the listening socket and every connection
and joins the thread: nothing is left behind.

    certs = make_certificates(tmp_path / "certs")
    with TlsProxy(("127.0.0.1", dev_server_port), certs, require_client_cert=True) as proxy:
        env = clean_env(tmp_path) | tls_env(proxy, certs, client_cert=True)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# ---------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------

#: The names the server certificate is valid for: whatever a test dials on this machine.
DEFAULT_SERVER_HOSTS: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files made by `make_certificates`; keys are unencrypted PKCS#8."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: accepted by rustls, Go and OpenSSL, and generated in about a millisecond
    # (an RSA key takes tens of milliseconds).
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "booking-saga tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_alt_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _certificate(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: _Issuer,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    valid_for: datetime.timedelta,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A minute in the past, so a clock a little behind still accepts the certificate.
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer.key, hashes.SHA256())


def _write_pem(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def make_certificates(
    directory: Path,
    *,
    server_hosts: Sequence[str] = DEFAULT_SERVER_HOSTS,
    ca_name: str = "booking-saga test CA",
    valid_for: datetime.timedelta = datetime.timedelta(days=1),
) -> CertificateFiles:
    """Make a CA, a server certificate for `server_hosts` and a client certificate, both signed
    by the CA, as PEM files in `directory` (created if needed).

    For a "wrong CA" test, make a second set in another directory and give its `ca_cert` to
    the client: it is a different CA with the same name, so only the signature tells them apart.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    ca = _Issuer(_name(ca_name), ca_key)
    ca_cert = _certificate(
        ca.name,
        ca_key.public_key(),
        ca,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(cert_sign=True), True),
        ],
        valid_for,
    )

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier, extra: x509.ExtensionType | None
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _new_key()
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(cert_sign=False), True),
            (x509.ExtendedKeyUsage([usage]), False),
        ]
        if extra is not None:
            extensions.append((extra, False))
        return _certificate(_name(common_name), key.public_key(), ca, extensions, valid_for), key

    server_cert, server_key = leaf(
        "booking-saga test server",
        ExtendedKeyUsageOID.SERVER_AUTH,
        _subject_alt_names(server_hosts),
    )
    client_cert, client_key = leaf(
        "booking-saga test client", ExtendedKeyUsageOID.CLIENT_AUTH, None
    )

    files = CertificateFiles(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
    )
    _write_pem(files.ca_cert, ca_cert)
    _write_pem(files.server_cert, server_cert)
    _write_key(files.server_key, server_key)
    _write_pem(files.client_cert, client_cert)
    _write_key(files.client_key, client_key)
    return files


def clean_env(directory: Path) -> dict[str, str]:
    """This process's environment less any Temporal setting, and no temporal.toml profile
    (`directory` is where the missing profile would be)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TEMPORAL_")}
    env["TEMPORAL_CONFIG_FILE"] = str(directory / "no-temporal.toml")
    return env


def tls_env(
    proxy: TlsProxy, certificates: CertificateFiles, *, client_cert: bool = False
) -> dict[str, str]:
    """Temporal's environment settings for TLS to `proxy`, trusting `certificates`' CA; with
    `client_cert`, also its client certificate and key (mTLS)."""
    env = {
        "TEMPORAL_ADDRESS": proxy.address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certificates.ca_cert),
    }
    if client_cert:
        env["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(certificates.client_cert)
        env["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(certificates.client_key)
    return env


# ---------------------------------------------------------------------------------------------
# Proxy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handshake:
    """One incoming connection's TLS handshake, as the proxy saw it."""

    peer: str
    #: The ALPN protocol selected ("h2"), or None if the client offered none we accept.
    alpn: str | None = None
    #: The client certificate's subject (RFC 4514), or None if the client sent none.
    client_subject: str | None = None
    #: Why the handshake failed ("TLSV1_ALERT_UNKNOWN_CA", ...), or None if it succeeded.
    error: str | None = None


@dataclass
class _Records:
    lock: threading.Lock = field(default_factory=threading.Lock)
    handshakes: list[Handshake] = field(default_factory=list)

    def add(self, handshake: Handshake) -> None:
        with self.lock:
            self.handshakes.append(handshake)


class TlsProxy:
    """Terminates TLS on 127.0.0.1:<free port> and forwards the bytes to `upstream` (plain TCP).

    `require_client_cert` makes it ask for a client certificate signed by the CA and refuse
    the handshake without one (mTLS). `alpn_protocols=()` leaves ALPN out, to show what a
    gRPC client does then. Use it as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        certificates: CertificateFiles,
        *,
        require_client_cert: bool = False,
        alpn_protocols: Sequence[str] = ("h2",),
        host: str = "127.0.0.1",
        port: int = 0,
        handshake_timeout: float = 5.0,
    ) -> None:
        self.upstream = upstream
        self.require_client_cert = require_client_cert
        self._context = self._server_context(certificates, require_client_cert, alpn_protocols)
        self._handshake_timeout = handshake_timeout
        self._records = _Records()
        # Bind now, in the caller's thread: the port is known (and taken) before start()
        # returns, and a bind error surfaces here rather than in the proxy's thread.
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None

    @staticmethod
    def _server_context(
        certificates: CertificateFiles, require_client_cert: bool, alpn: Sequence[str]
    ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificates.server_cert, certificates.server_key)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=certificates.ca_cert)
        return context

    @property
    def address(self) -> str:
        """`host:port` to put in TEMPORAL_ADDRESS."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def handshakes(self) -> list[Handshake]:
        """Every handshake so far, oldest first (a copy)."""
        with self._records.lock:
            return list(self._records.handshakes)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TlsProxy:
        if self._thread is not None:
            raise RuntimeError("TlsProxy already started")
        self._thread = threading.Thread(
            target=self._run, name=f"tls-proxy-{self.port}", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise RuntimeError("TlsProxy failed to start") from self._startup_error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection, end the thread. Safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            self._listener.close()  # never started: just release the port
            return
        if loop is not None and stopping is not None and thread.is_alive():
            # The loop may close between the check and the call; then there is nothing to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"TlsProxy thread did not stop within {timeout} s")
        self._listener.close()

    def __enter__(self) -> TlsProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the proxy's thread ------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to start() if it happened during startup
            self._startup_error = error
        finally:
            self._ready.set()
            # Let cancelled connection tasks finish their cleanup, then close the loop.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        connections: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await self._handle(reader, writer)
            except asyncio.CancelledError:
                # stop() cancels open connections. Python 3.11's start_server callback calls
                # task.exception() on a cancelled task and logs a traceback: end normally.
                pass
            finally:
                connections.discard(task)

        # The TLS handshake is done in `_handle` (see `_TlsSession`), not by
        # start_server(ssl=...): a failed handshake is recorded, and its alert reaches the client.
        server = await asyncio.start_server(on_connect, sock=self._listener)
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_address = writer.get_extra_info("peername")
        peer = f"{peer_address[0]}:{peer_address[1]}" if peer_address else "?"
        session = _TlsSession(self._context, reader, writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            try:
                await asyncio.wait_for(session.handshake(), self._handshake_timeout)
            except (TimeoutError, ssl.SSLError, OSError) as error:
                reason = getattr(error, "reason", None) or type(error).__name__
                self._records.add(Handshake(peer=peer, error=str(reason)))
                return
            certificate = session.tls.getpeercert()
            self._records.add(
                Handshake(
                    peer=peer,
                    alpn=session.tls.selected_alpn_protocol(),
                    client_subject=_rfc4514(certificate.get("subject")) if certificate else None,
                )
            )
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return  # upstream down: the client sees the connection close after TLS
            await _pump_both_ways(session, upstream_reader, upstream_writer)
        finally:
            for stream in (writer, upstream_writer):
                if stream is not None:
                    stream.close()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(stream.wait_closed(), 1.0)


class _TlsSession:
    """Server-side TLS over an asyncio stream, through memory BIOs.

    asyncio's own TLS (`start_server(ssl=...)`, `start_tls`) drops the alert OpenSSL writes
    when a handshake fails, so the client would see a bare EOF or reset. Here every byte
    OpenSSL produces is sent, the alert included: the client sees what a real TLS server
    would send it ("certificate required", "unknown CA").
    """

    def __init__(
        self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._reader = reader
        self._writer = writer

    async def _flush(self) -> None:
        # Read and write with no await between: records from both directions stay in order.
        if data := self._outgoing.read():
            self._writer.write(data)
            await self._writer.drain()

    async def _receive(self) -> None:
        if data := await self._reader.read(65536):
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                await self._receive()
            except ssl.SSLError:
                with contextlib.suppress(OSError):
                    await self._flush()  # the alert that tells the client why
                raise
            else:
                await self._flush()
                return

    async def read(self) -> bytes:
        """Decrypted bytes; b"" once the client closed (cleanly or not)."""
        while True:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                await self._flush()  # TLS 1.3 may answer a key update
                await self._receive()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            else:
                await self._flush()
                return data

    async def write(self, data: bytes) -> None:
        self.tls.write(data)
        await self._flush()


def _rfc4514(subject: object) -> str | None:
    # getpeercert()'s subject is a tuple of RDNs, each a tuple of (name, value) pairs.
    if not isinstance(subject, tuple):
        return None
    return ",".join(f"{name}={value}" for rdn in subject for name, value in rdn)


async def _pump_both_ways(
    session: _TlsSession,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes, then stop both directions."""

    async def to_upstream() -> None:
        while chunk := await session.read():
            upstream_writer.write(chunk)
            await upstream_writer.drain()

    async def to_client() -> None:
        while chunk := await upstream_reader.read(65536):
            await session.write(chunk)

    tasks = [asyncio.create_task(to_upstream()), asyncio.create_task(to_client())]
    try:
        # gRPC never half-closes a connection, so the first side to finish ends both.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        # A reset or TLS error in either direction just ends the connection.
        await asyncio.gather(*tasks, return_exceptions=True)
