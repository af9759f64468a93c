"""The MQTT link over TLS against a real Mosquitto: user and password, or a client certificate
whose common name is the device's user; a broker certificate from another CA is refused."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mqtt_helpers import PASSWORDS, Watcher, wait_for  # test-local helpers

from wildcam.fleet.broker import Mosquitto, find_mosquitto, free_port
from wildcam.fleet.link import LinkSettings, MqttLink, outbox_item
from wildcam.upload.queue import DurableQueue

Key = ec.EllipticCurvePrivateKey


def issue(
    directory: Path,
    name: str,
    cn: str,
    ca: tuple[x509.Certificate, Key] | None,
    server: bool = False,
) -> tuple[x509.Certificate, Key]:
    """A certificate for ``cn`` signed by ``ca`` (self-signed CA when None), written as
    ``<name>.crt`` and ``<name>.key``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0].subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(ca[1] if ca else key, hashes.SHA256())
    (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture
def tls_broker(tmp_path: Path) -> tuple[Mosquitto, int, int, Path]:
    """A broker with a plain listener (the watcher), a TLS listener taking passwords and one
    that requires a client certificate (its CN is the user)."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    pki = tmp_path / "pki"
    pki.mkdir()
    ca = issue(pki, "ca", "wildcam test CA", None)
    issue(pki, "server", "127.0.0.1", ca, server=True)
    issue(pki, "trap1", "trap1", ca)
    issue(pki, "other-ca", "another CA", None)
    files = f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
    password_port, cert_port = free_port(), free_port()
    broker = Mosquitto(
        tmp_path / "broker",
        PASSWORDS,
        extra=(
            f"listener {password_port} 127.0.0.1\n{files}"
            f"listener {cert_port} 127.0.0.1\n{files}"
            "require_certificate true\nuse_identity_as_username true\n"
        ),
    ).start()
    yield broker, password_port, cert_port, pki  # type: ignore[misc]
    broker.stop()


@pytest.mark.parametrize("mode", ["password", "certificate", "wrong_ca"])
def test_tls_with_a_password_or_a_client_certificate(
    tmp_path: Path, mode: str, tls_broker: tuple
) -> None:  # type: ignore[type-arg]
    broker, password_port, cert_port, pki = tls_broker
    watcher = Watcher(broker.port)
    assert watcher.subscribed.wait(10)
    queue = DurableQueue(tmp_path / "outbox", 1 << 20, 3600.0)
    queue.put([outbox_item("trap1-e-1", "wildcam/trap1/events", {"key": "trap1-e-1"})])
    auth = (
        {"username": "trap1", "password": PASSWORDS["trap1"]}
        if mode != "certificate"
        else {"cert_file": str(pki / "trap1.crt"), "key_file": str(pki / "trap1.key")}
    )
    link = MqttLink(
        LinkSettings(
            host="127.0.0.1",
            port=cert_port if mode == "certificate" else password_port,
            client_id="trap1",
            will_topic="wildcam/trap1/availability",
            command_topic="wildcam/trap1/cmd",
            tls=True,
            ca_file=str(pki / ("other-ca.crt" if mode == "wrong_ca" else "ca.crt")),
            backoff_base_s=0.05,
            backoff_max_s=0.2,
            poll_s=0.05,
            **auth,
        ),
        queue,
        lambda _: None,
    ).start()
    try:
        if mode == "wrong_ca":
            assert wait_for(lambda: link.counters.failures >= 2)
            assert "CERTIFICATE_VERIFY_FAILED" in link.counters.last_error
            assert link.counters.connects == 0 and queue.stats().depth == 1
        else:
            assert wait_for(lambda: watcher.docs("/events") == [{"key": "trap1-e-1"}])
            assert wait_for(lambda: queue.stats().depth == 0)
    finally:
        link.stop()
        queue.close()
        watcher.close()
