"""The `BookingOutcome` search attribute: registered where the server allows it, used only
where the server has it.

A server refuses to start a workflow with a search attribute it does not know, and a workflow
that upserts one fails its workflow task again and again: the run is stuck. Workflow code
cannot ask the server which attributes it knows. So the worker registers the attribute at its
start where the server lets it (`temporal server start-dev --search-attribute` does it for the
launcher), the form asks the server (`OutcomeAttribute`) and starts a booking with
`BookingOutcome=pending` only where the server has it, and the workflow records its outcome
only when it started with the attribute.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError

from shared import BOOKING_OUTCOME, pending_outcome

log = logging.getLogger("booking.search_attributes")

KEYWORD = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
RPC_TIMEOUT = timedelta(seconds=5)


async def outcome_attribute_known(client: Client, rpc_timeout: timedelta = RPC_TIMEOUT) -> bool:
    """Whether the client's namespace has `BookingOutcome` as a Keyword. False also when the
    server does not say (it lists no search attributes, or did not answer in time)."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace), timeout=rpc_timeout
        )
    except RPCError:
        return False
    return response.custom_attributes.get(BOOKING_OUTCOME.name) == KEYWORD


async def register_outcome_attribute(client: Client, rpc_timeout: timedelta = RPC_TIMEOUT) -> bool:
    """Register `BookingOutcome` unless the server has it; whether it has it now. A server
    that refuses costs one line in the log, never a booking."""
    if await outcome_attribute_known(client, rpc_timeout):
        return True
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace, search_attributes={BOOKING_OUTCOME.name: KEYWORD}
            ),
            timeout=rpc_timeout,
        )
    except RPCError as error:
        if await outcome_attribute_known(client, rpc_timeout):
            return True  # another worker registered it at the same moment
        log.warning(
            "The Temporal server did not register the search attribute %s (%s): bookings work "
            "as before, but the Temporal UI cannot filter them by outcome",
            BOOKING_OUTCOME.name,
            error.message,
        )
        return False
    log.info("Registered the search attribute %s (Keyword)", BOOKING_OUTCOME.name)
    return True


class OutcomeAttribute:
    """The search attributes a booking starts with: `BookingOutcome=pending` where the server
    has it, none elsewhere. It asks the server until the answer is yes (a worker may register
    the attribute after the form started), then remembers."""

    def __init__(self) -> None:
        self.known = False

    async def start_attributes(self, client: Client) -> TypedSearchAttributes:
        if not self.known:
            self.known = await outcome_attribute_known(client, rpc_timeout=timedelta(seconds=2))
        return pending_outcome() if self.known else TypedSearchAttributes.empty
