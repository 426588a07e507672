-- ATMP Quality Hub warehouse schema. Runs unchanged on DuckDB and PostgreSQL.
-- All timestamps are UTC (TIMESTAMP without zone, by convention); sites carry an IANA zone for display.
-- No foreign keys: DuckDB refuses updates on referenced rows; integrity is checked on import instead.

CREATE TABLE IF NOT EXISTS schema_info (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per data domain (live, quality): a random token replaced by every transaction that writes
-- the domain's tables. Cache keys hold it, so new data invalidates cached answers (queries/engine/data_version.py).
CREATE TABLE IF NOT EXISTS data_versions (
    domain TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS sites (
    site_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    timezone TEXT NOT NULL,              -- IANA zone, e.g. America/Chicago
    kind TEXT NOT NULL CHECK (kind IN ('hub', 'node')),
    onboarded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS rooms (
    room_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    name TEXT NOT NULL,
    grade TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'CNC'))
);

CREATE TABLE IF NOT EXISTS sensors (
    sensor_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    site_id TEXT NOT NULL,               -- denormalised so scope filters need no join
    parameter TEXT NOT NULL CHECK (parameter IN
        ('temperature', 'humidity', 'diff_pressure', 'particles_0_5', 'particles_5_0')),
    unit TEXT NOT NULL,                  -- degC, pct_rh, Pa, count_m3
    interval_s INTEGER NOT NULL,         -- expected sampling interval, for completeness
    installed_at TIMESTAMP NOT NULL
);

-- Alert and action limits per parameter and grade; room_id '*' is the default, a room id overrides it.
CREATE TABLE IF NOT EXISTS limits (
    parameter TEXT NOT NULL,
    grade TEXT NOT NULL,
    room_id TEXT NOT NULL DEFAULT '*',
    alert_low DOUBLE PRECISION,
    alert_high DOUBLE PRECISION,
    action_low DOUBLE PRECISION,
    action_high DOUBLE PRECISION,
    alert_delay_s INTEGER NOT NULL DEFAULT 0,
    action_delay_s INTEGER NOT NULL DEFAULT 0,
    hysteresis DOUBLE PRECISION NOT NULL DEFAULT 0,
    basis TEXT NOT NULL,                 -- where the numbers come from (Annex 1 table, site default)
    PRIMARY KEY (parameter, grade, room_id)
);

CREATE TABLE IF NOT EXISTS readings (
    sensor_id TEXT NOT NULL,
    ts TIMESTAMP NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    msg_id TEXT UNIQUE                   -- publisher's id; NULL for bulk-loaded history
);

CREATE TABLE IF NOT EXISTS reading_rollups (
    sensor_id TEXT NOT NULL,
    grain TEXT NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
    bucket TIMESTAMP NOT NULL,
    n INTEGER NOT NULL,
    value_mean DOUBLE PRECISION NOT NULL,
    value_min DOUBLE PRECISION NOT NULL,
    value_max DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (sensor_id, grain, bucket)
);

-- Newest reading per sensor, kept by ingest: live tiles read this, never a scan of readings.
-- Empty until live data arrives (the sample history does not fill it), so a tile is never "fresh"
-- from history.
CREATE TABLE IF NOT EXISTS sensor_latest (
    sensor_id TEXT PRIMARY KEY,
    ts TIMESTAMP NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    received_at TIMESTAMP NOT NULL       -- when ingest committed it
);

CREATE SEQUENCE IF NOT EXISTS quarantine_seq;
CREATE TABLE IF NOT EXISTS quarantine (
    quarantine_id BIGINT PRIMARY KEY DEFAULT nextval('quarantine_seq'),
    received_at TIMESTAMP NOT NULL,
    topic TEXT,
    payload BYTEA,                        -- raw bytes as received (the first 4 KB): NULs, invalid UTF-8
    reason TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ingest_heartbeats (
    source TEXT NOT NULL,                -- gateway that sent it
    site_id TEXT NOT NULL,
    sensor_id TEXT,
    ts TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS excursions (
    excursion_id TEXT PRIMARY KEY,
    sensor_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    parameter TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('alert', 'action')),
    started_at TIMESTAMP NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    peak DOUBLE PRECISION NOT NULL,
    acknowledged_at TIMESTAMP,
    acknowledged_by TEXT,
    ack_comment TEXT,
    deviation_id TEXT
);

-- A deviation proposed by an action-level excursion (ingest/writer.py). It is *not* a deviation: it
-- counts in no KPI and no analysis (they read `deviations` only) until a person confirms it with an
-- electronic signature (queries/monitoring.acknowledge), which copies it into `deviations` under the
-- same id; a rejection keeps the proposal with the reason.
CREATE TABLE IF NOT EXISTS deviation_proposals (
    deviation_id TEXT PRIMARY KEY,       -- the id the deviation gets when confirmed
    excursion_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    batch_id TEXT,
    occurred_at TIMESTAMP NOT NULL,      -- excursion start (MTTD counts from it once confirmed)
    detected_at TIMESTAMP NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    root_cause_code TEXT NOT NULL,
    sop_id TEXT,
    description TEXT NOT NULL,
    decision TEXT CHECK (decision IN ('confirmed', 'rejected')),
    decided_by TEXT,
    decided_at TIMESTAMP
);

-- Release specification per product and CQA (from the product file, never from process data).
CREATE TABLE IF NOT EXISTS specifications (
    product TEXT NOT NULL,
    cqa TEXT NOT NULL,
    lower_limit DOUBLE PRECISION,
    upper_limit DOUBLE PRECISION,
    unit TEXT NOT NULL,
    PRIMARY KEY (product, cqa)
);

CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    product TEXT NOT NULL,
    process_version TEXT NOT NULL,
    apheresis_at TIMESTAMP,              -- vein-to-vein starts here
    started_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    released_at TIMESTAMP,
    infused_at TIMESTAMP,                -- vein-to-vein ends here
    status TEXT NOT NULL CHECK (status IN ('in_process', 'released', 'rejected')),
    viability_pct DOUBLE PRECISION,
    transduction_pct DOUBLE PRECISION,
    cd3_pct DOUBLE PRECISION,
    vcn DOUBLE PRECISION,
    dose DOUBLE PRECISION,
    endotoxin_eu_ml DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS deviations (
    deviation_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    batch_id TEXT,
    occurred_at TIMESTAMP NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    severity TEXT NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    category TEXT NOT NULL CHECK (category IN
        ('people', 'method', 'machine', 'material', 'environment', 'measurement')),
    root_cause_code TEXT NOT NULL,
    sop_id TEXT,
    source TEXT NOT NULL CHECK (source IN ('excursion', 'operator', 'review')),
    human_factors TEXT NOT NULL DEFAULT 'none' CHECK (human_factors IN
        ('cognitive_load', 'communication', 'environment', 'none')),
    excursion_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    operator_ref TEXT                    -- pseudonymous operator involved (training_records.operator_ref)
);
-- Warehouses created before operator_ref existed get the column (portable: DuckDB and PostgreSQL).
ALTER TABLE deviations ADD COLUMN IF NOT EXISTS operator_ref TEXT;

CREATE TABLE IF NOT EXISTS capas (
    capa_id TEXT PRIMARY KEY,
    deviation_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    effective BOOLEAN,                   -- NULL until the effectiveness check is done
    effectiveness_checked_at TIMESTAMP,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS near_misses (
    near_miss_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);

-- Programmes that change behaviour (e.g. coaching-based deviation review), for before/after views.
CREATE TABLE IF NOT EXISTS programmes (
    programme_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);

-- Anonymous: never a person id. Items 1, 3 and 5 are negatively worded (Edmondson 1999).
CREATE TABLE IF NOT EXISTS survey_responses (
    response_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    team TEXT NOT NULL,
    wave TEXT NOT NULL,                  -- e.g. 2025-Q3
    submitted_at TIMESTAMP NOT NULL,
    q1 SMALLINT NOT NULL CHECK (q1 BETWEEN 1 AND 7),
    q2 SMALLINT NOT NULL CHECK (q2 BETWEEN 1 AND 7),
    q3 SMALLINT NOT NULL CHECK (q3 BETWEEN 1 AND 7),
    q4 SMALLINT NOT NULL CHECK (q4 BETWEEN 1 AND 7),
    q5 SMALLINT NOT NULL CHECK (q5 BETWEEN 1 AND 7),
    q6 SMALLINT NOT NULL CHECK (q6 BETWEEN 1 AND 7),
    q7 SMALLINT NOT NULL CHECK (q7 BETWEEN 1 AND 7)
);

CREATE TABLE IF NOT EXISTS training_records (
    record_id TEXT PRIMARY KEY,
    operator_ref TEXT NOT NULL,          -- pseudonymous reference, never a name
    site_id TEXT NOT NULL,
    module TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    attempt_no INTEGER NOT NULL,
    attempt_at TIMESTAMP NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    passed BOOLEAN NOT NULL,
    certified_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS inspections (
    inspection_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    inspected_on DATE NOT NULL,
    authority TEXT NOT NULL,
    classification TEXT NOT NULL,        -- NAI, VAI, OAI
    findings_critical INTEGER NOT NULL DEFAULT 0,
    findings_major INTEGER NOT NULL DEFAULT 0,
    findings_minor INTEGER NOT NULL DEFAULT 0
);

-- One row per controlled document and site; drift = site_version behind master_version.
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    title TEXT NOT NULL,
    master_version INTEGER NOT NULL,
    master_effective_at TIMESTAMP NOT NULL,
    site_version INTEGER NOT NULL,
    site_effective_at TIMESTAMP NOT NULL,
    PRIMARY KEY (doc_id, site_id)
);

-- How often each SOP is executed per site and month (for deviations per execution).
CREATE TABLE IF NOT EXISTS sop_executions (
    site_id TEXT NOT NULL,
    sop_id TEXT NOT NULL,
    month DATE NOT NULL,
    executions INTEGER NOT NULL,
    PRIMARY KEY (site_id, sop_id, month)
);

CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,            -- the login name
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('leadership', 'site_manager', 'auditor', 'display', 'admin')),
    site_id TEXT,                        -- required for site_manager
    password_hash TEXT NOT NULL,         -- argon2id
    session_version INTEGER NOT NULL DEFAULT 1,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);
-- Where notifications reach a person (a rule for 'site-managers'; the owner of an acknowledgement link).
-- Added after the table (issue 12): ALTER so that a warehouse made before gains it too.
ALTER TABLE users ADD COLUMN IF NOT EXISTS email TEXT;

-- Long-lived, revocable tokens that sign a wall display in without a password (queries/records/display_tokens.py).
-- Only the SHA-256 of the secret part is stored; the token is shown once, when it is created.
CREATE TABLE IF NOT EXISTS display_tokens (
    token_id TEXT PRIMARY KEY,           -- public part, names the token in lists and revocations
    token_hash TEXT NOT NULL,            -- sha256 hex of the secret part
    user_id TEXT NOT NULL,               -- a user with role 'display'
    label TEXT NOT NULL,                 -- where the screen hangs, e.g. "QA corridor TV"
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by TEXT
);

-- QA review of proactive CAPA proposals (queries/analyses/proposals.py): one signed decision per proposal, never
-- changed (PostgreSQL triggers refuse UPDATE/DELETE). What was decided on is kept with the decision.
CREATE TABLE IF NOT EXISTS capa_proposal_decisions (
    proposal_id TEXT PRIMARY KEY,
    site_ids TEXT NOT NULL,
    source TEXT NOT NULL,
    signal TEXT NOT NULL,
    evidence TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'dismissed')),
    capa_ref TEXT,
    reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    record_sha256 TEXT NOT NULL
);

-- Validation reports (`atmp-hub validate`, validation/): each report registered by its files' SHA-256, and the
-- signatures on it (reviewed, then approved by another person), never changed (PostgreSQL triggers refuse
-- UPDATE/DELETE). The files stay where validate wrote them; a signature names the JSON record's hash.
CREATE TABLE IF NOT EXISTS validation_reports (
    report_id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    registered_by TEXT NOT NULL,
    report_dir TEXT NOT NULL,
    json_sha256 TEXT NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    verdict TEXT NOT NULL,
    deviations INTEGER NOT NULL,
    requirements INTEGER NOT NULL,
    verified INTEGER NOT NULL,
    verifiable INTEGER NOT NULL,
    git_commit TEXT
);

CREATE TABLE IF NOT EXISTS validation_signatures (
    report_id TEXT NOT NULL REFERENCES validation_reports (report_id),
    meaning TEXT NOT NULL CHECK (meaning IN ('reviewed', 'approved')),
    signed_by TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    json_sha256 TEXT NOT NULL,
    comment TEXT NOT NULL,
    PRIMARY KEY (report_id, meaning)
);

-- Notifications (notify/): who is told about which event, what is queued, and every delivery attempt.
-- A rule: one step of an escalation path. An event matching it queues its messages in the event's own
-- transaction (queries/notifications/outbox.py), due `delay_s` after the event and again every `repeat_every_s` up to
-- `repeat_max` times; an acknowledgement cancels what is still due.
CREATE TABLE IF NOT EXISTS notification_rules (
    rule_id TEXT PRIMARY KEY,
    event TEXT NOT NULL CHECK (event IN ('excursion_action', 'excursion_alert', 'import_rejected')),
    site_id TEXT,                        -- NULL: every site
    room_id TEXT,                        -- NULL: every room (excursions only)
    grade TEXT,                          -- NULL: every cleanroom grade (excursions only)
    parameter TEXT,                      -- NULL: every parameter (excursions only)
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient TEXT NOT NULL,             -- an e-mail address, or a webhook's https:// URL
    delay_s INTEGER NOT NULL DEFAULT 0,
    repeat_every_s INTEGER NOT NULL DEFAULT 0,
    repeat_max INTEGER NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The transactional outbox: one row per message to send. notification_id is derived from the event, the
-- rule and the repeat, so an event queued twice queues nothing new; it is also the message's Message-ID.
CREATE TABLE IF NOT EXISTS notification_outbox (
    notification_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    event_id TEXT NOT NULL,              -- the excursion id, or the rejected file's name
    site_id TEXT,
    rule_id TEXT NOT NULL,
    repeat_no INTEGER NOT NULL,          -- 0 the first message, 1.. the repeats
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'printed', 'cancelled')),
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,             -- a dispatcher's lease while sending; past it, another may take over
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at TIMESTAMP,
    last_response TEXT                   -- the server's reply, the error, or why it was cancelled
);

CREATE TABLE IF NOT EXISTS notification_attempts (
    notification_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'printed', 'failed', 'interrupted')),
    response TEXT NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);

-- Who is on call at a site, by weekday and local time (queries/notifications/on_call.py): a rule whose
-- recipient is "on-call" reaches whoever's shift covers the moment its message falls due.
CREATE TABLE IF NOT EXISTS on_call_shifts (
    shift_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    days TEXT NOT NULL,                  -- the weekdays a shift starts on, 1 (Monday) to 7, e.g. '12345'
    starts TEXT NOT NULL,                -- 'HH:MM' in the site's time zone
    ends TEXT NOT NULL,                  -- 'HH:MM'; earlier than starts: into the next day; equal: 24 hours
    recipient TEXT NOT NULL,             -- an e-mail address
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Remote acknowledgement links (queries/notifications/ack_links.py): one per excursion message sent, single
-- use, expiring. Only the SHA-256 of the token is stored; the token exists only in the message.
CREATE TABLE IF NOT EXISTS ack_links (
    token_hash TEXT PRIMARY KEY,
    excursion_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    used_by TEXT
);

-- System alarms (notify/alarms.py): conditions of the hub itself, raised once while they last and cleared
-- when they end; raising one queues its messages to ATMP_SYSTEM_ALARM_TO whatever the rules say.
CREATE TABLE IF NOT EXISTS system_alarms (
    alarm_id TEXT PRIMARY KEY,           -- kind/subject/since: the same condition is raised once
    kind TEXT NOT NULL CHECK (kind IN ('sensor_silent', 'ingest_stopped', 'audit_chain', 'delivery_failing')),
    subject TEXT NOT NULL,               -- a sensor, 'network', 'audit_log', a notification id
    site_id TEXT,
    detail TEXT NOT NULL,
    raised_at TIMESTAMP NOT NULL,
    cleared_at TIMESTAMP
);

-- Append-only and hash-chained: entry_hash = sha256(prev_hash || canonical entry).
CREATE SEQUENCE IF NOT EXISTS audit_log_seq;
CREATE TABLE IF NOT EXISTS audit_log (
    entry_id BIGINT PRIMARY KEY DEFAULT nextval('audit_log_seq'),
    ts TIMESTAMP NOT NULL,
    user_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    reason TEXT,
    old_value TEXT,
    new_value TEXT,
    meaning TEXT,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);

-- One row per batch and CQA with its specification and an out-of-specification flag.
CREATE OR REPLACE VIEW batch_cqa_results AS
WITH v AS (
    SELECT batch_id, site_id, product, 'viability_pct' AS cqa, viability_pct AS value FROM batches
    UNION ALL SELECT batch_id, site_id, product, 'transduction_pct', transduction_pct FROM batches
    UNION ALL SELECT batch_id, site_id, product, 'cd3_pct', cd3_pct FROM batches
    UNION ALL SELECT batch_id, site_id, product, 'vcn', vcn FROM batches
    UNION ALL SELECT batch_id, site_id, product, 'dose', dose FROM batches
    UNION ALL SELECT batch_id, site_id, product, 'endotoxin_eu_ml', endotoxin_eu_ml FROM batches
)
SELECT v.batch_id, v.site_id, v.product, v.cqa, v.value, s.lower_limit, s.upper_limit, s.unit,
       (COALESCE(v.value < s.lower_limit, FALSE) OR COALESCE(v.value > s.upper_limit, FALSE)) AS oos
FROM v
JOIN specifications s ON s.product = v.product AND s.cqa = v.cqa
WHERE v.value IS NOT NULL;
-- Every sensor with its effective limits: the room's own row in `limits` when there is one, else the
-- grade default (room_id '*'); a sensor without a limit row has NULL limits (stored, never alarms). The one
-- statement of this rule: the live engine's limits (queries/ingest/sensor_limits.sql) and the monitoring
-- page (queries/monitoring/live_values.sql) read it.
CREATE OR REPLACE VIEW sensor_effective_limits AS
SELECT s.sensor_id, l.alert_low, l.alert_high, l.action_low, l.action_high,
       l.alert_delay_s, l.action_delay_s, l.hysteresis, l.basis
FROM sensors s
JOIN rooms r ON r.room_id = s.room_id
LEFT JOIN limits l
       ON l.parameter = s.parameter AND l.grade = r.grade
      AND l.room_id = CASE WHEN EXISTS (SELECT 1 FROM limits o
                                        WHERE o.parameter = s.parameter AND o.grade = r.grade
                                          AND o.room_id = s.room_id)
                           THEN s.room_id ELSE '*' END;
CREATE INDEX IF NOT EXISTS deviations_site_detected ON deviations (site_id, detected_at);
CREATE INDEX IF NOT EXISTS batches_site_started ON batches (site_id, started_at);
CREATE INDEX IF NOT EXISTS heartbeats_site_ts ON ingest_heartbeats (site_id, ts);
CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (status, next_attempt_at);
