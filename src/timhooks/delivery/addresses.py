"""Which IP addresses webhooks may go to when private targets are refused.

One owner of the fact: the webhook URL check at configuration time
(``timhooks.server.config.validate_callback_url``) and the sender's check of what a host name
resolves to at delivery time (``timhooks.delivery.sender``) both ask ``is_public_address``.

Public means globally routable: Python's ``ipaddress`` ``is_global`` (the IANA special-purpose
registries), which refuses loopback, private, link-local, carrier-grade NAT (100.64.0.0/10, where
some clouds answer their metadata service), documentation, benchmarking and reserved ranges;
multicast is refused too. IPv6 forms that carry an IPv4 address are judged by that address:
IPv4-mapped (``::ffff:10.0.0.1``), 6to4 (``2002:0a00:0001::``) and the well-known NAT64 prefix
(``64:ff9b::10.0.0.1``, so IPv6-only networks with DNS64 still reach public hosts). Teredo
(2001::/32) and the local-use NAT64 prefix (64:ff9b:1::/48) are refused whatever they carry: a
relay or translator picks the IPv4 destination, and neither is globally routable.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_public_address"]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: str | _Address) -> bool:
    """True when webhooks may go to ``address``: globally routable, not multicast; a string
    that is no IP address is not public."""
    if isinstance(address, str):
        try:
            address = ipaddress.ip_address(address)
        except ValueError:
            return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.teredo is not None or address in _NAT64_LOCAL:
            return False
        # The IPv4-compatible ::a.b.c.d form (deprecated) lies in ::/8, reserved.
        if address.is_reserved:
            return False
    return address.is_global and not address.is_multicast
