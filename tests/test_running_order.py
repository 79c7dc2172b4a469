"""The order tests/order.py gives the session: the soak first, the browser tests last."""

from __future__ import annotations

import pytest

from tests.order import running_order


def test_the_soak_runs_first_and_the_browser_tests_last(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    order = [running_order(item) for item in items]
    assert order == sorted(order)
    uses_page = ["page" in getattr(item, "fixturenames", ()) for item in items]
    # Once a test that drives the page through Playwright's sync API has come, only such
    # tests follow (an async test after one would find Playwright's loop running).
    assert uses_page == sorted(uses_page)
    if len(items) > 200:  # the whole suite, not a selection of it
        assert items[0].get_closest_marker("soak") is not None
        assert uses_page[-1]
