"""A network whose risk model earns its ranking (the sample's does not): for tests of the page's gate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from live_support import seed_network

from queries.engine.warehouse import Warehouse
from sample_data.network import SCALES, build_network, sensor_table

EARNED_END = datetime(2026, 6, 1)
RISKY_SITES = ("ATL", "CHI")


def write_earned_history(wh: Warehouse, *, with_users: bool = True) -> None:
    """The sample network's sites (and the live tests' users); ATL and CHI have an action-level
    excursion on the 10th of every month, every site one minor deviation a month (causes all different:
    no cross-site cluster). The outcome repeats at ATL and CHI, the deviation count ties every site: the
    model ranks them first, the naive baseline cannot."""
    seed_network(wh, with_users=with_users)
    sensors = sensor_table(build_network(SCALES["small"], datetime(2026, 1, 1))).groupby("site_id").first()
    months = pd.date_range("2023-06-01", EARNED_END, freq="MS", inclusive="left") + timedelta(days=9)
    excursions = pd.DataFrame([
        {"excursion_id": f"EXC-{site}-{t:%Y%m}", "sensor_id": sensors.loc[site, "sensor_id"],
         "room_id": sensors.loc[site, "room_id"], "site_id": site, "parameter": sensors.loc[site, "parameter"],
         "level": "action", "started_at": t, "detected_at": t + timedelta(minutes=5),
         "ended_at": t + timedelta(hours=1), "peak": 30.0}
        for site in RISKY_SITES for t in months])
    deviations = pd.DataFrame([
        {"deviation_id": f"DEV-{site}-{t:%Y%m}", "site_id": site, "occurred_at": t + timedelta(days=3),
         "detected_at": t + timedelta(days=3, hours=4), "closed_at": t + timedelta(days=20), "severity": "minor",
         "category": "method", "root_cause_code": f"MTH-{site}-{t:%Y%m}", "source": "operator",
         "description": "synthetic"}
        for site in sensors.index for t in months])
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "excursions", excursions)
        wh.bulk_insert(conn, "deviations", deviations)
