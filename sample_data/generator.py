"""populate(): writes the seeded, reproducible sample network into an empty warehouse schema."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pandas as pd
from tqdm import tqdm

from queries.analyses.limits import default_limits
from queries.engine.warehouse import Warehouse
from queries.records import audit
from sample_data import environment, people, quality
from sample_data.bulk_readings import ReadingsWriter
from sample_data.leading_indicators import no_episodes, strain_episodes
from sample_data.network import SCALES, Network, build_network, sensor_table, site_table

logger = logging.getLogger(__name__)

READINGS_CHUNK_ROWS = 2_000_000  # rows per insert; a large-scale sensor alone is ~1 M
OTHER_STEPS = 9  # progress-bar steps besides one per sensor


def default_end() -> datetime:
    """Today 00:00 UTC, naive."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def populate(warehouse: Warehouse, *, seed: int = 42, scale: str = "small", end: datetime | None = None,
             progress: bool = True, audit_as: str | None = None, leading_indicators: bool = True
             ) -> dict[str, datetime]:
    """Writes the whole sample network into an (already created, empty) schema; returns the story dates.

    Same seed, scale and end give identical tables. History covers the two years before `end`
    (naive UTC; default today 00:00 UTC). Everything is written in one transaction, readings in chunks;
    with ``audit_as`` the audit entry saying who generated it is written in that transaction too.
    ``leading_indicators=False`` leaves out the staffing-strain mechanism (the risk model's negative
    control; sample_data/leading_indicators.py).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    end = _naive_utc(end) if end is not None else default_end()
    network = build_network(SCALES[scale], end)
    limits_frame = default_limits()
    limits = {(r["parameter"], r["grade"]): r for r in limits_frame.to_dict("records")}
    bar = tqdm(total=len(network.sensors) + OTHER_STEPS, desc=f"sample network ({scale})", unit="step",
               disable=not progress)
    try:
        with warehouse.transaction(bulk=True) as conn:
            def write(table: str, frame: pd.DataFrame) -> None:
                warehouse.bulk_insert(conn, table, frame)

            write("schema_info", _schema_info(network, seed))
            write("sites", site_table(network))
            write("rooms", network.rooms)
            write("sensors", sensor_table(network))
            write("limits", limits_frame)
            bar.update(1)

            outages = environment.plan_outages(network, seed)
            readings = ReadingsWriter(warehouse, conn)  # chunks of whole sensors, each engine's fast way
            found, pending, pending_rows = [], [], 0
            for sensor_id, ts, values, excursions in environment.generate_readings(network, limits, outages, seed):
                found.append(excursions)
                pending.append((sensor_id, ts, values))
                pending_rows += len(ts)
                if pending_rows >= READINGS_CHUNK_ROWS:
                    readings.write(pending)
                    pending, pending_rows = [], 0
                bar.update(1)
            readings.write(pending)
            write("ingest_heartbeats", environment.heartbeats(network, outages))
            bar.update(1)

            readings.finish()  # hourly and daily rollups (PostgreSQL: already built per chunk)
            bar.update(1)

            batch_frame = quality.batches(network, seed)
            write("specifications", quality.specifications())
            write("batches", batch_frame)
            bar.update(1)

            excursions = environment.finish_excursions(found, network, seed)
            strain = strain_episodes(network, seed) if leading_indicators else no_episodes()
            deviations = quality.deviations(network, batch_frame, excursions, seed, strain)
            training = people.training_records(network, seed, strain)
            deviations = people.assign_operators(deviations, training, seed)
            write("excursions", quality.link_excursions(excursions, deviations))
            write("deviations", deviations)
            write("capas", quality.capas(network, deviations, seed))
            write("near_misses", quality.near_misses(network, seed))
            bar.update(1)

            write("programmes", people.programmes(network))
            write("survey_responses", people.survey_responses(network, seed))
            bar.update(1)
            write("training_records", training)
            write("inspections", people.inspections(network, seed))
            bar.update(1)
            write("documents", people.documents(network, seed))
            write("sop_executions", people.sop_executions(network, batch_frame, seed))
            bar.update(1)
            dates = story_dates(network, excursions)
            write("schema_info", pd.DataFrame({"key": [f"generator_story_{k}" for k in dates],
                                               "value": [v.isoformat() for v in dates.values()]}))
            if audit_as is not None:
                audit.append(warehouse, user_id=audit_as, action="generate_sample_data",
                             new_value=f"seed={seed} scale={scale} end={end}", conn=conn)
            bar.update(1)
    finally:
        bar.close()
    logger.info("sample network written: seed %s, scale %s, end %s", seed, scale, end.isoformat())
    return dates


def _schema_info(network: Network, seed: int) -> pd.DataFrame:
    return pd.DataFrame({
        "key": ["generator_seed", "generator_scale", "generator_end"],
        "value": [str(seed), network.scale.name, network.end.isoformat()],
    })


def story_dates(network: Network, excursions: pd.DataFrame) -> dict[str, datetime]:
    """The five stories' dates; the drift excursion's start and end are read from the data."""
    st = network.stories
    story = excursions[(excursions["sensor_id"] == environment.STORY_SENSOR) & (excursions["level"] == "action")
                       & (excursions["started_at"] >= pd.Timestamp(st.drift_event_start) - pd.Timedelta(hours=2))]
    first = story.sort_values("started_at").iloc[0]
    return {
        "history_start": st.start,
        "drift_start": st.drift_start,
        "drift_excursion_start": pd.Timestamp(first["started_at"]).to_pydatetime(),
        "drift_excursion_end": pd.Timestamp(first["ended_at"]).to_pydatetime(),
        "systemic_cluster_first": st.cluster_first,
        "systemic_cluster_second": st.cluster_second,
        "coaching_start": st.coaching_start,
        "onboarding": st.onboarding,
        "silence_start": st.silence_start,
        "silence_end": st.silence_end,
    }
