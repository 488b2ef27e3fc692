"""The outbound transport (core.outbound) against real servers on 127.0.0.1: pooling, the server's close of an
idle connection, each failure as the httpx exception the executor judges, TLS, and no anyio on the socket path."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from foureyes.core.context import AppContext
from foureyes.core.outbound import AsyncioBackend, outbound_client
from foureyes.webhooks.delivery import new_client
from tests.conftest import base_settings
from tests.faults.servers import ScriptedServer, Step

FAST = httpx.Timeout(0.3, connect=0.3)
BODY = {"badgeMetaId": "658c", "customerId": 382477526}


async def test_sequential_calls_share_one_connection_and_arrive_intact() -> None:
    async with ScriptedServer(Step(headers={"X-CAP-REQUEST-ID": "r-1"})) as server, outbound_client(FAST) as client:
        for i in range(3):
            r = await client.post(f"{server.base_url}/earn", params={"n": str(i)}, json=BODY)
            assert r.status_code == 200
            assert r.json() == {"data": {"ok": True}, "errors": [], "warnings": []}
            assert (b"X-CAP-REQUEST-ID", b"r-1") in r.headers.raw  # the downstream's own spelling
    assert server.connections == 1
    assert [line for line, _h, _b in server.requests] == [f"POST /earn?n={i} HTTP/1.1" for i in range(3)]
    assert all(body == b'{"badgeMetaId":"658c","customerId":382477526}' for _l, _h, body in server.requests)


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    # The pool asks an idle connection whether it is readable before reusing it; here the server has closed it.
    async with ScriptedServer(Step(action="answer-close")) as server, outbound_client(FAST) as client:
        for _ in range(3):
            assert (await client.get(f"{server.base_url}/x")).status_code == 200
            await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
    assert server.connections == 3


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (Step(action="hang"), httpx.ReadTimeout),
        (Step(action="close"), httpx.RemoteProtocolError),  # dropped before an answer: the executor calls again
    ],
)
async def test_a_misbehaving_server_raises_the_httpx_exception(step: Step, error: type[Exception]) -> None:
    async with ScriptedServer(step) as server, outbound_client(FAST) as client:
        with pytest.raises(error):
            await client.post(f"{server.base_url}/earn", json=BODY)


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with ScriptedServer() as server:
        url = server.base_url
    async with outbound_client(FAST) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/x")


def _authority(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1: the server's TLS context and the certificate's file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    return server_context, cert_file


async def test_tls_to_a_trusted_server(tmp_path: Path) -> None:
    server_context, cert_file = _authority(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    async with ScriptedServer(tls=server_context) as server, outbound_client(FAST, verify=trusting) as client:
        r = await client.post(f"{server.base_url}/earn", json=BODY)
        assert r.status_code == 200
        assert r.extensions["network_stream"].get_extra_info("ssl_object") is not None
        assert (await client.get(f"{server.base_url}/again")).status_code == 200
    assert server.connections == 1


async def test_tls_refuses_a_server_it_cannot_verify(tmp_path: Path) -> None:
    server_context, _cert = _authority(tmp_path)
    async with ScriptedServer(tls=server_context) as server, outbound_client(FAST) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{server.base_url}/x")


@pytest.fixture
def cancel_scopes(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Counts anyio's `fail_after`: httpx's default transport opens one per socket read and write."""
    opened: list[float | None] = []
    real: Callable[..., Any] = anyio.fail_after

    def counting(delay: float | None, *args: Any, **kwargs: Any) -> Any:
        opened.append(delay)
        return real(delay, *args, **kwargs)

    monkeypatch.setattr(anyio, "fail_after", counting)
    return opened


async def test_the_outbound_clients_open_no_anyio_cancel_scope_per_socket_operation(
    tmp_path: Path, cancel_scopes: list[float | None]
) -> None:
    ctx = AppContext.build(base_settings(tmp_path, None))
    async with ScriptedServer() as server:
        async with httpx.AsyncClient(timeout=FAST) as default:  # the control: httpx's own transport
            await default.post(f"{server.base_url}/earn", json=BODY)
        assert cancel_scopes, "the counter saw none: httpx's default transport no longer uses anyio.fail_after"
        cancel_scopes.clear()
        async with new_client() as webhooks:
            for client in (ctx.downstream, webhooks):
                for _ in range(3):
                    assert (await client.post(f"{server.base_url}/earn", json=BODY)).status_code == 200
    await ctx.close()
    assert cancel_scopes == []


def test_on_uvloop_as_the_server_runs_it(tmp_path: Path) -> None:
    """`foureyes serve` runs uvloop: TLS, pooling, a drop and a closed idle connection on its transports too."""
    server_context, cert_file = _authority(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert_file))

    async def scenario() -> None:
        async with ScriptedServer(tls=server_context) as server, outbound_client(FAST, verify=trusting) as client:
            for _ in range(2):
                assert (await client.post(f"{server.base_url}/earn", json=BODY)).status_code == 200
        assert server.connections == 1
        async with ScriptedServer(Step(action="answer-close")) as server, outbound_client(FAST) as client:
            for _ in range(2):
                assert (await client.get(f"{server.base_url}/x")).status_code == 200
                await asyncio.sleep(0.05)
        assert server.connections == 2
        async with ScriptedServer(Step(action="close")) as server, outbound_client(FAST) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"{server.base_url}/x")

    uvloop.run(scenario())


def test_writing_to_a_connection_closed_meanwhile_is_a_write_error() -> None:
    # What the executor treats as a dropped connection (and calls again at once). On uvloop, as the server runs,
    # a write to a closed transport raises RuntimeError, which no caller would recognise.
    async def scenario() -> None:
        async with ScriptedServer() as server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.port, timeout=1.0)
            await stream.aclose()
            with pytest.raises(httpcore.WriteError):
                await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=1.0)

    uvloop.run(scenario())
