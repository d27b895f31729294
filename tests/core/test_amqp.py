"""Connection parameters: TLS for amqps://, clear errors, no password in messages."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from alcyon import BrokerError
from alcyon.amqp import connection_parameters


@pytest.fixture
def ca_file(tmp_path):
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=rabbit.example"], check=True, capture_output=True)
    return cert


def test_amqps_verifies_the_server_with_the_given_ca(ca_file):
    params = connection_parameters("amqps://alcyon:pw@rabbit.example:5671/", ca_file=str(ca_file))
    context = params.ssl_options.context
    assert params.port == 5671 and params.ssl_options.server_hostname == "rabbit.example"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(c["subject"] == ((("commonName", "rabbit.example"),),) for c in context.get_ca_certs())


def test_tls_files_without_amqps_are_refused(ca_file):
    with pytest.raises(BrokerError, match="not amqps://"):
        connection_parameters("amqp://alcyon:pw@rabbit:5672/", ca_file=str(ca_file))


def test_a_bad_url_is_explained_without_its_password():
    with pytest.raises(BrokerError) as info:
        connection_parameters("amqp://alcyon:s3cret@rabbit:notaport/")
    assert "s3cret" not in str(info.value) and "amqp://user:password@host:5672/vhost" in str(info.value)
