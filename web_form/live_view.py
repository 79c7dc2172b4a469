"""The live page's data: the workflow's `status` query, told with the server's retry details.

The query says what the saga is doing (booking the hotel); the server's description of the
run adds what the workflow cannot know while Temporal retries an activity for it: the
attempt number and the last error. `LiveView` combines both; the page's first render and
its script (as JSON) show the same object.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.converter import DataConverter, WorkflowSerializationContext
from temporalio.service import RPCError, RPCStatusCode

from book_workflow import BookingWorkflow
from runtime.connection import task_queue_pollers
from runtime.hints import START_WORKER
from shared import (
    BookingInput,
    BookingStatus,
    NetworkDelay,
    Service,
    StepState,
    StepStatus,
    service_of_activity,
)
from web_form.gateway import RPC_TIMEOUT, TemporalGateway

Badge = StepState | Literal["retrying", "delayed", "unknown"]
"""How a step looks: its state, or `retrying` while Temporal retries it, `delayed` while the
saga waits on the shaky network before it, or `unknown` when no worker answered the query."""

BADGE_LABELS: dict[str, str] = {
    "unknown": "No answer",
    "waiting": "Waiting",
    "skipped": "Not attempted",
    "booking": "Booking…",
    "booked": "Booked",
    "failed": "Failed, undone",
    "compensating": "Undoing…",
    "undone": "Undone",
}

Tone = Literal["booked", "rolled_back", "cancelled", "rolling_back", "running", "failed"]
"""The headline's colour."""


@dataclass(frozen=True)
class PendingActivity:
    """An activity the server is running or about to retry, as `describe()` reports it."""

    service: Service
    attempt: int
    last_error: str | None


@dataclass(frozen=True)
class StepView:
    """One booking of the saga as the page shows it."""

    service: Service
    item: str
    state: StepState | Literal["unknown"]
    """The query's state, as the workflow tells it; `unknown` when no worker answered."""
    badge: Badge
    label: str
    detail: str
    """The one line under the step that says what is going on with it."""
    confirmation: str | None
    attempt: int | None
    """The attempt the server runs or retries now, if an activity of this step is pending."""
    last_error: str | None


@dataclass(frozen=True)
class LiveView:
    """Everything the live page shows about one booking."""

    workflow_id: str
    summary: str | None
    execution: str
    """The run's execution status in Temporal: running, completed, failed, canceled, ..."""
    answered: bool
    """Whether a worker answered the status query; if not, the steps' states are unknown."""
    steps: list[StepView]
    undo_order: list[Service]
    outcome: str | None
    error: str | None
    why: str | None
    """Why the saga rolled back, unless the failed step already says it."""
    headline: str
    tone: Tone
    worker_polling: bool | None
    """Whether a worker polls the task queue; None where the server cannot tell."""
    notice: str | None

    @property
    def finished(self) -> bool:
        return self.execution != "running"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "finished": self.finished}


def temporal_ui_link(ui_base_url: str, namespace: str, workflow_id: str) -> str:
    """This run's page in the Temporal UI."""
    return (
        f"{ui_base_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


def live_view(
    workflow_id: str,
    execution: str,
    status: BookingStatus,
    pending: list[PendingActivity],
    *,
    answered: bool = True,
    worker_polling: bool | None = True,
    task_queue: str = "",
    query_problem: str | None = None,
    summary: str | None = None,
) -> LiveView:
    """The view of one booking. Unless `answered`, `status` only names the items (no worker
    could be asked) and each step's state is unknown."""
    running = execution == "running"
    notice = None
    if running and worker_polling is False:
        notice = (
            f"No worker is polling the task queue “{task_queue}”, so nothing moves. "
            f"Start one in a terminal: {START_WORKER}"
        )
    elif query_problem is not None:
        notice = f"{query_problem} Is it running? Start one in a terminal: {START_WORKER}"
    steps = [_step_view(step, pending, answered, status.network_delay) for step in status.steps]
    return LiveView(
        workflow_id=workflow_id,
        summary=summary,
        execution=execution,
        answered=answered,
        steps=steps,
        undo_order=status.undo_order,
        outcome=status.outcome,
        error=status.error,
        why=None if any(step.last_error == status.error for step in steps) else status.error,
        headline=_headline(execution, status),
        tone=_tone(running, status),
        worker_polling=worker_polling,
        notice=notice,
    )


def _step_view(
    step: StepStatus,
    pending: list[PendingActivity],
    answered: bool,
    network_delay: NetworkDelay | None,
) -> StepView:
    state: StepState | Literal["unknown"] = step.state if answered else "unknown"
    activity = next((activity for activity in pending if activity.service == step.service), None)
    attempt = activity.attempt if activity is not None else None
    retried = activity is not None and activity.attempt > 1
    last_error = activity.last_error if activity is not None and retried else step.last_error
    badge: Badge = "retrying" if state == "booking" and retried else state
    label = f"Retrying: attempt {attempt}" if badge == "retrying" else BADGE_LABELS[badge]
    if state == "waiting" and network_delay is not None and network_delay.before == step.service:
        badge, label = "delayed", f"Network delay, {network_delay.seconds:g} s"
    return StepView(
        service=step.service,
        item=step.item,
        state=state,
        badge=badge,
        label=label,
        detail=_detail(badge, step.confirmation, attempt if retried else None, last_error),
        confirmation=step.confirmation,
        attempt=attempt,
        last_error=last_error,
    )


def _detail(
    badge: Badge, confirmation: str | None, retried_attempt: int | None, last_error: str | None
) -> str:
    if badge == "retrying":
        return f"Last error: {last_error}"
    if badge == "delayed":
        return "The shaky network: the workflow waits on a durable timer before this booking"
    if badge == "booked":
        return f"Confirmation {confirmation}"
    if badge == "failed":
        return f"Error: {last_error}"
    if badge == "compensating" and retried_attempt is not None:
        return f"Undo attempt {retried_attempt}, retried by Temporal. Last error: {last_error}"
    if badge == "undone":
        return f"Reservation {confirmation} cancelled"
    return ""


def _tone(running: bool, status: BookingStatus) -> Tone:
    if status.outcome is not None:
        return status.outcome
    if not running:
        return "failed"
    return "rolling_back" if status.error is not None else "running"


def _headline(execution: str, status: BookingStatus) -> str:
    if status.outcome == "booked":
        return "Booked: car, hotel and flight"
    if status.outcome == "rolled_back":
        return "Rolled back: nothing is booked"
    if status.outcome == "cancelled":
        return "Cancelled: everything booked was undone"
    if execution == "running":
        return "Rolling back…" if status.error is not None else "Booking in progress…"
    return f"The workflow ended: {execution.replace('_', ' ')}"


class WorkflowNotFound(LookupError):
    pass


POLLERS_FRESH_SECONDS = 2.0
"""How long the answer to "does a worker poll?" is reused. The server keeps listing a worker
for a while after it died anyway; a worker that starts is noticed within this long."""
ANSWER_FRESH_SECONDS = POLLERS_FRESH_SECONDS
"""How long after the workers last answered a status query (of any booking) a running
booking's kept answer is reused while its history stays as it was. The answer cannot have
changed (a workflow changes only with new events in its history), but a worker killed since
is only noticed by a query it leaves unanswered: while none has been answered for this long,
each poll asks its own, as stale as the pollers' answer may be."""


@dataclass(frozen=True)
class _Answer:
    """The worker's answer to the status query, and the run and history it answered for."""

    run_id: str
    history_length: int
    status: BookingStatus
    execution: str
    """The run's execution status the server gave just before the answer."""


class LiveViews:
    """Each booking's live view, asked of the server and the worker through the app's one
    Temporal client.

    A room of open pages polls every 0.4 s, and the worker answers each status query on the
    CPU that also runs the bookings. So concurrent polls of one booking share one fetch;
    whether a worker polls is asked at most every `pollers_fresh_seconds`; and the query is
    asked again only when the run's history has grown since the last answer, or no status
    query has been answered for `answer_fresh_seconds`: any answer shows that the workers
    answer, and with several workers, a run whose worker died is answered by another one. A
    finished run's history never grows: its answer is kept for good, so the worker replays a
    finished run once. Answers are kept for the `keep` bookings asked about last."""

    def __init__(
        self,
        gateway: TemporalGateway,
        task_queue: str,
        keep: int = 1000,
        pollers_fresh_seconds: float = POLLERS_FRESH_SECONDS,
        answer_fresh_seconds: float = ANSWER_FRESH_SECONDS,
    ) -> None:
        self.gateway = gateway
        self.task_queue = task_queue
        self.keep = keep
        self.pollers_fresh_seconds = pollers_fresh_seconds
        self.answer_fresh_seconds = answer_fresh_seconds
        # Only the gateway's loop thread touches these: every fetch runs there.
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._summaries: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        """Each booking's summary, and the run it is of: a run's summary never changes."""
        self._fetches: SharedFetches[str, LiveView] = SharedFetches()
        self._answered_at: float | None = None
        """When the last status query that was answered was asked (the loop's clock)."""
        self._pollers: SharedFetches[str, bool | None] = SharedFetches()
        self._polling: tuple[float, bool | None] | None = None
        """The last answer to "does a worker poll?", and when it came (the loop's clock)."""

    def view(self, workflow_id: str) -> LiveView:
        """The booking's view now; raise `WorkflowNotFound` or `TemporalUnavailable`."""
        return self.gateway.call(
            lambda client: self._fetches.get(workflow_id, lambda: self._fetch(client, workflow_id))
        )

    async def _fetch(self, client: Client, workflow_id: str) -> LiveView:
        """The server first, then the worker if it must be asked. The server's answer comes
        first so that the query's answer is at least as new as the history it is kept for."""
        handle = client.get_workflow_handle(workflow_id)
        description, polling = await asyncio.gather(
            _describe(client, workflow_id), self._worker_polling(client), return_exceptions=True
        )
        if isinstance(description, BaseException):
            raise description  # first: a booking that is not there says so, whatever else
        if isinstance(polling, BaseException):
            raise polling
        run = description.workflow_execution_info
        execution = _execution(description)
        run_id, history_length = run.execution.run_id, run.history_length
        known = self._answers.get(workflow_id)
        kept = known if known and self._still_true(known, run_id, history_length) else None
        query_problem = None
        if kept is not None and (execution != "running" or polling is not False):
            status: BookingStatus | None = kept.status
        elif polling is False:
            status = None  # no worker polls: nobody could answer
        else:
            asked_at = asyncio.get_running_loop().time()
            status, query_problem = await _query_status(handle)
            if status is not None:
                self._answered_at = max(asked_at, self._answered_at or asked_at)
                answer = _Answer(run_id, history_length, status, execution)
                _keep_last(self._answers, workflow_id, answer, self.keep)
        return live_view(
            workflow_id,
            execution,
            status or await _waiting_status(client, workflow_id),
            _pending_activities(description),
            answered=status is not None,
            worker_polling=polling,
            task_queue=self.task_queue,
            query_problem=query_problem,
            summary=await self._summary(client, workflow_id, description),
        )

    def _still_true(self, known: _Answer, run_id: str, history_length: int) -> bool:
        """Whether the kept answer is the one the worker would give now: the same run and
        history, and either finished or the workers answered moments ago."""
        if (known.run_id, known.history_length) != (run_id, history_length) or not history_length:
            return False
        if known.execution != "running":
            return True
        now = asyncio.get_running_loop().time()
        return self._answered_at is not None and now - self._answered_at < self.answer_fresh_seconds

    def _fresh(self) -> bool:
        """Whether the last answer to "does a worker poll?" may still be used."""
        if self._polling is None:
            return False
        asked_at, _ = self._polling
        return asyncio.get_running_loop().time() - asked_at < self.pollers_fresh_seconds

    async def _worker_polling(self, client: Client) -> bool | None:
        if self._polling is not None and self._fresh():
            return self._polling[1]
        polling = await self._pollers.get(
            self.task_queue, lambda: _worker_polling(client, self.task_queue)
        )
        self._polling = (asyncio.get_running_loop().time(), polling)
        return polling

    async def _summary(
        self, client: Client, workflow_id: str, description: DescribeWorkflowExecutionResponse
    ) -> str | None:
        run_id = description.workflow_execution_info.execution.run_id
        known = self._summaries.get(workflow_id)
        if known is not None and known[0] == run_id:
            return known[1]
        metadata = description.execution_config.user_metadata
        summary = None
        if metadata.HasField("summary"):
            converter = _converter_of(client, workflow_id)
            [summary] = await converter.decode([metadata.summary], [str])
        _keep_last(self._summaries, workflow_id, (run_id, summary), self.keep)
        return summary


K = TypeVar("K")
V = TypeVar("V")


def _keep_last(kept: OrderedDict[K, V], key: K, value: V, keep: int) -> None:
    """Put `value` under `key`, dropping the entries used longest ago beyond `keep`."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > keep:
        kept.popitem(last=False)


class SharedFetches(Generic[K, V]):
    """Single flight: concurrent asks for one key share one fetch. The first ask starts it,
    the others wait for the same answer (or error); the next ask after it ends fetches anew.
    One asker giving up (its request timed out) does not cancel the fetch for the others."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(fetch())
            self._running[key] = running
            running.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(running)

    def _finished(self, key: K, done: asyncio.Future[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # read, so that a fetch nobody waits for any more logs nothing


async def _describe(client: Client, workflow_id: str) -> DescribeWorkflowExecutionResponse:
    """The server's description of the booking's latest run, as it sends it: the SDK's own
    `describe()` would also decode the run's memo and search attributes, which the page does
    not show, on every poll (0.15-0.25 ms of the 2.6-2.8 ms of CPU the app spends on a poll)."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    try:
        return await client.workflow_service.describe_workflow_execution(
            request, retry=True, timeout=RPC_TIMEOUT
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(workflow_id) from error
        raise


async def _query_status(
    handle: WorkflowHandle[Any, Any],
) -> tuple[BookingStatus | None, str | None]:
    """The saga's status from the worker, or why there is none."""
    try:
        return await handle.query(BookingWorkflow.status, rpc_timeout=RPC_TIMEOUT), None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None, None  # describe says so too, and that is what the view reports
        # Whether the server itself answers is for describe(), asked at the same time, to
        # tell; a query that fails alone means the worker did not answer it.
        seconds = RPC_TIMEOUT.total_seconds()
        return None, f"No worker answered the status query within {seconds:g} seconds."
    except WorkflowQueryFailedError as error:
        return None, f"The worker could not answer the status query ({error.message})."


async def _waiting_status(client: Client, workflow_id: str) -> BookingStatus:
    """The steps named from the workflow's input, read from its first history event."""
    events = client.get_workflow_handle(workflow_id).fetch_history_events(
        page_size=1, rpc_timeout=RPC_TIMEOUT
    )
    async for event in events:
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        converter = _converter_of(client, workflow_id)
        [booking] = await converter.decode(list(payloads), [BookingInput])
        assert isinstance(booking, BookingInput)
        return BookingStatus.waiting(booking)
    raise WorkflowNotFound(workflow_id)


def _converter_of(client: Client, workflow_id: str) -> DataConverter:
    """The client's converter as the SDK hands it a workflow's payloads: with that workflow as
    its context, which a codec may need (one that encrypts per workflow, say)."""
    return client.data_converter.with_context(
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    )


async def _worker_polling(client: Client, task_queue: str) -> bool | None:
    """None when the server cannot tell (the time-skipping test server cannot)."""
    try:
        return bool(await task_queue_pollers(client, task_queue, rpc_timeout=RPC_TIMEOUT))
    except RPCError as error:
        if error.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise


def _execution(description: DescribeWorkflowExecutionResponse) -> str:
    status = description.workflow_execution_info.status
    return execution_name(WorkflowExecutionStatus(status) if status else None)


def execution_name(status: WorkflowExecutionStatus | None) -> str:
    """A run's execution status as the page says it: running, completed, timed_out, ..."""
    return (status or WorkflowExecutionStatus.RUNNING).name.lower()


def _pending_activities(description: DescribeWorkflowExecutionResponse) -> list[PendingActivity]:
    pending = []
    for activity in description.pending_activities:
        service = service_of_activity(activity.activity_type.name)
        if service is not None:
            pending.append(
                PendingActivity(service, activity.attempt, activity.last_failure.message or None)
            )
    return pending
