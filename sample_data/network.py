"""The sample network's shape: scales, sites, rooms, sensors, and the story timeline."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

logger = logging.getLogger(__name__)

HISTORY_DAYS = 730


@dataclass(frozen=True)
class Scale:
    name: str
    interval_s: int  # reading interval of every sensor (= sensors.interval_s)
    extra_nodes: int  # generated nodes beyond the hub and the eight named ones


SCALES = {
    "small": Scale("small", 3600, 0),
    "medium": Scale("medium", 300, 0),
    "large": Scale("large", 60, 12),
}


@dataclass(frozen=True)
class SiteSpec:
    site_id: str
    name: str
    region: str
    timezone: str
    kind: str
    onboard_days: int  # onboarded this many days before `end`


# Fictitious hospital suites. SEA is the one node onboarded inside the two-year history (story d).
CORE_SITES = (
    SiteSpec("HUB", "Network Hub - Delaware Valley Cell Therapy Center", "Northeast", "America/New_York",
             "hub", 1400),
    SiteSpec("BOS", "Beacon Hill Medical Center - Cell Therapy Suite", "Northeast", "America/New_York",
             "node", 1100),
    SiteSpec("NYC", "Hudson University Hospital - Cellular Therapy Lab", "Northeast", "America/New_York",
             "node", 1000),
    SiteSpec("ATL", "Peachtree Memorial - Cell Processing Facility", "Southeast", "America/New_York",
             "node", 950),
    SiteSpec("CHI", "Lakeshore Medical Center - GMP Cell Suite", "Midwest", "America/Chicago", "node", 1200),
    SiteSpec("DEN", "Front Range Health - Cell Therapy Unit", "Mountain", "America/Denver", "node", 900),
    SiteSpec("PHX", "Desert Sky Medical Center - Cellular Therapy", "Southwest", "America/Phoenix", "node", 850),
    SiteSpec("SEA", "Puget Sound University Hospital - Cell Manufacturing", "Pacific Northwest",
             "America/Los_Angeles", "node", 300),
    SiteSpec("SFO", "Bay Medical Center - Immunotherapy Manufacturing", "West", "America/Los_Angeles",
             "node", 800),
)

# Extra nodes for the large scale; several are onboarded in the second year.
EXTRA_SITES = (
    ("MIA", "Biscayne", "Southeast", "America/New_York", 900),
    ("HOU", "Bayou City", "South", "America/Chicago", 650),
    ("DAL", "Trinity River", "South", "America/Chicago", 500),
    ("MSP", "Twin Lakes", "Midwest", "America/Chicago", 420),
    ("STL", "Gateway Arch", "Midwest", "America/Chicago", 360),
    ("NSH", "Cumberland", "South", "America/Chicago", 330),
    ("SLC", "Wasatch", "Mountain", "America/Denver", 280),
    ("ABQ", "Rio Grande", "Southwest", "America/Denver", 250),
    ("TUS", "Sonoran", "Southwest", "America/Phoenix", 220),
    ("PDX", "Willamette", "Pacific Northwest", "America/Los_Angeles", 200),
    ("SAN", "Harbor View", "West", "America/Los_Angeles", 180),
    ("LAX", "Pacific Coast", "West", "America/Los_Angeles", 150),
)

ROOMS = (
    ("A1", "A", "Grade A isolator"),
    ("B1", "B", "Grade B processing cleanroom"),
    ("C1", "C", "Grade C preparation room"),
    ("D1", "D", "Grade D corridor and gowning"),
)
BATCH_ROOM = "B1"  # batches are processed in the isolator inside the grade B suite
PARAMETERS = {  # parameter -> (sensor suffix, unit)
    "temperature": ("T", "degC"),
    "humidity": ("RH", "pct_rh"),
    "diff_pressure": ("DP", "Pa"),
    "particles_0_5": ("P05", "count_m3"),
    "particles_5_0": ("P50", "count_m3"),
}
PARTICLE_GRADES = ("A", "B")


@dataclass(frozen=True)
class Stories:
    """Where the five injected stories sit, all relative to `end` (naive UTC)."""

    end: datetime
    start: datetime
    drift_start: datetime  # (a) CHI-B1 temperature starts creeping up
    drift_event_start: datetime  # (a) reheat valve sticks: action-level excursion
    drift_event_end: datetime
    cluster_first: datetime  # (b) DOC-ENTRY on SOP-014 at ATL
    cluster_second: datetime  # (b) same code and SOP at DEN, four days later
    coaching_start: datetime  # (c) PHX coaching-based deviation review begins
    onboarding: datetime  # (d) SEA onboarded
    silence_start: datetime  # (e) NYC gateway silent
    silence_end: datetime

    @classmethod
    def from_end(cls, end: datetime) -> Stories:
        day = timedelta(days=1)
        hour = timedelta(hours=1)
        event_start = end - 60 * day + 13 * hour
        silence_start = end - 20 * day + 3 * hour
        return cls(
            end=end,
            start=end - HISTORY_DAYS * day,
            drift_start=end - 100 * day,
            drift_event_start=event_start,
            drift_event_end=event_start + 7 * hour,
            cluster_first=end - 46 * day + 14 * hour,
            cluster_second=end - 42 * day + 19 * hour,
            coaching_start=end - 365 * day,
            onboarding=end - 300 * day,
            silence_start=silence_start,
            silence_end=silence_start + 7 * hour,
        )


@dataclass
class Network:
    scale: Scale
    stories: Stories
    sites: pd.DataFrame  # + active_from: first moment the site has data
    rooms: pd.DataFrame
    sensors: pd.DataFrame  # + grade

    @property
    def start(self) -> datetime:
        return self.stories.start

    @property
    def end(self) -> datetime:
        return self.stories.end


def site_specs(scale: Scale) -> list[SiteSpec]:
    extra = [
        SiteSpec(sid, f"{city} Regional Hospital - Cell Therapy Unit", region, tz, "node", days)
        for sid, city, region, tz, days in EXTRA_SITES[: scale.extra_nodes]
    ]
    return [*CORE_SITES, *extra]


def build_network(scale: Scale, end: datetime) -> Network:
    stories = Stories.from_end(end)
    specs = site_specs(scale)
    onboarded = [end - timedelta(days=s.onboard_days) for s in specs]
    sites = pd.DataFrame({
        "site_id": [s.site_id for s in specs],
        "name": [s.name for s in specs],
        "region": [s.region for s in specs],
        "timezone": [s.timezone for s in specs],
        "kind": [s.kind for s in specs],
        "onboarded_at": pd.to_datetime(onboarded),
    })
    sites["active_from"] = sites["onboarded_at"].clip(lower=pd.Timestamp(stories.start))
    rooms = pd.DataFrame(
        [(f"{s.site_id}-{suffix}", s.site_id, f"{s.site_id} {label}", grade)
         for s in specs for suffix, grade, label in ROOMS],
        columns=["room_id", "site_id", "name", "grade"],
    )
    sensor_rows = []
    for room in rooms.itertuples(index=False):
        for parameter, (suffix, unit) in PARAMETERS.items():
            if parameter.startswith("particles") and room.grade not in PARTICLE_GRADES:
                continue
            sensor_rows.append((f"{room.room_id}-{suffix}", room.room_id, room.site_id, parameter, unit,
                                room.grade))
    sensors = pd.DataFrame(sensor_rows, columns=["sensor_id", "room_id", "site_id", "parameter", "unit", "grade"])
    sensors["interval_s"] = scale.interval_s
    sensors["installed_at"] = sensors["site_id"].map(sites.set_index("site_id")["onboarded_at"])
    return Network(scale=scale, stories=stories, sites=sites, rooms=rooms, sensors=sensors)


def site_table(network: Network) -> pd.DataFrame:
    return network.sites.drop(columns=["active_from"])


def sensor_table(network: Network) -> pd.DataFrame:
    return network.sensors.drop(columns=["grade"])
