"""What a hop is asked about: port sets and packets (protocol, ports, ICMP type), pure data."""

from __future__ import annotations

from dataclasses import dataclass

from peerkeeper.reach.model import ICMP, ICMPV6, TCP, UDP, Traffic

ECHO = {4: (8, 0), 6: (128, 129)}  # (request type, reply type)


# -- port sets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortSet:
    """A set of ports as sorted, disjoint, inclusive ranges."""

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def span(cls, low: int, high: int) -> PortSet:
        return cls(((low, high),)) if low <= high else cls()

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __or__(self, other: PortSet) -> PortSet:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(self.ranges + other.ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return PortSet(tuple(merged))

    def __and__(self, other: PortSet) -> PortSet:
        found = [(max(a, c), min(b, d)) for a, b in self.ranges for c, d in other.ranges if max(a, c) <= min(b, d)]
        return PortSet(tuple(sorted(found)))

    def __sub__(self, other: PortSet) -> PortSet:
        left: list[tuple[int, int]] = []
        for low, high in self.ranges:
            pieces = [(low, high)]
            for cut_low, cut_high in other.ranges:
                pieces = [
                    piece
                    for a, b in pieces
                    for piece in ((a, min(b, cut_low - 1)), (max(a, cut_high + 1), b))
                    if piece[0] <= piece[1]
                ]
            left += pieces
        return PortSet(tuple(sorted(left)))

    def text(self) -> str:
        return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.ranges) or "none"


EMPTY = PortSet()
EVERY_PORT = PortSet.span(0, 65535)
EPHEMERAL = PortSet.span(1024, 65535)


@dataclass(frozen=True)
class Packet:
    """What a hop is asked about: protocol number, destination ports (tcp/udp), ICMP type."""

    protocol: str
    ports: PortSet = EVERY_PORT
    icmp_type: int = -1
    icmp_code: int = 0

    @classmethod
    def request(cls, traffic: Traffic, version: int) -> Packet:
        number = traffic.number(version)
        if number in (TCP, UDP):
            ports = PortSet.span(traffic.port, traffic.port) if traffic.port is not None else EVERY_PORT
            return cls(number, ports)
        if number in (ICMP, ICMPV6):
            return cls(number, icmp_type=ECHO[version][0])
        return cls(number)

    @classmethod
    def reply(cls, traffic: Traffic, version: int) -> Packet:
        number = traffic.number(version)
        if number in (TCP, UDP):
            return cls(number, EPHEMERAL)
        if number in (ICMP, ICMPV6):
            return cls(number, icmp_type=ECHO[version][1])
        return cls(number)

    def text(self) -> str:
        if self.protocol in (TCP, UDP):
            name = "tcp" if self.protocol == TCP else "udp"
            return f"{name} {self.ports.text()}"
        if self.protocol in (ICMP, ICMPV6):
            name = "icmp" if self.protocol == ICMP else "icmpv6"
            kind = "echo request" if self.icmp_type in (8, 128) else "echo reply"
            return f"{name} {kind}"
        return "all traffic"
