"""Free ports for tests and benchmarks: none the system could hand to anybody else meanwhile,
none that something listens on, and none that another test process picks at the same time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from launcher.ports import (
    PortPicker,
    can_listen_on,
    free_port,
    ports_nobody_is_handed,
    share_of,
)
from tests.ports import xdist_share


def held_system_ports(count: int, stack: ExitStack) -> Iterator[int]:
    """Ports as the system hands them out to `bind(0)`, each held until `stack` closes."""
    for _ in range(count):
        holder = stack.enter_context(socket.socket())
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_a_free_port_is_never_one_the_system_hands_out_by_itself() -> None:
    """The dev server takes its HTTP and internal ports from `bind(0)`: a port we picked for
    another server must not be one of those, or that server finds it taken (CI saw it)."""
    with ExitStack() as stack:
        handed = set(held_system_ports(300, stack))
        picked = [free_port() for _ in range(100)]
    assert max(picked) < min(handed), (
        f"picked {sorted(picked)[-5:]} ... from where the system hands out {sorted(handed)[:5]} ..."
    )


def test_a_port_something_listens_on_is_skipped() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        picker = PortPicker(range(taken, taken + 2))
        assert [picker(), picker(), picker()] == [taken + 1] * 3


def test_a_picker_hands_each_port_out_once_until_it_has_gone_round_its_range() -> None:
    picker = PortPicker(ports_nobody_is_handed()[:200])
    assert len({picker() for _ in range(50)}) == 50


def test_the_shares_of_four_test_processes_do_not_overlap_and_are_alike() -> None:
    ports = ports_nobody_is_handed()
    shares = [share_of(ports, share, 4) for share in range(4)]
    assert all(len(share) == len(ports) // 4 for share in shares)
    assert sorted(port for share in shares for port in share) == list(ports[: len(ports) // 4 * 4])


def test_there_is_no_fifth_share_of_four() -> None:
    with pytest.raises(ValueError, match="shares count from 0 to 3"):
        share_of(range(10_000, 20_000), 4, 4)


def test_this_test_process_picks_from_its_own_share() -> None:
    """tests/ports.py: under pytest-xdist, worker gwN of M picks from share N of M."""
    share = xdist_share()
    own = ports_nobody_is_handed()
    if share is not None:
        own = share_of(own, *share)
    picked = [free_port() for _ in range(20)]
    assert all(port in own for port in picked), f"{picked} not all in {own}"


def test_with_no_range_of_its_own_a_picker_takes_what_the_system_hands_out() -> None:
    """A system whose ephemeral range starts at or below LOWEST_PICKED still gets ports."""
    port = PortPicker(range(0))()
    assert port >= ports_nobody_is_handed().stop, "the system's own range"
    assert can_listen_on(port)
