"""Attack: the per-address cap over IPv6. `collector serve --host ::` serves IPv6 clients, and
the gate counts connections per exact address; but an IPv6 host is given a /64 (2**64
addresses) by its provider, so one client takes every place the server has (MAX_CONNECTIONS)
with PER_IP from each of 32 of its own addresses, and the cap meant to leave room for the
terminals leaves none. The gate should count an IPv6 client by its /64 (and an IPv4-mapped one
by its IPv4 address)."""

from lostcard_cpython.collector_server import PER_IP, Gate


def test_one_ipv6_prefix_gets_at_most_per_ip_connections():
    gate = Gate()
    admitted = sum(gate.admit("2001:db8:1:2::%x" % n) for n in range(1, 2 * PER_IP + 1))
    assert admitted == PER_IP, ("one /64 was admitted %d connections (the per-address cap is %d)"
                                % (admitted, PER_IP))
    assert gate.admit("2001:db8:1:3::1")  # another /64 is another client
