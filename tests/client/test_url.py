"""URL parsing for connect_from_url (no broker needed)."""

from __future__ import annotations

import ssl

import pytest

from async_amqp import parse_url


def test_defaults() -> None:
    assert parse_url("amqp://") == {"host": "localhost", "virtualhost": "/"}
    assert parse_url("amqp://host") == {"host": "host", "virtualhost": "/"}
    assert parse_url("amqp://host/")["virtualhost"] == "/"


def test_user_password_and_vhost_are_percent_decoded() -> None:
    options = parse_url("amqp://us%40er:p%3Ass%2Fw@broker.example:5673/%2Fprod%20x")
    assert options == {
        "host": "broker.example",
        "port": 5673,
        "login": "us@er",
        "password": "p:ss/w",
        "virtualhost": "/prod x",
    }
    assert parse_url("amqp://h/%2F")["virtualhost"] == "/"
    assert parse_url("amqp://h/vhost")["virtualhost"] == "vhost"


def test_ipv6_host() -> None:
    assert parse_url("amqp://[::1]:5672/")["host"] == "::1"


def test_query_parameters() -> None:
    options = parse_url(
        "amqp://h/?heartbeat=10&connection_timeout=2500&channel_max=100&frame_max=8192"
        "&auth_mechanism=amqplain"
    )
    assert options["heartbeat"] == 10
    assert options["connection_timeout"] == 2.5
    assert options["channel_max"] == 100
    assert options["frame_max"] == 8192
    assert options["login_method"] == "AMQPLAIN"


def test_amqps_enables_tls_with_verification() -> None:
    assert parse_url("amqps://h")["ssl"] is True
    context = parse_url("amqps://h?verify=verify_none")["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert parse_url("amqps://h?server_name_indication=other")["server_hostname"] == "other"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://h", "scheme 'http'"),
        ("amqp://h?heartbeat=x", "heartbeat"),
        ("amqp://h?heartbeat=-1", "heartbeat"),
        ("amqp://h?frame_max=100", "frame_max"),
        ("amqp://h?auth_mechanism=kerberos", "auth_mechanism"),
        ("amqp://h?bogus=1", "bogus"),
        ("amqp://h:99999", "port"),
        ("amqp://h?verify=verify_none", "amqps"),
        ("amqps://h?verify=sometimes", "verify"),
    ],
)
def test_bad_urls_name_the_problem(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_url(url)
