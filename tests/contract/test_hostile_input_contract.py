"""Hostile input against every service: a corpus of bad bodies and property-based fuzzing.

For every body, correctly signed unless the case is about signatures: a defined 2xx or 4xx,
never a 5xx (nothing here fails for any reason but the input: the database and the upstream
are healthy), the process still alive afterwards, and nothing half-processed: a refused body
leaves no processed-message document and no upstream delivery for any message it carried.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import ANSWERABLE_TYPES, MESSAGE_TYPES, PROCESSED_MESSAGES, SIGNATURE_HEADER, sign_body
from harness.bench.seeding import disabled_phone_number_id
from harness.load.payloads import PayloadFactory, encode

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # real HTTP: modest counts, reproducible in CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_WRONG_TYPED = {"number": 7, "string": "x", "list": [1], "dict": {"k": 1}, "null": None}
_FRESH = "wamid.hostile-"  # every message id a test invents starts so: unique, checkable


# -- helpers --------------------------------------------------------------------------------------
def _send(service, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    if headers is None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(body, service.bench.app_secret)}
    return httpx.post(f"{service.url}/whatsapp_response", content=body, headers=headers, timeout=60)


def _message_ids(value: Any) -> Iterator[str]:
    """Every fresh message id anywhere in a (possibly mangled) payload document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str) and item.startswith(_FRESH):
                yield item
            yield from _message_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _message_ids(item)


def _ids_in_bytes(body: bytes) -> set[str]:
    """Every fresh message id in a raw body, JSON or not."""
    text = body.decode("utf-8", "replace")
    found, start = set(), 0
    while (start := text.find(_FRESH, start)) >= 0:
        end = text.find('"', start)
        found.add(text[start:end])
        start = end
    return found


def _check(service, answer: httpx.Response, ids: Iterable[str]) -> str | None:
    """What is wrong with this answer to a body carrying the fresh message ``ids`` (None: nothing)."""
    if not service.process.alive:
        return f"the service died (exit code {service.process.returncode})"
    if not (200 <= answer.status_code < 300 or 400 <= answer.status_code < 500):
        return f"answered {answer.status_code}: {answer.text[:200]}"
    ids = sorted(set(ids))
    if not ids:
        return None
    deliveries = service.upstream.audit()["deliveries"]
    if answer.status_code >= 400:
        processed = service.db[PROCESSED_MESSAGES].find({"_id": {"$in": ids}}, {"_id": 1})
        touched = [document["_id"] for document in processed] + [w for w in ids if deliveries.get(w)]
        if touched:
            return f"refused with {answer.status_code} but processed {touched[:3]}"
    doubled = [w for w in ids if deliveries.get(w, 0) > 1]
    return f"answered {doubled[:3]} more than once" if doubled else None


def _fresh_factory(seed: int | None = None) -> PayloadFactory:
    """A factory whose message ids are unique in the session, whatever its seed."""
    factory = PayloadFactory(seed)
    factory.wamid = lambda: f"{_FRESH}{uuid.uuid4().hex}"  # type: ignore[method-assign]
    return factory


def _valid(service, factory: PayloadFactory, shape: str = "text") -> dict[str, Any]:
    pids = service.plan.active_phone_ids()
    f = factory
    if shape == "text":
        return f.text_webhook(pids[0])
    if shape == "mixed":
        return f.envelope(
            f.change(pids[1], messages=[f.message("text"), f.message("location")], statuses=[f.status("read")]),
            f.change(pids[2], messages=[f.message("interactive")]),
        )
    if shape == "status":
        return f.status_webhook(pids[3], "failed")
    if shape == "one-of-each-level":  # every level of the envelope, each list with one item
        return f.envelope(f.change(pids[7], messages=[f.message("text")], statuses=[f.status("failed")]))
    raise ValueError(shape)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a JSON document, parents before children."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield (*prefix, key)
        yield from _paths(item, (*prefix, key))


def _replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    mangled = copy.deepcopy(document)
    parent = mangled
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return mangled


# -- the corpus -----------------------------------------------------------------------------------
def test_a_wrong_type_anywhere_in_the_envelope_is_refused_or_tolerated_never_a_5xx(service):
    base = _valid(service, _fresh_factory(1), "one-of-each-level")
    problems = []
    for path in _paths(base):
        value = _get(base, path)
        for kind, wrong in _WRONG_TYPED.items():
            if _same_kind(value, wrong):
                continue
            payload = _renamed(_replaced(base, path, wrong))
            problem = _check(service, _send(service, encode(payload)), _message_ids(payload))
            if problem:
                problems.append(f"{'.'.join(map(str, path))} = {kind}: {problem}")
    assert not problems, "\n".join(problems)


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _same_kind(a: Any, b: Any) -> bool:
    kinds = ((bool,), (int, float), (str,), (list,), (dict,), (type(None),))
    return any(isinstance(a, k) and isinstance(b, k) for k in kinds) and isinstance(a, bool) == isinstance(b, bool)


def _renamed(payload: Any) -> Any:
    """The same payload with fresh message ids, so no case sees another's processed messages."""
    text = json.dumps(payload)
    factory = _fresh_factory()
    for wamid in set(_message_ids(payload)):
        text = text.replace(wamid, factory.wamid())
    return json.loads(text)


def _hostile_bodies(service) -> dict[str, bytes]:
    f = _fresh_factory(2)
    pid = service.plan.active_phone_ids()[4]
    valid = encode(f.text_webhook(pid, text="Hi there"))
    deep = encode(f.text_webhook(pid))[:-1] + b',"deep":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}"
    return {
        **{f"truncated-{n}": valid[: len(valid) * n // 4] for n in (1, 2, 3)},
        "truncated-last-byte": valid[:-1],
        "empty": b"",
        "whitespace": b" \n\t ",
        "top-level-array": b"[" + valid + b"]",
        "top-level-null": b"null",
        "top-level-number": b"1e999",
        "top-level-string": b'"whatsapp_business_account"',
        "invalid-utf8-in-a-string": encode(f.text_webhook(pid, text="Hi there")).replace(b"Hi", b"\xc3\x28", 1),
        "invalid-utf8-everywhere": bytes(range(128, 256)) * 64,
        "utf16-bom": b"\xff\xfe" + valid.decode().encode("utf-16-le"),
        "nul-bytes": valid[:40] + b"\x00" * 64 + valid[40:],
        "deep-nesting-in-an-ignored-field": deep,
        "deep-nesting-top-level": b'{"object":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "lone-surrogate-escape": encode(f.text_webhook(pid)).replace(
            b'"text":{"body":"', b'"text":{"body":"\\ud800', 1
        ),
        "blank-sender": encode(f.envelope(f.change(pid, messages=[f.message("text", sender=" ")]))).replace(
            b'"from":" "', b'"from":""', 1
        ),  # nobody to reply to: refused, not retried for ever
        "duplicate-keys": encode(f.text_webhook(pid))[:-1] + b',"object":"page"}',
        "huge-number": encode(f.text_webhook(pid)).replace(
            b'"timestamp":"', b'"timestamp":' + b"9" * 5000 + b',"t":"', 1
        ),
        "exactly-the-size-limit": valid + b" " * (4 * 1024 * 1024 - len(valid)),
    }


def test_a_corpus_of_hostile_bodies_is_refused_or_tolerated_never_a_5xx(service):
    problems = []
    for name, body in _hostile_bodies(service).items():
        problem = _check(service, _send(service, body), _ids_in_bytes(body))
        if problem:
            problems.append(f"{name}: {problem}")
    assert not problems, "\n".join(problems)


def test_a_5_mib_body_is_413_and_the_service_lives_on(service):
    payload = _fresh_factory(3).text_webhook(service.plan.active_phone_ids()[0])
    payload["entry"][0]["padding"] = "x" * (5 * 1024 * 1024)
    answer = _send(service, encode(payload))
    assert answer.status_code == 413
    assert _check(service, answer, _message_ids(payload)) is None
    assert _send(service, encode(_fresh_factory(4).text_webhook(service.plan.active_phone_ids()[0]))).status_code == 200


@pytest.mark.parametrize(
    "forgery",
    [
        "missing",
        "empty",
        "prefix-only",
        "uppercase-hex",
        "trailing-junk",
        "very-long",
        "non-ascii",
        "signs-another-secret",
    ],
)
def test_missing_or_forged_signatures_are_401_and_change_nothing(service, forgery):
    payload = _fresh_factory().text_webhook(service.plan.active_phone_ids()[1])
    body = encode(payload)
    good = sign_body(body, service.bench.app_secret)
    header = {
        "missing": None,
        "empty": "",
        "prefix-only": "sha256=",
        "uppercase-hex": "sha256=" + good[7:].upper(),
        "trailing-junk": good + "00",
        "very-long": "sha256=" + "a" * 100_000,
        "non-ascii": "sha256=" + "é" * 64,
        "signs-another-secret": sign_body(body, service.bench.app_secret + "x"),
    }[forgery]
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header.encode() if forgery == "non-ascii" else header  # type: ignore[assignment]
    answer = _send(service, body, headers)
    # A server may refuse a 100 kB header before the application sees it (400 or 431).
    assert answer.status_code in ((400, 401, 431) if forgery == "very-long" else (401,)), answer.text
    assert _check(service, answer, _message_ids(payload)) is None


@pytest.mark.parametrize(
    "phone",
    [
        "",
        " ",
        "0",
        "1" * 10_000,
        "１０６５４０３５２２４２９２２",
        "$where",
        "{'$gt': ''}",
        "106540352242922\n",
        "null",
    ],
)
def test_unknown_and_strange_phone_ids_are_never_answered(service, phone):
    payload = _fresh_factory().text_webhook(phone)
    answer = _send(service, encode(payload))
    assert answer.status_code == (400 if phone == "" else 200), answer.text  # "" is malformed; others unknown
    assert _check(service, answer, _message_ids(payload)) is None
    assert all(service.deliveries(w) == 0 for w in _message_ids(payload))


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES | {"interactive_list", "hologram", ""}))
def test_every_message_type_gets_a_defined_answer(service, kind):
    f = _fresh_factory()
    payload = f.envelope(f.change(service.plan.active_phone_ids()[2], messages=[f.message(kind)]))
    answer = _send(service, encode(payload))
    assert answer.status_code == 200, answer.text  # every type Meta sends is acknowledged
    assert _check(service, answer, _message_ids(payload)) is None
    (wamid,) = _message_ids(payload)
    answerable = kind in ANSWERABLE_TYPES or kind == "interactive_list"
    assert service.deliveries(wamid) == (1 if answerable else 0)


def test_a_1000_update_batch_of_unanswerable_updates_is_acknowledged_without_a_reply(service):
    f = _fresh_factory(5)
    known, unknown = service.plan.active_phone_ids()[5], "100000000077777"
    kinds = ("reaction", "unsupported", "system", "order", "request_welcome", "contacts")
    changes = []
    for i in range(1000):
        if i % 4 == 0:
            changes.append(f.change(known, statuses=[f.status(("sent", "delivered", "read", "failed")[i % 8 // 2])]))
        elif i % 4 == 1:
            changes.append(f.change(unknown, messages=[f.message("text")]))
        elif i % 4 == 2:
            changes.append(f.change(disabled_phone_number_id("disabled"), messages=[f.message("image")]))
        else:
            changes.append(f.change(known, messages=[f.message(kinds[i % len(kinds)])]))
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "waba-hostile", "changes": changes}]}
    answer = _send(service, encode(payload))
    assert answer.status_code == 200, answer.text
    assert answer.json()["statuses"] == 250 and answer.json()["ignored"] == 750 and answer.json()["replied"] == 0
    assert _check(service, answer, _message_ids(payload)) is None
    assert service.upstream.audit()["replies"] == 0


def test_oversized_fields_are_answered_once_with_a_bounded_reply(service):
    f = _fresh_factory(6)
    pid = service.plan.active_phone_ids()[6]
    long_text = f.message("text", text="ü" * 1_000_000)
    long_caption = f.message("image", text="c" * 500_000)
    long_location = f.message("location")
    long_location["location"]["name"] = "n" * 500_000
    long_id = f.message("text")
    long_id["id"] += "i" * 100_000
    blank = f.message("text", text=" ")
    payload = f.envelope(f.change(pid, messages=[long_text, long_caption, long_location, long_id, blank]))
    answer = _send(service, encode(payload))
    assert answer.status_code == 200, answer.text
    assert answer.json()["replied"] == 5
    assert _check(service, answer, _message_ids(payload)) is None
    assert all(service.deliveries(w) == 1 for w in _message_ids(payload))


# -- properties -----------------------------------------------------------------------------------
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=24,
)
_envelope_keys = st.sampled_from(
    [
        "object",
        "entry",
        "id",
        "changes",
        "field",
        "value",
        "metadata",
        "phone_number_id",
        "messages",
        "statuses",
        "from",
        "type",
        "text",
        "body",
        "timestamp",
    ]
)
_shaped = st.recursive(
    _json,
    lambda children: st.dictionaries(_envelope_keys, children, max_size=5) | st.lists(children, max_size=3),
    max_leaves=30,
)


@PROPERTY_SETTINGS
@given(document=_json | st.fixed_dictionaries({"object": st.just("whatsapp_business_account"), "entry": _shaped}))
def test_random_json_never_breaks_a_service(service, document):
    body = json.dumps(document).encode()
    problem = _check(service, _send(service, body), ())
    assert problem is None, (problem, body[:300])


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_refused(service, data):
    answer = _send(service, data)
    assert answer.status_code == 400 or (200 <= answer.status_code < 300), answer.text
    assert service.process.alive


_mutation = st.tuples(
    st.integers(min_value=0),
    st.sampled_from(["delete", "replace", "wrong-type", "copy-sibling", "wrap-in-list"]),
    _json,
)


@PROPERTY_SETTINGS
@given(shape=st.sampled_from(["text", "mixed", "status"]), mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_valid_payloads_are_refused_whole_or_answered_at_most_once(service, shape, mutations):
    payload = _valid(service, _fresh_factory(0), shape)
    for index, operation, value in mutations:
        paths = list(_paths(payload))
        if not paths:
            break
        payload = _mutated(payload, paths[index % len(paths)], operation, value)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")
    problem = _check(service, _send(service, body), _message_ids(payload))
    assert problem is None, (problem, body[:400])


def _mutated(payload: Any, path: tuple[Any, ...], operation: str, value: Any) -> Any:
    mangled = copy.deepcopy(payload)
    parent = _get(mangled, path[:-1])
    key = path[-1]
    if operation == "delete":
        del parent[key]
    elif operation == "replace":
        parent[key] = value
    elif operation == "wrong-type":
        current = parent[key]
        parent[key] = next(w for w in _WRONG_TYPED.values() if not _same_kind(current, w))
    elif operation == "copy-sibling" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))  # the same message twice in one body
    else:
        parent[key] = [parent[key]]
    return mangled


def test_the_same_message_twice_in_one_body_is_answered_once(service):
    f = _fresh_factory()
    message = f.message("text")
    payload = f.envelope(f.change(service.plan.active_phone_ids()[8], messages=[message, copy.deepcopy(message)]))
    answer = _send(service, encode(payload))
    assert answer.status_code == 200, answer.text
    assert answer.json()["replied"] == 1 and answer.json()["duplicates"] == 1
    assert service.deliveries(message["id"]) == 1
