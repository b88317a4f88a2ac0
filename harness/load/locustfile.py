"""Locust load for the WhatsApp webhook: Meta-like deliveries, signed, seeded, recorded.

Runs from the harness (:mod:`harness.load.profile`) and by hand against any deployment::

    WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=... LOAD_BUSINESSES=50 \\
        locust -f harness/load/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 50 -t 60s

Configured only by environment variables (parsed by :meth:`harness.load.profile.LoadProfile.from_env`):

WHATSAPP_APP_SECRET       signs every POST (``X-Hub-Signature-256`` over the exact bytes sent);
                          unset: POSTs go unsigned
WHATSAPP_VERIFY_TOKEN     sent in the GET verification handshakes
LOAD_BUSINESSES           businesses seeded (default 50) and LOAD_PHONES_PER_BUSINESS (default 2):
                          phone ids are regenerated as ``harness seed`` wrote them
LOAD_ZIPF_S               Zipf exponent for picking the business (default 1.1: a few hot
                          businesses get most messages, as in real traffic); phones are uniform
LOAD_MIX                  shares of each request kind (default
                          ``text=0.75,status=0.12,duplicate=0.05,unknown_phone=0.05,handshake=0.03``;
                          ``disabled`` may be added)
LOAD_SEED                 seed (default 1): user n of worker w draws from Random("seed:n:w"), so a
                          mix is reproducible
LOAD_WAIT_MIN/MAX         closed-loop pause between a user's requests, uniform (default 0.1 / 0.5 s)
LOAD_ARRIVAL_RATE         > 0: open loop, the users together send this many requests/s on a fixed
                          schedule (see below); LOAD_ARRIVAL_USERS: users over all processes
                          (default: -u; required on workers)
LOAD_RETRIES              retries of a POST answered 5xx or not at all (default 4), with the same
                          body and signature after LOAD_RETRY_BACKOFF_S x 2^(attempt-1) (default
                          0.5 s), as Meta retries; none once the run is stopping
LOAD_TIMEOUT_S            network timeout (default 30 s)
LOAD_RECORDS_DIR          set: every request attempt is recorded in ``records-<pid>.csv`` there,
                          one file per Locust process, columns ``harness.records.RECORD_COLUMNS``
LOAD_SERVICE, LOAD_USERS, LOAD_TRIAL   labels written into the records

Kinds (Locust's request names): ``text`` — a message to a known business, mostly text with a
few images, voice notes, button replies and locations (all answerable, so all one kind that
obliges exactly one reply); ``status`` — a delivery receipt; ``duplicate`` — the exact bytes
(and signature) of a message this user already had acknowledged, as Meta re-delivers (a text
when there is none yet); ``unknown_phone`` — a phone id never seeded; ``disabled`` — the seeded
disabled business; ``handshake`` — the GET verification, which must echo the challenge. A POST
not answered 2xx, or a handshake not echoed, is a Locust failure.

Open loop (wrk2's coordinated-omission correction): user i of U sends at the UNIX times
(k*U + i)/R. A user still busy when its time comes sends at once when free, and
``corrected_latency_ms`` runs from the scheduled time, so a stalled service cannot hide its
stall by holding the users. Retries are not scheduled: their intended start is their send time.

Exit code: ``--exit-code-on-error`` when requests failed; 4 when a task raised (a generator bug).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import random
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode

import gevent
import locust.runners
import locust.stats
from gevent import GreenletExit
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.runners import STATE_STOPPED, MasterRunner, WorkerRunner

from contract.http import WEBHOOK_PATH
from harness.load.payloads import PayloadFactory, disabled_phone_number_id, encode, phone_number_id, signed_headers
from harness.load.profile import TASK_ERROR_EXIT_CODE, LoadProfile
from harness.load.recorder import RecordsFile
from harness.records import ABANDONED, RECORD_COLUMNS

PROFILE = LoadProfile.from_env()
# The harness reads Locust's stats file for the load's first answers and the live figures: twice a
# second, not once, so a step's start is seen up to half a second sooner.
locust.stats.CSV_STATS_INTERVAL_SEC = 0.5
# A worker reports its counts to its master every second, not every three: a distributed step's
# start is seen sooner, and the master's counts lag its workers' by less.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
PROFILE_RECORDS_DIR = PROFILE.records_dir  # this process' own; a master's profile never moves it

# Written positionally (cheap); a schema change must fail loudly here, not shift columns.
_COLUMNS = (
    "service",
    "users",
    "arrival_rate",
    "trial",
    "t_start",
    "intended_start",
    "latency_ms",
    "corrected_latency_ms",
    "status",
    "kind",
    "wamid",
    "expects_reply",
    "attempt",
    "error",
)
if tuple(RECORD_COLUMNS) != _COLUMNS:
    raise RuntimeError(f"locustfile writes {_COLUMNS}, but RECORD_COLUMNS is {tuple(RECORD_COLUMNS)}")


def _tables(profile: LoadProfile) -> None:
    """Cumulative tables, built once per test: a draw is one bisect in random.choices."""
    global _KINDS, _KIND_CUM, _BUSINESSES, _BUSINESS_CUM
    _KINDS = tuple(profile.mix)
    _KIND_CUM = tuple(itertools.accumulate(profile.mix.values()))
    _BUSINESSES = range(profile.businesses)
    _BUSINESS_CUM = tuple(itertools.accumulate((b + 1) ** -profile.zipf_s for b in _BUSINESSES))


_tables(PROFILE)
_TEXT_TYPES = ("text", "image", "audio", "interactive", "location")
_TEXT_TYPE_CUM = tuple(itertools.accumulate((0.90, 0.03, 0.03, 0.02, 0.02)))
_ACKNOWLEDGED_KEPT = 16  # recent acknowledged messages a user may re-deliver as duplicates


class _Shipper:
    """A worker on another machine: its records go to the master in batches, which files them
    with the rest of the step's (its own disk would keep them out of the analysis)."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self._rows: list[tuple[object, ...]] = []
        self._pump = gevent.spawn(self._every_second)

    def write(self, row: tuple[object, ...]) -> None:
        self._rows.append(row)

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self._runner.send_message(_RECORDS_MESSAGE, rows)

    def close(self) -> None:
        self._pump.kill(block=False)
        self.flush()

    def _every_second(self) -> None:
        while True:
            gevent.sleep(1.0)
            self.flush()


_RECORDS_MESSAGE = "harness-records"
_SHIP_MESSAGE = "harness-stop-and-ship"  # master to worker: stop your users, then ship what they recorded
_SHIPPED_MESSAGE = "harness-records-shipped"  # worker to master: every record of this step has been sent
_SHIP_GRACE_S = 10.0  # beyond the users' stop timeout, for the last batch to cross the wire
_recorder: RecordsFile | _Shipper | None = RecordsFile(PROFILE.records_dir) if PROFILE.records_dir is not None else None
_received: dict[str, RecordsFile] = {}  # the master's files of its remote workers' records
_shipped: set[str] = set()  # the workers whose last records of this step have reached the master
_user_numbers = itertools.count()
_stopping = False


@events.init_command_line_parser.add_listener
def _add_profile_option(parser: Any) -> None:
    # Locust hands a master's custom options to every worker with each spawn: a worker on another
    # machine, started once, learns each step's settings (labels, seed, mix) from here. Secrets
    # are never in it; each worker reads its own from its environment.
    parser.add_argument(
        "--load-profile",
        default="",
        include_in_web_ui=False,
        help="the step's load settings as LOAD_* JSON (set by the harness)",
    )


@events.init.add_listener
def _on_init(environment: Environment, **_: object) -> None:
    if isinstance(environment.runner, MasterRunner) and PROFILE.records_dir is not None:
        environment.runner.register_message(_RECORDS_MESSAGE, _receive_records)
        environment.runner.register_message(_SHIPPED_MESSAGE, _note_shipped)
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(_SHIP_MESSAGE, _stop_and_ship, concurrent=True)


def _receive_records(environment: Environment, msg: Any, **_: object) -> None:
    recorder = _received.get(msg.node_id)
    if recorder is None:
        name = "records-remote-" + "".join(c if c.isalnum() else "-" for c in str(msg.node_id)) + ".csv"
        recorder = _received[msg.node_id] = RecordsFile(PROFILE.records_dir, name)  # type: ignore[arg-type]
    for row in msg.data:
        recorder.write(tuple(row))


def _note_shipped(environment: Environment, msg: Any, **_: object) -> None:
    _shipped.add(str(msg.node_id))


def _stop_and_ship(environment: Environment, msg: Any, **_: object) -> None:
    runner = environment.runner
    runner.stop()  # the users finish the requests in hand; test_stop then sends their records
    if isinstance(_recorder, _Shipper):
        _recorder.flush()
    runner.send_message(_SHIPPED_MESSAGE)


def _collect_remote_records(runner: MasterRunner) -> None:
    """Locust's master quits 0.5 s after telling its workers to, too soon for the records of the
    requests they had in hand (a pinned, busy bench takes longer): ask each worker to stop and
    ship them, and wait until each says it has, or the users' stop timeout has run out."""
    workers = [client.id for client in runner.clients.all]
    _shipped.clear()
    for worker in workers:
        runner.send_message(_SHIP_MESSAGE, client_id=worker)
    deadline = time.monotonic() + (runner.environment.stop_timeout or 0) + _SHIP_GRACE_S
    while not _shipped.issuperset(workers) and time.monotonic() < deadline:
        gevent.sleep(0.05)


def _adopt_master_profile(environment: Environment) -> None:
    global PROFILE, _recorder
    shipped = getattr(environment.parsed_options, "load_profile", "") if environment.parsed_options else ""
    if not shipped:
        return
    settings = json.loads(shipped)
    own = {k: v for k, v in os.environ.items() if k in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")}
    wants_records = settings.pop("LOAD_RECORDS_DIR", None) is not None
    PROFILE = LoadProfile.from_env({**settings, **own})
    PROFILE = dataclasses.replace(PROFILE, records_dir=PROFILE_RECORDS_DIR)
    _tables(PROFILE)
    WebhookUser.network_timeout = WebhookUser.connection_timeout = PROFILE.timeout_s
    if wants_records and _recorder is None and isinstance(environment.runner, WorkerRunner):
        _recorder = _Shipper(environment.runner)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: object) -> None:
    global _stopping, _user_numbers
    _adopt_master_profile(environment)
    _stopping = False
    _user_numbers = itertools.count()


@events.test_stopping.add_listener
def _on_test_stopping(environment: Environment, **_: object) -> None:
    global _stopping
    _stopping = True  # no new retries: Meta would retry, but this run is over
    if isinstance(environment.runner, MasterRunner) and PROFILE.records_dir is not None:
        _collect_remote_records(environment.runner)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: object) -> None:
    if _recorder is not None:
        _recorder.flush()
    for recorder in _received.values():
        recorder.flush()


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if runner is not None and not isinstance(runner, WorkerRunner) and runner.state != STATE_STOPPED:
        # A SIGTERM (the harness ending a step early) quits before the users stop: stop them first,
        # so the requests in hand finish and are recorded, as at the end of a full step.
        runner.stop()
    if _recorder is not None:
        _recorder.close()
    for recorder in _received.values():
        recorder.close()
    if environment.runner is not None and environment.runner.exceptions:
        environment.process_exit_code = TASK_ERROR_EXIT_CODE  # a bug here, not the service's doing


def _local_option(environment: Environment, name: str) -> int | None:
    """A command-line option of this process, unless it is a worker (workers are not told -u)."""
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return None
    return getattr(environment.parsed_options, name, None)


class WebhookUser(FastHttpUser):
    network_timeout = PROFILE.timeout_s
    connection_timeout = PROFILE.timeout_s

    def on_start(self) -> None:
        environment = self.environment
        number = next(_user_numbers)
        worker = max(getattr(environment.runner, "worker_index", 0), 0)
        self.rng = random.Random(f"{PROFILE.seed}:{number}:{worker}")
        self.payloads = PayloadFactory(self.rng.getrandbits(64), salt=PROFILE.wamid_salt)
        self.acknowledged: deque[tuple[str, bytes, dict[str, str]]] = deque(maxlen=_ACKNOWLEDGED_KEPT)
        if PROFILE.open_loop:
            self.users_label = 0
            self._schedule(environment, number, worker)
        elif PROFILE.users is not None:
            self.users_label = PROFILE.users
        else:
            self.users_label = _local_option(environment, "num_users") or 0

    def _schedule(self, environment: Environment, number: int, worker: int) -> None:
        total = PROFILE.arrival_users or _local_option(environment, "num_users")
        if not total:
            raise RuntimeError("open loop on a worker needs LOAD_ARRIVAL_USERS (the master's -u)")
        on_worker = isinstance(environment.runner, WorkerRunner)
        processes = environment.parsed_options.expect_workers if on_worker else 1
        # Workers get users round-robin, so (n * W + w) spreads the phases over 0..U-1.
        phase = ((number * processes + worker) % total) / PROFILE.arrival_rate
        self.interval = total / PROFILE.arrival_rate
        # First slot at or after now: a user spawned late does not owe a burst of past slots.
        self.due = phase + math.ceil((time.time() - phase) / self.interval) * self.interval

    def wait_time(self) -> float:
        if PROFILE.open_loop:
            return max(0.0, self.due - time.time())
        return self.rng.uniform(PROFILE.wait_min_s, PROFILE.wait_max_s)

    @task
    def deliver(self) -> None:
        intended = None
        if PROFILE.open_loop:
            if time.time() < self.due:
                return  # the first call after spawn, before this user's first slot
            intended = self.due
            self.due += self.interval
        kind = self.rng.choices(_KINDS, cum_weights=_KIND_CUM)[0]
        if kind == "handshake":
            self._handshake(intended)
        elif kind == "status":
            body = encode(self.payloads.status_webhook(self._known_phone()))
            self._post("status", body, signed_headers(body, PROFILE.app_secret), "", False, intended)
        elif kind == "duplicate" and self.acknowledged:
            wamid, body, headers = self.rng.choice(self.acknowledged)
            self._post("duplicate", body, headers, wamid, False, intended)
        elif kind == "unknown_phone":
            self._message("unknown_phone", f"18{self.rng.randrange(10**13):013d}", False, intended)
        elif kind == "disabled":
            self._message("disabled", disabled_phone_number_id("disabled"), False, intended)
        else:  # text, or a duplicate before anything was acknowledged
            self._message("text", self._known_phone(), True, intended)

    # -- request kinds ---------------------------------------------------------------------------
    def _known_phone(self) -> str:
        business = self.rng.choices(_BUSINESSES, cum_weights=_BUSINESS_CUM)[0]
        return phone_number_id(business, self.rng.randrange(PROFILE.phones_per_business))

    def _message(self, kind: str, phone: str, expects_reply: bool, intended: float | None) -> None:
        message_type = self.rng.choices(_TEXT_TYPES, cum_weights=_TEXT_TYPE_CUM)[0] if expects_reply else "text"
        wamid, body, headers = self.payloads.signed_message(phone, message_type, PROFILE.app_secret)
        status = self._post(kind, body, headers, wamid, expects_reply, intended)
        if kind == "text" and 200 <= status < 300:
            self.acknowledged.append((wamid, body, headers))

    def _post(
        self, kind: str, body: bytes, headers: dict[str, str], wamid: str, expects_reply: bool, intended: float | None
    ) -> int:
        """Deliver one body, retrying 5xx and no-answer with the same bytes, as Meta does."""
        attempt = 1
        while True:
            status = self._send("POST", WEBHOOK_PATH, kind, wamid, expects_reply, attempt, intended, body, headers)
            if 0 < status < 500 or attempt > PROFILE.retries or _stopping:
                return status
            gevent.sleep(PROFILE.retry_backoff_s * 2 ** (attempt - 1))
            if _stopping:
                return status
            attempt += 1
            intended = None  # a retry is not on the schedule

    def _handshake(self, intended: float | None) -> None:
        challenge = str(self.rng.randrange(10**9, 10**10))
        query = urlencode(
            {"hub.mode": "subscribe", "hub.verify_token": PROFILE.verify_token or "", "hub.challenge": challenge}
        )
        self._send("GET", f"{WEBHOOK_PATH}?{query}", "handshake", "", False, 1, intended, None, None, challenge)

    # -- one attempt -----------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        kind: str,
        wamid: str,
        expects_reply: bool,
        attempt: int,
        intended: float | None,
        body: bytes | None,
        headers: dict[str, str] | None,
        challenge: str | None = None,
    ) -> int:
        t_start = time.time()
        began = time.perf_counter()
        try:
            with self.client.request(
                method, path, name=kind, data=body, headers=headers, catch_response=True
            ) as response:
                latency_ms = (time.perf_counter() - began) * 1000.0
                status = response.status_code or 0
                error = "" if status else type(getattr(response, "error", None) or TimeoutError()).__name__
                problem = _contract_problem(status, error, response.content, challenge)
                if problem is None:
                    response.success()
                else:
                    response.failure(problem)
        except GreenletExit:
            # Locust stopped this user mid-request: record the attempt anyway (no answer), so the
            # message it carried is known and a reply to it is not taken for an invented one.
            self._record(
                t_start,
                intended,
                (time.perf_counter() - began) * 1000.0,
                0,
                kind,
                wamid,
                expects_reply,
                attempt,
                ABANDONED,
            )
            raise
        self._record(t_start, intended, latency_ms, status, kind, wamid, expects_reply, attempt, error)
        return status

    def _record(
        self,
        t_start: float,
        intended: float | None,
        latency_ms: float,
        status: int,
        kind: str,
        wamid: str,
        expects_reply: bool,
        attempt: int,
        error: str,
    ) -> None:
        if _recorder is None:
            return
        scheduled = t_start if intended is None else intended
        corrected_ms = latency_ms + (t_start - scheduled) * 1000.0
        _recorder.write(
            (
                PROFILE.service,
                self.users_label,
                PROFILE.arrival_rate,
                PROFILE.trial,
                round(t_start, 6),
                round(scheduled, 6),
                round(latency_ms, 3),
                round(corrected_ms, 3),
                status,
                kind,
                wamid,
                expects_reply,
                attempt,
                error,
            )
        )


def _contract_problem(status: int, error: str, content: bytes | None, challenge: str | None) -> str | None:
    """Why this answer breaks the webhook contract, or None when it is what the contract says."""
    if status == 0:
        return f"no answer ({error})"
    if challenge is not None:  # the handshake
        if status != 200:
            return f"handshake answered HTTP {status}, not 200"
        return None if content == challenge.encode() else "handshake did not echo the challenge"
    if 200 <= status < 300:
        return None
    if status >= 500:
        return f"HTTP {status}: the service failed the delivery (Meta retries)"
    return f"HTTP {status}: the contract answers 2xx to a correctly signed, valid webhook"
