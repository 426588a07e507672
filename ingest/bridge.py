"""The MQTT bridge: subscribes to everything under the topic prefix (QoS 1) and hands messages to
ingest; those not on <prefix>site/<site>/room/<room>/sensor/<sensor> are quarantined (bad_topic).

- MQTT 5 with a fixed client id, clean_start=False and a session expiry: the broker keeps the
  subscription and queues QoS-1 messages while the bridge is down, and re-sends the ones it had sent
  but not seen acknowledged. (Mosquitto drops queued messages beyond `max_queued_messages`, 1000 by
  default: raise it on the broker.)
- manual_ack: a message is acknowledged only after the batch holding it has committed.
- Receive Maximum bounds how many unacknowledged messages the broker sends at once (without it
  Mosquitto allows 20 in flight, which would starve batching).
- paho's network thread reconnects by itself with exponential backoff (1 s up to 30 s).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.service import IngestService
from ingest.validation import Limits
from ingest.writer import IngestWriter, Message, utc_now
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps the session (and queues) for a week offline
KEEPALIVE_S = 30


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} (use mqtt://host:port)")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        return cls(parts.hostname, parts.port or 1883, parts.username, parts.password)


def subscription(prefix: str = "") -> str:
    """Everything under the prefix (`<prefix>#`), not only the readings' pattern: a message on any other
    topic there (`sites/...`, an extra or a missing level) is quarantined as `bad_topic` instead of
    never being seen. A filter's `#` must be a whole level, so a prefix not ending in '/' is cut back
    to its last '/' (and the topics beside it are quarantined too). An empty prefix subscribes to
    `#`: every topic on the broker except `$SYS/...`."""
    return prefix[:prefix.rfind("/") + 1] + "#"


def validation_limits(settings: Settings) -> Limits:
    return Limits(max_payload_bytes=settings.ingest_max_payload_bytes, max_future_s=settings.ingest_max_future_s,
                  max_age_days=settings.ingest_max_age_days, topic_prefix=settings.mqtt_topic_prefix)


class MqttBridge:
    def __init__(self, settings: Settings, warehouse: Warehouse, *, on_commit=None, writer: IngestWriter | None = None,
                 dead_letter_path: Path | str | None = None):
        self.settings = settings
        self.address = BrokerAddress.parse(settings.mqtt_url)
        self.topic = subscription(settings.mqtt_topic_prefix)
        self.writer = writer or IngestWriter(warehouse, limits=validation_limits(settings), source="mqtt-bridge",
                                                  public_url=settings.public_url,
                                                  notify_on_clear=settings.notify_on_clear)
        self.service = IngestService(self.writer, batch_max=settings.ingest_batch_max,
                                     batch_wait_ms=settings.ingest_batch_wait_ms, on_commit=on_commit,
                                     dead_letter_path=dead_letter_path)
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # SUBACK seen: messages published from now on reach us
        self._disconnected = threading.Event()
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.settings.mqtt_client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> MqttBridge:
        self.service.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = max(1, min(self.settings.mqtt_receive_maximum, 65535))
        self.client.connect_async(self.address.host, self.address.port, keepalive=KEEPALIVE_S,
                                  clean_start=False, properties=props)
        self.client.loop_start()  # paho's thread: connects, reconnects with backoff, reads
        logger.info("bridge %s -> %s:%s %s", self.settings.mqtt_client_id, self.address.host, self.address.port,
                    self.topic)
        return self

    def stop(self, timeout: float = 10.0) -> int:
        """Stop consuming; messages received but not yet written stay unacknowledged (re-delivered)."""
        self.client.on_message = None
        left = self.service.stop(timeout)
        was_connected = self.connected.is_set()
        self.client.disconnect()
        if was_connected:  # paho writes queued packets in order: acks leave before the DISCONNECT
            self._disconnected.wait(timeout)
        self.client.loop_stop()
        self.connected.clear()
        self.subscribed.clear()
        return left

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Connected *and* subscribed: before the SUBACK a fresh session drops what is published."""
        return self.subscribed.wait(timeout)

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.error("MQTT connect refused: %s", reason_code)
            return
        # Subscribing again when the session survived is harmless and repairs a lost subscription.
        client.subscribe(self.topic, qos=1)
        logger.info("MQTT connected (session present: %s)", flags.session_present)
        self._disconnected.clear()
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            logger.error("MQTT subscription to %s refused: %s", self.topic, failed)
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        self.subscribed.clear()
        self._disconnected.set()
        if reason_code != 0:
            logger.warning("MQTT connection lost (%s); paho reconnects with backoff", reason_code)

    def _on_message(self, client, userdata, msg):
        ack = partial(client.ack, msg.mid, msg.qos) if msg.qos > 0 else None
        self.service.submit(Message(topic=msg.topic, payload=msg.payload, received_at=utc_now(), ack=ack))
