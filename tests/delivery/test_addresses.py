"""Which addresses webhooks may go to with private targets refused: one table, checked against
the pure function and the webhook URL check at configuration time."""

from __future__ import annotations

import ipaddress

import pytest

from timhooks.delivery.addresses import is_public_address
from timhooks.protocol.errors import ConfigError
from timhooks.server.config import validate_callback_url

# (address as a URL host writes it, public?)
FORMS = [
    ("8.8.8.8", True),
    ("93.184.216.34", True),
    ("100.63.255.255", True),  # just below carrier-grade NAT
    ("100.128.0.0", True),  # just above it
    ("127.0.0.1", False),
    ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not bound)
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.0.9", False),
    ("169.254.169.254", False),  # link-local: cloud metadata
    ("100.64.0.1", False),  # carrier-grade NAT
    ("100.100.100.200", False),  # carrier-grade NAT: a cloud metadata service
    ("100.127.255.255", False),
    ("192.0.0.1", False),  # IETF protocol assignments
    ("192.0.2.1", False),  # documentation
    ("198.18.0.1", False),  # benchmarking
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),  # broadcast
    ("224.0.0.1", False),  # multicast
    ("239.255.255.250", False),  # multicast
    ("[2001:4860:4860::8888]", True),
    ("[::1]", False),
    ("[::]", False),
    ("[fe80::1]", False),
    ("[fd00::1]", False),  # unique local
    ("[2001:db8::1]", False),  # documentation
    ("[ff02::1]", False),  # multicast
    ("[ff0e::1]", False),  # multicast, global scope
    ("[100::1]", False),  # discard-only
    ("[::ffff:8.8.8.8]", True),  # IPv4-mapped: judged by its IPv4 address
    ("[::ffff:127.0.0.1]", False),
    ("[::ffff:100.64.0.1]", False),
    ("[::ffff:a9fe:a9fe]", False),  # 169.254.169.254
    ("[::a00:1]", False),  # IPv4-compatible (deprecated) ::10.0.0.1
    ("[::808:808]", False),  # IPv4-compatible ::8.8.8.8: reserved whatever it holds
    ("[2002:808:808::1]", True),  # 6to4 of 8.8.8.8
    ("[2002:a00:1::1]", False),  # 6to4 of 10.0.0.1
    ("[2002:6440:1::1]", False),  # 6to4 of 100.64.0.1
    ("[2002:7f00:1::1]", False),  # 6to4 of 127.0.0.1
    ("[64:ff9b::808:808]", True),  # NAT64 of 8.8.8.8 (IPv6-only networks with DNS64)
    ("[64:ff9b::a9fe:a9fe]", False),  # NAT64 of 169.254.169.254
    ("[64:ff9b::6440:1]", False),  # NAT64 of 100.64.0.1
    ("[64:ff9b::7f00:1]", False),  # NAT64 of 127.0.0.1
    ("[64:ff9b:1::808:808]", False),  # local-use NAT64
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", False),  # Teredo
    ("[2001::1]", False),  # Teredo
]


@pytest.mark.parametrize(("host", "public"), FORMS)
def test_only_globally_routable_addresses_are_public(host: str, public: bool) -> None:
    """is_public_address accepts globally routable unicast addresses only, judging IPv6 forms
    that carry an IPv4 address by that address."""
    address = host.strip("[]")
    assert is_public_address(address) is public
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(("host", "public"), FORMS)
def test_the_url_check_refuses_what_is_not_public(host: str, public: bool) -> None:
    """With private targets refused, a webhook URL on a non-public address is refused at
    configuration time and a public one accepted; allowed, both are accepted."""
    url = f"http://{host}:8080/im"
    assert validate_callback_url(url) == url
    if public:
        assert validate_callback_url(url, allow_private=False) == url
    else:
        with pytest.raises(ConfigError, match="is not public"):
            validate_callback_url(url, allow_private=False)


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.localdomain", "a.localhost"])
def test_the_url_check_refuses_local_names(host: str) -> None:
    """With private targets refused, names of this machine are refused at configuration time."""
    with pytest.raises(ConfigError, match="this machine"):
        validate_callback_url(f"https://{host}/im", allow_private=False)


@pytest.mark.parametrize("text", ["", "example.com", "300.1.1.1", "::g", "1.2.3.4/32"])
def test_a_string_that_is_no_address_is_not_public(text: str) -> None:
    """A string that is no IP address is refused, not an error."""
    assert is_public_address(text) is False
