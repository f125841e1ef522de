"""Self-signed certificates for sandbox servers on loopback (simulators with wss, a TLS Kafka).

One certificate is both the server certificate and the trust anchor: clients trust it by
loading the same PEM file as their CA file (``client_ssl_context(cert)``, or a Java truststore
built from it). That keeps a sandbox to two files and needs no CA bookkeeping.

Needs the optional ``cryptography`` package (``pip install exchange-bridge[sandbox]``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Sequence
from pathlib import Path

from bridge.errors import SandboxError

__all__ = ["client_ssl_context", "make_self_signed", "server_ssl_context"]

# Long enough for a long-running demo, short enough that nobody mistakes it for a real cert.
_VALIDITY = dt.timedelta(days=30)
# Tolerate small clock differences between processes (and a JVM) on the same host.
_BACKDATE = dt.timedelta(hours=1)


def make_self_signed(
    directory: Path,
    hostnames: Sequence[str] = ("localhost", "127.0.0.1"),
    *,
    name: str = "sandbox",
) -> tuple[Path, Path]:
    """Write ``{name}-cert.pem`` and ``{name}-key.pem`` into ``directory``; return their paths.

    Each hostname becomes a subjectAltName: IP addresses as IP SANs (``127.0.0.1``, ``::1``),
    anything else as a DNS SAN. The first hostname is also the subject CN. The key is EC P-256
    (fast to generate, accepted by Python's ssl and by Java) and is written with mode 0600.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SandboxError(
            "the sandbox needs the 'cryptography' package: pip install 'exchange-bridge[sandbox]'"
        ) from exc

    if not hostnames:
        raise ValueError("make_self_signed needs at least one hostname")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}-cert.pem"
    key_path = directory / f"{name}-key.pem"

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exchange-bridge sandbox"),
        ]
    )
    alt_names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))

    now = dt.datetime.now(dt.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        # CA=True with keyCertSign: the certificate is its own trust anchor, which strict
        # verifiers (OpenSSL's X509_STRICT, Python 3.13's default) and Java truststores accept.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )

    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create the key file private from the start rather than chmod-ing it afterwards.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as key_file:
        key_file.write(key_bytes)
    return cert_path, key_path


def server_ssl_context(cert: Path | str, key: Path | str) -> ssl.SSLContext:
    """A TLS server context presenting ``cert`` (PEM) with its private ``key`` (PEM)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def client_ssl_context(cafile: Path | str) -> ssl.SSLContext:
    """A TLS client context that trusts ``cafile`` only, with hostname checking left on."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cafile))
