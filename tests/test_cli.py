"""The command line: `openlive env` exports and `serve`'s refusals, as subprocesses."""

from __future__ import annotations

import os
import shlex
import ssl
import subprocess
import sys
from pathlib import Path

from cryptography import x509

OPENLIVE = [sys.executable, "-m", "openlive"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPENLIVE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENLIVE_API_KEYS": "", **(env or {})},
    )


def exports(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if line.startswith("export ")]
    pairs = (line.removeprefix("export ").partition("=") for line in lines)
    return {name: shlex.split(value)[0] for name, _, value in pairs}


def test_env_points_both_sdks_at_the_tls_listener(tmp_path: Path) -> None:
    result = run("env", "--data-dir", str(tmp_path), "--tls-port", "9443", "--api-key", "k1")
    assert result.returncode == 0, result.stderr
    env = exports(result.stdout)
    assert env["GOOGLE_GEMINI_BASE_URL"] == "https://127.0.0.1:9443"
    assert env["GEMINI_API_KEY"] == "k1"
    # one key variable, so that neither SDK warns that two are set
    assert "GOOGLE_API_KEY" not in env and "unset GOOGLE_API_KEY" in result.stdout.splitlines()
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    # the bundle holds the public CAs and ours; ours signed the server's certificate
    bundle = Path(env["SSL_CERT_FILE"]).read_text()
    ca = Path(env["NODE_EXTRA_CA_CERTS"]).read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 100 and bundle.endswith(ca)
    context = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
    assert any(
        c["subject"]
        == ((("organizationName", "OpenLive"),), (("commonName", "OpenLive local CA"),))
        for c in context.get_ca_certs()
    )
    server = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "::1"} <= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_env_is_stable_and_keeps_the_ca(tmp_path: Path) -> None:
    first = exports(run("env", "--data-dir", str(tmp_path)).stdout)
    ca = Path(first["NODE_EXTRA_CA_CERTS"]).read_bytes()
    second = exports(run("env", "--data-dir", str(tmp_path)).stdout)
    assert first == second and Path(second["NODE_EXTRA_CA_CERTS"]).read_bytes() == ca
    assert first["GEMINI_API_KEY"] == "openlive-local"


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    result = run("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stderr


def test_serve_reports_a_bad_setting_without_a_traceback(tmp_path: Path) -> None:
    result = run("serve", "--llm", "openai", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("openlive: an openai llm needs base_url and model")


def test_serve_refuses_an_end_of_turn_from_the_environment_it_does_not_know(
    tmp_path: Path,
) -> None:
    # argparse checks --end-of-turn's choices, but not a default the environment gave
    result = run("serve", "--data-dir", str(tmp_path), env={"OPENLIVE_END_OF_TURN": "silent"})
    assert result.returncode == 2
    assert result.stderr.startswith(
        "openlive: --end-of-turn (or OPENLIVE_END_OF_TURN) must be learned or silence, not 'silent'"
    )
