"""Live ingest inside the app process (started by create_app): the embedded default and in-app bridge.

- No ATMP_MQTT_URL: the simulator feeds the ingest service directly (validate -> write, the same
  path the bridge uses), so `make run` shows live values and excursions without a broker.
- ATMP_MQTT_URL set: the bridge consumes the broker (unless ATMP_BRIDGE_IN_APP=false, for several
  PostgreSQL workers with one `atmp-hub bridge` process), and the simulator, when on, publishes to it.

The simulator runs only in development with the real clock (ATMP_NOW unset): it writes real-time
readings, which a pinned clock (tests, reproducible demos) would contradict.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass, field

from ingest.bridge import BrokerAddress, MqttBridge, validation_limits
from ingest.service import IngestService
from ingest.simulator import SensorSimulator, sensors_from_frame
from ingest.writer import IngestWriter, Message, utc_now
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)


@dataclass
class LiveIngest:
    mode: str  # 'embedded', 'bridge', 'off'
    service: IngestService | None = None
    bridge: MqttBridge | None = None
    stops: list = field(default_factory=list)

    def status(self) -> dict:
        service = self.bridge.service if self.bridge else self.service
        return {"mode": self.mode, "last_commit_at": service.last_commit_at if service else None,
                "stats": dict(service.stats) if service else {}, "last_error": service.last_error if service else None}

    def stop(self) -> None:
        for stop in self.stops:
            stop.set()
        if self.bridge is not None:
            self.bridge.stop()
        if self.service is not None:
            self.service.stop()


def simulator_allowed(settings: Settings) -> bool:
    return settings.simulator and settings.environment == "development" and not settings.now


def start_live_ingest(settings: Settings, warehouse: Warehouse) -> LiveIngest:
    """Start what the settings ask for; never raises (a dashboard without live data still serves)."""
    try:
        return _start(settings, warehouse)
    except Exception as exc:  # e.g. an empty warehouse without a schema yet
        logger.warning("live ingest not started: %s: %s", type(exc).__name__, exc)
        return LiveIngest("off")


def _start(settings: Settings, warehouse: Warehouse) -> LiveIngest:
    simulate = simulator_allowed(settings)
    if not settings.mqtt_url:
        if not simulate:
            return LiveIngest("off")
        writer = IngestWriter(warehouse, limits=validation_limits(settings), source="embedded-simulator",
                              public_url=settings.public_url, notify_on_clear=settings.notify_on_clear)
        service = IngestService(writer, batch_max=settings.ingest_batch_max,
                                batch_wait_ms=settings.ingest_batch_wait_ms).start()
        simulator = SensorSimulator(sensors_from_frame(warehouse.query("ingest/sensor_limits")),
                                    interval_s=settings.simulator_interval_s, scenario=settings.simulator_scenario,
                                    topic_prefix=settings.mqtt_topic_prefix)

        def feed(topic: str, payload: bytes) -> None:
            service.submit(Message(topic=topic, payload=payload, received_at=utc_now()))
        _, stop = simulator.start(feed)
        live = LiveIngest("embedded", service=service, stops=[stop])
    else:
        live = LiveIngest("bridge" if settings.bridge_in_app else "off")
        if settings.bridge_in_app:
            live.bridge = MqttBridge(settings, warehouse).start()
        if simulate:
            live.stops.append(start_publishing_simulator(settings, sensors_from_frame(
                warehouse.query("ingest/sensor_limits"))))
    atexit.register(live.stop)
    logger.info("live ingest: %s", live.mode)
    return live


def start_publishing_simulator(settings: Settings, sensors, *, client_id: str | None = None) -> threading.Event:
    """The simulator publishing QoS-1 messages to the broker (paho's thread reconnects on loss)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    address = BrokerAddress.parse(settings.mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"{settings.mqtt_client_id}-simulator",
                         protocol=mqtt.MQTTv5)
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(1, 30)
    client.connect_async(address.host, address.port, keepalive=30)
    client.loop_start()
    simulator = SensorSimulator(sensors, interval_s=settings.simulator_interval_s,
                                scenario=settings.simulator_scenario, topic_prefix=settings.mqtt_topic_prefix)
    _, stop = simulator.start(lambda topic, payload: client.publish(topic, payload, qos=1))

    def _close():
        stop.wait()
        client.disconnect()
        client.loop_stop()
    threading.Thread(target=_close, daemon=True, name="simulator-close").start()
    return stop
