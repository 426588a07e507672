"""What the browser sees when something fails: a clear banner, never a stack trace or SQL."""

from __future__ import annotations

import logging
import uuid

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html, set_props
from werkzeug.exceptions import HTTPException

from dashboard import context, ids
from queries.engine.warehouse import WarehouseUnavailable

logger = logging.getLogger(__name__)

HEALTH_CHECK_MS = 15_000
WAREHOUSE_DOWN = ("⚠ The data warehouse is not reachable: the figures on this page may not be current. "
                  "The hub retries every 15 seconds and this notice disappears when it answers again.")


def banners() -> html.Div:
    """Placed once in the page shell."""
    return html.Div([
        dbc.Alert(WAREHOUSE_DOWN, id=ids.WAREHOUSE_BANNER, color="danger", is_open=False, className="mb-2"),
        dbc.Alert(id=ids.ERROR_BANNER, color="warning", is_open=False, dismissable=True, className="mb-2"),
        dcc.Interval(id=ids.HEALTH_TICK, interval=HEALTH_CHECK_MS),
    ])


def on_callback_error(err: Exception):
    """Dash's app-wide callback error handler: refusals stay HTTP errors, failures become banners."""
    if isinstance(err, HTTPException):
        raise err  # 401/403/404 for crafted requests, unchanged
    if isinstance(err, WarehouseUnavailable):
        logger.error("warehouse unavailable during a callback: %s", err)
        set_props(ids.WAREHOUSE_BANNER, {"is_open": True})
        return None
    reference = uuid.uuid4().hex[:8]
    logger.exception("callback failed (reference %s)", reference, exc_info=err)
    set_props(ids.ERROR_BANNER, {
        "is_open": True,
        "children": f"⚠ Something went wrong while updating this page (reference {reference}). "
                    "The details are in the server log; please tell your administrator the reference.",
    })
    return None


def register(app) -> None:
    """The banner's callback, on the app itself: a module-level @callback would reach only the first
    app built in the process (Dash's global callback list is emptied by the app that takes it)."""
    app.callback(Output(ids.WAREHOUSE_BANNER, "is_open"), Input(ids.HEALTH_TICK, "n_intervals"))(check_warehouse)


def check_warehouse(_ticks):
    """Shows the banner while the warehouse is down and hides it when it answers again."""
    context.user()
    try:
        context.warehouse().query("sql/ping")
    except WarehouseUnavailable:
        return True
    return False
