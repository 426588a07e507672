"""Every callback input, checked at the boundary: one hook in front of Dash's /_dash-update-component.

A Dash renderer sends, for each callback, the inputs and states the callback declares, in order, each with
a value of the type its component holds. A forged or broken client can send anything: a list where a
dropdown holds one value, a dict, a number where a date is expected, a key missing. Issue 26.5 found such
values reaching unhandled exceptions (unhashable lists in `x in set`, dates past year 9999, no pathname).

So before a request reaches the response cache or Dash (``init_input_checks``, registered after the auth
guard):

1. Its shape is checked against the callback's declaration (Dash's callback map): a known callback, the
   declared inputs and states in order, well-formed ids, changed properties among the inputs. Anything
   else is no request a renderer sends: 400, logged at WARNING, and it never reaches a callback.
2. Every value is replaced by its normalised form (``_kinds()`` for named inputs, else by property:
   ``BY_PROPERTY``, else one JSON scalar). A value of the wrong type or out of bounds becomes None, "not
   given", which every callback already handles (its default, or 'not found'); a list reaches a callback
   only where the component holds a list. The fields of signed forms are the exception (``form_text``):
   there a wrong value becomes "", which the form refuses with its own message, since None can mean
   'not said'. A pathname that is no path is answered with no update (204).

The callbacks still validate meaning (a site in the user's scope, a product among the products, a date in
a sane range) with the helpers below; scope is never taken from the browser. The normalised body is what
the response cache keys on, so junk values cannot force a recomputation either.

Flask parses the body once and returns the same object to every later ``request.get_json()`` (its
``cache`` parameter): the hook changes that object in place, and Dash reads the changed one."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from datetime import date

from flask import Flask, Response, current_app, jsonify, request
from flask_login import current_user

from dashboard import ids
from dashboard.context import WINDOW_CHOICES

logger = logging.getLogger(__name__)

PATH = "/_dash-update-component"
MAX_TEXT = 10_000  # longer than any field of the app (reasons and comments stop at 1,000 with a message)
MAX_ITEMS = 200  # items of a list value (a checklist, a multi-select)
MAX_DEPTH = 6  # nesting of a store's JSON
SAFE_INT = 2**53  # the largest integer a browser holds exactly
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2100, 12, 31)


class Refused(Exception):
    """A value the callback cannot answer at all (a pathname that is no path): no update (204)."""


# --- helpers: what a value may be ------------------------------------------------------------------
def _clean(text: str) -> str:
    """Text as it can be stored and sent back: no NUL (PostgreSQL refuses it), no lone surrogate
    (no UTF-8 encoding exists for it)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def as_text(value, max_len: int = MAX_TEXT, default: str | None = None) -> str | None:
    """A string of at most max_len characters (cleaned), else default."""
    if not isinstance(value, str) or len(value) > max_len:
        return default
    return _clean(value)


def form_text(value) -> str | None:
    """A field of a signed form (a comment, a reason, a password, the record or decision signed): text as
    sent, or None when none was sent. Anything else becomes "" rather than None, because a form may read
    None as 'not said' (an excursion's deviation decision: keep) where a forged value must be refused with
    the form's own message; an over-long text stays over-long, so the form says how long it may be."""
    if value is None:
        return None
    if not isinstance(value, str):
        return ""
    return _clean(value[:MAX_TEXT + 1])


def as_int(value, default: int | None = None, lo: int = -SAFE_INT, hi: int = SAFE_INT) -> int | None:
    """An integer (not a bool, not a float, not a numeric string) in [lo, hi], else default."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        return default
    return value


def as_count(value) -> int | None:
    """n_clicks, n_intervals: a non-negative integer, else None (no click, no tick)."""
    return as_int(value, None, 0, SAFE_INT)


def one_of(value, allowed: Iterable, default=None):
    """``value`` if it is one of ``allowed`` (and of the same type: True is not 1), else default."""
    try:
        hash(value)
    except TypeError:
        return default
    return next((a for a in allowed if type(a) is type(value) and a == value), default)


def as_date(value, default: date, lo: date = MIN_DATE, hi: date = MAX_DATE) -> date:
    """An ISO date (YYYY-MM-DD) clamped into [lo, hi]; default if it is no date."""
    if not isinstance(value, str | date) or (isinstance(value, str) and len(value) > 32):
        return default
    try:
        day = value if isinstance(value, date) else date.fromisoformat(value.strip())
    except ValueError:
        return default
    return min(max(day, lo), hi)


def date_clamped(value, lo: date = MIN_DATE, hi: date = MAX_DATE) -> bool:
    """True when ``value`` is a date outside [lo, hi] (as_date moved it): the page says so."""
    try:
        day = date.fromisoformat(value.strip()) if isinstance(value, str) and len(value) <= 32 else None
    except ValueError:
        return False
    return day is not None and not lo <= day <= hi


def as_str_list(value, max_items: int = MAX_ITEMS, max_len: int = 200) -> list[str] | None:
    """A list of strings (a checklist, a multi-select): items of another type or too long are dropped;
    None stays None (nothing chosen); anything that is not a list is an empty choice."""
    if value is None:
        return None
    if not isinstance(value, list):
        return []
    return [_clean(v) for v in value[:max_items] if isinstance(v, str) and len(v) <= max_len]


def scalar(value, max_len: int = MAX_TEXT):
    """One JSON scalar (what a dropdown, radio, input or select holds): a string, a finite number, a
    bool; a list, a dict, a non-finite or unsafe number, an over-long string become None."""
    if isinstance(value, str):
        return as_text(value, max_len)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return as_int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) and abs(value) <= SAFE_INT else None
    return None


def json_value(value, depth: int = 0):
    """Bounded JSON (what a dcc.Store holds): scalars as ``scalar``, lists and dicts of at most
    MAX_ITEMS entries and MAX_DEPTH levels; whatever exceeds a bound becomes None."""
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH or len(value) > MAX_ITEMS:
            return None
        if isinstance(value, list):
            return [json_value(v, depth + 1) for v in value]
        return {_clean(str(k))[:200]: json_value(v, depth + 1) for k, v in value.items()}
    return scalar(value)


def clicked_id(value) -> str | None:
    """A chart click (a graph's clickData) reduced to what a record link needs: the first point's first
    customdata value, as text of at most 120 characters; anything else None."""
    try:
        first = value["points"][0]["customdata"][0]
    except (TypeError, KeyError, IndexError):
        return None
    return as_text(first, 120)


def path(value) -> str:
    """A location's pathname: a local path, else the request gets no update."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2048 or "\x00" in value:
        raise Refused(f"pathname {str(value)[:40]!r} is no path")
    return _clean(value)


def query_string(value) -> str:
    """A location's search ('?a=b'), else none."""
    text = as_text(value, 2048, "")
    return text if text.startswith("?") else ""


def _choice(allowed: Iterable) -> Callable:
    allowed = tuple(allowed)
    return lambda value: one_of(value, allowed)


def _window(value):
    return one_of(value, WINDOW_CHOICES)


def _playlist(value):
    """The kiosk's playlist store (dashboard/pages/kiosk.py): slide keys and titles, seconds per slide and
    minutes between reloads; the callback parses the slides again under the user's scope."""
    if not isinstance(value, dict):
        return None
    return {"slides": as_str_list(value.get("slides"), 40, 40), "titles": as_str_list(value.get("titles"), 40, 200),
            "interval": as_int(value.get("interval")), "reload": as_int(value.get("reload"))}


def _product(value):
    """One of the products with a specification (the same choices for every user; the warehouse's answer
    is cached), so a made-up product cannot make the page compute, or miss the response cache, at all."""
    from dashboard import page_items

    return one_of(value, page_items.products()) if isinstance(value, str) else None


# --- what each input may hold ----------------------------------------------------------------------
# The fields of the signed forms (excursion acknowledgement, CAPA proposal review, validation report): validated,
# with their messages, by the query layer that records the signature (queries/analyses/monitoring.py,
# queries/analyses/proposals.py, queries/records/validation_reports.py).
SIGNED_FORM_FIELDS = (ids.MON_ACK_EXCURSION, ids.MON_ACK_COMMENT, ids.MON_ACK_PASSWORD, ids.MON_ACK_DEVIATION,
                      ids.SIG_REVIEW_PROPOSAL, ids.SIG_REVIEW_DECISION, ids.SIG_REVIEW_CAPA_REF,
                      ids.SIG_REVIEW_REASON, ids.SIG_REVIEW_PASSWORD, ids.ACKL_COMMENT, ids.ACKL_PASSWORD,
                      ids.ACKL_DEVIATION, ids.VAL_REPORT, ids.VAL_MEANING, ids.VAL_COMMENT, ids.VAL_PASSWORD)


def _kinds() -> dict[tuple[str, str], Callable]:
    """Inputs whose value is not one scalar, or is one of a fixed set (the choice offered). Imported late:
    the query modules are the pages' (dashboard.app imports this module first)."""
    from queries.analyses import monitoring, signals
    from queries.kpi.catalog import CQA_COLUMNS

    windows = {(w, "value"): _window for w in (ids.OV_WINDOW, ids.SITE_WINDOW, ids.SIG_WINDOW, ids.CMP_WINDOW,
                                               ids.PPL_WINDOW)}
    return windows | {
        (ids.SIG_SYSTEMIC_ALL, "value"): as_str_list,  # a checklist
        (ids.SITE_TIMELINE, "clickData"): clicked_id,  # a timeline point: its deviation id
        (ids.PPL_TEAMS, "value"): as_str_list,  # a multi-select
        (ids.NOT_SHIFT_DAYS, "value"): as_str_list,  # a checklist of weekdays
        (ids.KIOSK_PLAYLIST, "data"): _playlist,
        (ids.SIG_PRODUCT, "value"): _product,
        (ids.CMP_PRODUCT, "value"): _product,
        (ids.SIG_RULES, "value"): _choice(signals.RULE_SETS),
        (ids.SIG_CQA, "value"): _choice(CQA_COLUMNS),
        (ids.SIG_SYSTEMIC_WINDOW, "value"): _choice(signals.SYSTEMIC_WINDOWS),
        (ids.MON_TREND_WINDOW, "value"): _choice(monitoring.TREND_WINDOWS),
    } | {(field, "value"): form_text for field in SIGNED_FORM_FIELDS}


BY_PROPERTY: dict[str, Callable] = {
    "n_clicks": as_count, "n_intervals": as_count, "n_submit": as_count, "n_blur": as_count,
    "pathname": path, "search": query_string, "hash": lambda v: as_text(v, 2048, ""),
    "data": json_value,
}
_KINDS: dict[tuple[str, str], Callable] | None = None


def kind_of(component_id, prop: str) -> Callable:
    """How the value of one input or state is normalised."""
    global _KINDS
    if _KINDS is None:
        _KINDS = _kinds()
    if isinstance(component_id, str):
        declared = _KINDS.get((component_id, prop))
        if declared is not None:
            return declared
    return BY_PROPERTY.get(prop, scalar)


def declared_kinds() -> dict[tuple[str, str], Callable]:
    kind_of("", "")
    return dict(_KINDS or {})


# --- the request -----------------------------------------------------------------------------------
class Malformed(Exception):
    """No request a Dash renderer sends for this app: 400."""


def _id_text(component_id) -> str:
    """An id as one canonical text (a dict as sorted, compact JSON), to compare prop ids by."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _changed_id(prop_id) -> str:
    """A changedPropIds entry ('id.property', a dict id as JSON) in the same canonical text."""
    if not isinstance(prop_id, str) or "." not in prop_id:
        raise Malformed("changedPropIds must name inputs of the request")
    component, prop = prop_id.rsplit(".", 1)
    if component.startswith("{"):
        try:
            component = _id_text(json.loads(component))
        except ValueError:
            raise Malformed("a changed id that is no JSON") from None
    return f"{component}.{prop}"


def _output(item) -> bool:
    """One output spec: {"id", "property"} (a list of them for a pattern-matching ALL output)."""
    if isinstance(item, list):
        return len(item) <= MAX_ITEMS and all(_output(i) for i in item)
    return (isinstance(item, dict) and isinstance(item.get("id"), str | dict)
            and isinstance(item.get("property"), str))


def _pattern_matches(pattern: dict, component_id) -> bool:
    """A concrete dict id fits a declared pattern id (wildcards match any scalar)."""
    if not isinstance(component_id, dict) or set(component_id) != set(pattern):
        return False
    for key, want in pattern.items():
        got = component_id[key]
        if isinstance(got, bool) or not isinstance(got, str | int | float):
            return False
        if not isinstance(want, list) and got != want:  # a wildcard is written ["ALL"], ["MATCH"]...
            return False
    return True


def _entry(declared: dict, sent, prop_ids: set[str]) -> None:
    """Check one sent input or state against its declaration and normalise its value in place."""
    declared_id, prop = declared["id"], declared["property"]
    if declared_id.startswith("{"):
        pattern = json.loads(declared_id)
        wildcards = [v for v in pattern.values() if isinstance(v, list)]
        items = sent if isinstance(sent, list) else [sent]
        if isinstance(sent, list) and not any(w in (["ALL"], ["ALLSMALLER"]) for w in wildcards):
            raise Malformed(f"a list for the single input {declared_id}.{prop}")
        if len(items) > MAX_ITEMS:
            raise Malformed(f"{len(items)} components for {declared_id}.{prop}")
    else:
        items = [sent]
    for item in items:
        if not isinstance(item, dict) or item.get("property") != prop:
            raise Malformed(f"input {declared_id}.{prop} missing or out of order")
        if declared_id.startswith("{"):
            if not _pattern_matches(pattern, item.get("id")):
                raise Malformed(f"an id that is not one of {declared_id}")
        elif item.get("id") != declared_id:
            raise Malformed(f"input {declared_id}.{prop} missing or out of order")
        prop_ids.add(f"{_id_text(item['id'])}.{prop}")
        item["value"] = kind_of(item["id"], prop)(item.get("value"))


def normalise(body, callback_map: dict) -> None:
    """Check a /_dash-update-component body against the callback's declaration and normalise every value
    in place. Raises Malformed (400) or Refused (204)."""
    if not isinstance(body, dict):
        raise Malformed("the body is not an object")
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise Malformed("no such callback")
    spec = callback_map[output]
    n_outputs = len(output.strip(".").split("...")) if output.startswith("..") else 1
    outputs = body.get("outputs")
    if not (_output(outputs) if n_outputs == 1 else
            isinstance(outputs, list) and len(outputs) == n_outputs and all(_output(o) for o in outputs)):
        raise Malformed("outputs do not match the callback")
    for part in ("inputs", "state"):
        sent = body.get(part, [] if part == "state" else None)
        declared = spec.get(part, [])
        if not isinstance(sent, list) or len(sent) != len(declared):
            raise Malformed(f"{part}: {len(declared)} expected")
    input_ids: set[str] = set()
    for declared, sent in zip(spec.get("inputs", []), body["inputs"], strict=True):
        _entry(declared, sent, input_ids)
    for declared, sent in zip(spec.get("state", []), body.get("state", []), strict=True):
        _entry(declared, sent, set())
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(_changed_id(c) in input_ids for c in changed):
        raise Malformed("changedPropIds must name inputs of the request")


def init_input_checks(server: Flask) -> None:
    """Register the hook; call it after the auth guard (which answers first: 401/403/415) and before the
    response cache (which keys on the normalised body). The app's Dash callback map is looked up at
    request time in server.extensions["atmp_callback_map"] (set by dashboard.app once Dash is built)."""

    @server.before_request
    def _check_callback_inputs():
        if request.path != PATH or request.method != "POST" or not current_user.is_authenticated:
            return None
        callback_map = current_app.extensions.get("atmp_callback_map")
        if callback_map is None:
            return None
        body = request.get_json(silent=True)  # the object Dash's own get_json() returns afterwards
        try:
            normalise(body, callback_map)
        except Malformed as bad:
            logger.warning("callback request refused (%s) from %s", bad, current_user.user_id)
            return jsonify(error=f"malformed callback request: {bad}"), 400
        except Refused as refused:
            logger.info("callback request answered with no update: %s", refused)
            return Response(status=204)
        return None
