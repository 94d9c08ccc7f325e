"""The local certificate authority and the server certificate it signs.

The Python SDK always connects with TLS, so the server needs a certificate that clients
can be told to trust. On first start we create, in the data folder, a small CA (valid
for ten years) and a server certificate signed by it for `localhost`, `127.0.0.1` and
`::1` plus the host the server binds to. `bundle.pem` holds the public CAs of `certifi`
followed by ours: pointing `SSL_CERT_FILE` at it makes a program trust this server
without distrusting anything else.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TLSFiles", "ensure_tls_files"]

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class TLSFiles:
    ca_cert: Path
    """The CA certificate to trust (what NODE_EXTRA_CA_CERTS names)."""
    cert: Path
    key: Path
    bundle: Path
    """certifi's CAs plus ours (what SSL_CERT_FILE names)."""


def ensure_tls_files(data_dir: Path, hosts: tuple[str, ...] = ()) -> TLSFiles:
    """Create the CA, the server certificate and the bundle unless they exist already.

    A server certificate that does not cover one of `hosts` is issued again by the
    same CA, so clients that already trust the CA keep working.
    """
    tls_dir = data_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(
        ca_cert=tls_dir / "ca.pem",
        cert=tls_dir / "server.pem",
        key=tls_dir / "server-key.pem",
        bundle=tls_dir / "bundle.pem",
    )
    ca_key_path = tls_dir / "ca-key.pem"
    if not (files.ca_cert.exists() and ca_key_path.exists()):
        ca_key, ca_cert = _new_ca()
        _write_private(ca_key_path, _key_pem(ca_key))
        files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        files.cert.unlink(missing_ok=True)
    names = {"localhost", "127.0.0.1", "::1", *(h for h in hosts if h not in ("", "0.0.0.0", "::"))}
    if not files.cert.exists() or not files.key.exists() or not _covers(files.cert, names):
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ca_key_path} is not an EC key")
        ca_key = loaded
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        key, cert = _new_server_cert(ca_key, ca_cert, sorted(names))
        _write_private(files.key, _key_pem(key))
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    bundle = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + files.ca_cert.read_bytes()
    if not files.bundle.exists() or files.bundle.read_bytes() != bundle:
        files.bundle.write_bytes(bundle)
    return files


def _new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenLive"),
            x509.NameAttribute(NameOID.COMMON_NAME, "OpenLive local CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _new_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, names: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenLive server")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALIDITY - dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _covers(cert_path: Path, names: set[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    have |= set(sans.get_values_for_type(x509.DNSName))
    expiring = cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    return names <= have and not expiring


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
