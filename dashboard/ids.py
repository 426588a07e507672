"""Every component id of the app, in one place; pattern-matching ids are dicts built here."""

from __future__ import annotations

URL = "url"
NAVBAR = "navbar"
WAREHOUSE_BANNER = "warehouse-banner"
ERROR_BANNER = "error-banner"
HEALTH_TICK = "health-tick"

# overview
OV_WINDOW = "overview-window"
OV_TILES = "overview-tiles"
OV_GRID = "overview-grid"
OV_GRID_HTML = "overview-grid-html"  # the grid as escaped HTML (components/site_grid.py)
OV_GRID_HOST = "overview-grid-host"  # where assets/grid.js writes it
OV_AS_OF = "overview-as-of"
OV_REFRESH = (OV_TILES, OV_GRID_HTML, OV_GRID, OV_AS_OF)  # outputs of the overview's refresh callback

# site drill-down
SITE_ID_STORE = "site-id"
SITE_TIMELINE = "site-deviation-timeline"
SITE_RECORD_NAV = "site-record-nav"
SITE_WINDOW = "site-window"
SITE_BODY = "site-body"
SITE_AS_OF = "site-as-of"

KPI_TILE = "kpi-tile"


def kpi_tile(kpi_id: str) -> dict:
    return {"type": KPI_TILE, "kpi": kpi_id}

# exports (dashboard/components/export.py): pattern-matching ids keyed by page, item and format
EXPORT_BUTTON = "export-button"
EXPORT_DOWNLOAD = "export-download"
EXPORT_STATUS = "export-status"


def export_button(page: str, item: str, fmt: str) -> dict:
    return {"type": EXPORT_BUTTON, "page": page, "item": item, "fmt": fmt}


def export_download(page: str, item: str) -> dict:
    return {"type": EXPORT_DOWNLOAD, "page": page, "item": item}


def export_status(page: str, item: str) -> dict:
    return {"type": EXPORT_STATUS, "page": page, "item": item}


# audit trail page
AUDIT_FILTERS = "audit-filters"
AUDIT_SINCE = "audit-since"
AUDIT_UNTIL = "audit-until"
AUDIT_USER = "audit-user"
AUDIT_ACTION = "audit-action"
AUDIT_OBJECT = "audit-object"
AUDIT_APPLY = "audit-apply"
AUDIT_TABLE = "audit-table"
AUDIT_COUNT = "audit-count"
AUDIT_VERIFY = "audit-verify"
AUDIT_VERIFY_RESULT = "audit-verify-result"
AUDIT_CSV = "audit-csv"
AUDIT_DOWNLOAD = "audit-download"

# kiosk (wall display)
KIOSK_ROOT = "kiosk-root"
KIOSK_PLAYLIST = "kiosk-playlist"
KIOSK_TICK = "kiosk-tick"
KIOSK_REFRESH = "kiosk-refresh"
KIOSK_SLIDES = "kiosk-slides"
KIOSK_CLOCK = "kiosk-clock"
KIOSK_POSITION = "kiosk-position"
KIOSK_AS_OF = "kiosk-as-of"
KIOSK_SLIDE = "kiosk-slide"
KIOSK_NOTICE = "kiosk-notice"
KIOSK_NOTICE_TIMER = "kiosk-notice-timer"


def kiosk_slide(index: int) -> dict:
    return {"type": KIOSK_SLIDE, "index": index}

# live monitoring (dashboard/pages/monitoring*.py, components/excursion_tiles.py, live_tiles.py)
OV_EXC_TICK = "overview-excursions-tick"
OV_EXC_TILES = "overview-excursion-tiles"
OV_EXC_AS_OF = "overview-excursions-as-of"
# The network page (/monitoring) and a site's page (/monitoring/<site>) use their own ticks and as-of
# lines: with shared ids, one page's tick fired the other page's callback into outputs it does not have.
MON_NET_TICK = "monitoring-network-tick"
MON_SITES = "monitoring-sites"
MON_NET_AS_OF = "monitoring-network-as-of"
MON_TICK = "monitoring-tick"
MON_AS_OF = "monitoring-as-of"
MON_SITE_ID = "monitoring-site-id"
MON_LIVE = "monitoring-live"
MON_TREND_SENSOR = "monitoring-trend-sensor"
MON_TREND_WINDOW = "monitoring-trend-window"
MON_TREND = "monitoring-trend"
MON_EXCURSIONS = "monitoring-excursions"
MON_ACK_EXCURSION = "monitoring-ack-excursion"
MON_ACK_COMMENT = "monitoring-ack-comment"
MON_ACK_PASSWORD = "monitoring-ack-password"
MON_ACK_DEVIATION = "monitoring-ack-deviation"
MON_ACK_SUBMIT = "monitoring-ack-submit"
MON_ACK_RESULT = "monitoring-ack-result"
EXCURSION_TILE = "excursion-tile"


def excursion_tile(excursion_id: str) -> dict:
    return {"type": EXCURSION_TILE, "excursion": excursion_id}

# people (dashboard/pages/people.py)
PPL_WINDOW = "people-window"
PPL_SITE = "people-site"
PPL_TEAMS = "people-teams"
PPL_WAVE = "people-wave"
PPL_SURVEY = "people-survey"
PPL_BEHAVIOUR = "people-behaviour"
PPL_TRAINING = "people-training"
PPL_SOP = "people-sop"
PPL_AS_OF = "people-as-of"

# signals (dashboard/pages/signals.py)
SIG_WINDOW = "signals-window"
SIG_SITE = "signals-site"
SIG_AS_OF = "signals-as-of"
SIG_PRODUCT = "signals-product"
SIG_CQA = "signals-cqa"
SIG_RULES = "signals-rules"
SIG_IMR = "signals-imr"
SIG_IMR_SUMMARY = "signals-imr-summary"
SIG_IMR_FALSE_ALARMS = "signals-imr-false-alarms"
SIG_IMR_TABLE = "signals-imr-table"
SIG_SENSOR = "signals-sensor"
SIG_DRIFT = "signals-drift"
SIG_DRIFT_SUMMARY = "signals-drift-summary"
SIG_DRIFT_TABLE = "signals-drift-table"
SIG_SYSTEMIC_WINDOW = "signals-systemic-window"
SIG_SYSTEMIC_ALL = "signals-systemic-all"
SIG_SYSTEMIC = "signals-systemic"
SIG_RISK = "signals-risk"
SIG_PROPOSALS = "signals-proposals"
SIG_REVIEW_PROPOSAL = "signals-review-proposal"
SIG_REVIEW_DECISION = "signals-review-decision"
SIG_REVIEW_CAPA_REF = "signals-review-capa-ref"
SIG_REVIEW_REASON = "signals-review-reason"
SIG_REVIEW_PASSWORD = "signals-review-password"
SIG_REVIEW_SUBMIT = "signals-review-submit"
SIG_REVIEW_RESULT = "signals-review-result"
SIG_REVIEW_DONE = "signals-review-done"  # how many decisions this page recorded: refreshes the list

# /validation (validation reports and their signatures)
VAL_REPORTS = "validation-reports"
VAL_REPORT = "validation-sign-report"
VAL_MEANING = "validation-sign-meaning"
VAL_COMMENT = "validation-sign-comment"
VAL_PASSWORD = "validation-sign-password"
VAL_SUBMIT = "validation-sign-submit"
VAL_RESULT = "validation-sign-result"
VAL_DONE = "validation-sign-done"  # how many signatures this page recorded: refreshes the list

# comparability (dashboard/pages/comparability.py)
CMP_WINDOW = "comparability-window"
CMP_PRODUCT = "comparability-product"
CMP_AS_OF = "comparability-as-of"
CMP_BODY = "comparability-body"

# administration (dashboard/pages/admin_users.py, admin_display_tokens.py): one signed form per change
ADM_USERS_TABLE = "users-table"
ADM_USERS_TABLE_HOST = "admin-users-table-host"
ADM_ADD_ID = "admin-add-id"
ADM_ADD_NAME = "admin-add-name"
ADM_ADD_ROLE = "admin-add-role"
ADM_ADD_SITE = "admin-add-site"
ADM_ADD_PASSWORD = "admin-add-password"  # the new user's initial password
ADM_ADD_REASON = "admin-add-reason"
ADM_ADD_SIGNATURE = "admin-add-signature"  # the administrator's own password (e-signature)
ADM_ADD_SUBMIT = "admin-add-submit"
ADM_ADD_RESULT = "admin-add-result"
ADM_ADD_DONE = "admin-add-done"  # how many changes this form recorded: refreshes the table and lists
ADM_ROLE_USER = "admin-role-user"
ADM_ROLE_ROLE = "admin-role-role"
ADM_ROLE_SITE = "admin-role-site"
ADM_ROLE_REASON = "admin-role-reason"
ADM_ROLE_SIGNATURE = "admin-role-signature"
ADM_ROLE_SUBMIT = "admin-role-submit"
ADM_ROLE_RESULT = "admin-role-result"
ADM_ROLE_DONE = "admin-role-done"
ADM_ACTIVE_USER = "admin-active-user"
ADM_ACTIVE_CHOICE = "admin-active-choice"
ADM_ACTIVE_REASON = "admin-active-reason"
ADM_ACTIVE_SIGNATURE = "admin-active-signature"
ADM_ACTIVE_SUBMIT = "admin-active-submit"
ADM_ACTIVE_RESULT = "admin-active-result"
ADM_ACTIVE_DONE = "admin-active-done"
ADM_RESET_USER = "admin-reset-user"
ADM_RESET_PASSWORD = "admin-reset-password"  # the user's new password
ADM_RESET_REASON = "admin-reset-reason"
ADM_RESET_SIGNATURE = "admin-reset-signature"
ADM_RESET_SUBMIT = "admin-reset-submit"
ADM_RESET_RESULT = "admin-reset-result"
ADM_RESET_DONE = "admin-reset-done"
ADM_TOKENS_TABLE = "tokens-table"
ADM_TOKENS_TABLE_HOST = "admin-tokens-table-host"
ADM_TOKEN_USER = "admin-token-user"
ADM_TOKEN_LABEL = "admin-token-label"
ADM_TOKEN_REASON = "admin-token-reason"
ADM_TOKEN_SIGNATURE = "admin-token-signature"
ADM_EMAIL_USER = "admin-email-user"
ADM_EMAIL_ADDRESS = "admin-email-address"
ADM_EMAIL_REASON = "admin-email-reason"
ADM_EMAIL_SIGNATURE = "admin-email-signature"
ADM_EMAIL_SUBMIT = "admin-email-submit"
ADM_EMAIL_RESULT = "admin-email-result"
ADM_EMAIL_DONE = "admin-email-done"
ADM_TOKEN_SUBMIT = "admin-token-submit"
ADM_TOKEN_RESULT = "admin-token-result"  # shows a new token once
ADM_TOKEN_DONE = "admin-token-done"
ADM_REVOKE_TOKEN = "admin-revoke-token"
ADM_REVOKE_REASON = "admin-revoke-reason"
ADM_REVOKE_SIGNATURE = "admin-revoke-signature"
ADM_REVOKE_SUBMIT = "admin-revoke-submit"
ADM_REVOKE_RESULT = "admin-revoke-result"
ADM_REVOKE_DONE = "admin-revoke-done"
# Import page (dashboard/pages/data_import.py)
IMP_TABLE = "import-table"
IMP_PROFILE = "import-profile"
IMP_UPLOAD = "import-upload"        # the drop zone; assets/import_upload.js sends its file to the upload route
IMP_SENDING = "import-sending"      # how much of the file has been sent (set by the script)
IMP_SEND_STATUS = "import-send-status"  # what the script says about the sending (or the server's refusal)
IMP_FILE = "import-file"            # {sha256, name} of the stored upload: the server re-checks its owner
IMP_RECEIVED = "import-received"    # what the upload callback says about the file
IMP_DRY_RUN = "import-dry-run"
IMP_COMMIT = "import-commit"
IMP_REASON = "import-reason"        # why stored records change (required when the file changes any)
IMP_RESULT = "import-result"
IMP_REPORT = "import-report"        # download the full problem report
IMP_REPORT_DOWNLOAD = "import-report-download"
IMP_PROGRESS = "import-progress"    # rows checked (or written) so far, while a dry run or an import runs
IMP_POLL = "import-poll"            # reads that progress, enabled only while one runs
# Notifications page (dashboard/pages/notifications.py)
NOT_ALARMS = "notifications-alarms"        # open system alarms
NOT_OPEN = "notifications-open"            # messages waiting, being sent or retrying
NOT_FAILURES = "notifications-failures"
NOT_HISTORY = "notifications-history"
NOT_RULES = "notifications-rules"
NOT_RULES_HOST = "notifications-rules-host"
NOT_ADD_EVENT = "notifications-add-event"
NOT_ADD_CHANNEL = "notifications-add-channel"
NOT_ADD_RECIPIENT = "notifications-add-recipient"
NOT_ADD_SITE = "notifications-add-site"
NOT_ADD_ROOM = "notifications-add-room"
NOT_ADD_GRADE = "notifications-add-grade"
NOT_ADD_PARAMETER = "notifications-add-parameter"
NOT_ADD_DELAY = "notifications-add-delay"
NOT_ADD_EVERY = "notifications-add-every"
NOT_ADD_REPEATS = "notifications-add-repeats"
NOT_ADD_REASON = "notifications-add-reason"
NOT_ADD_SIGNATURE = "notifications-add-signature"
NOT_ADD_SUBMIT = "notifications-add-submit"
NOT_ADD_RESULT = "notifications-add-result"
NOT_ADD_DONE = "notifications-add-done"
NOT_OFF_RULE = "notifications-off-rule"
NOT_OFF_REASON = "notifications-off-reason"
NOT_OFF_SIGNATURE = "notifications-off-signature"
NOT_OFF_SUBMIT = "notifications-off-submit"
NOT_OFF_RESULT = "notifications-off-result"
NOT_OFF_DONE = "notifications-off-done"
NOT_TEST_RULE = "notifications-test-rule"
NOT_TEST_SUBMIT = "notifications-test-submit"
NOT_TEST_RESULT = "notifications-test-result"
NOT_REFRESH = "notifications-refresh"      # the lists are read again every 10 s
# Remote acknowledgement page (dashboard/pages/ack_link.py)
ACKL_TOKEN = "ack-link-token"              # the link's token (the server looks it up again on submit)
ACKL_COMMENT = "ack-link-comment"
ACKL_DEVIATION = "ack-link-deviation"
ACKL_PASSWORD = "ack-link-password"
ACKL_SUBMIT = "ack-link-submit"
ACKL_RESULT = "ack-link-result"
NOT_SHIFTS_HOST = "notifications-shifts-host"
NOT_SHIFT_SITE = "notifications-shift-site"
NOT_SHIFT_DAYS = "notifications-shift-days"
NOT_SHIFT_FROM = "notifications-shift-from"
NOT_SHIFT_TO = "notifications-shift-to"
NOT_SHIFT_EMAIL = "notifications-shift-email"
NOT_SHIFT_REASON = "notifications-shift-reason"
NOT_SHIFT_SIGNATURE = "notifications-shift-signature"
NOT_SHIFT_SUBMIT = "notifications-shift-submit"
NOT_SHIFT_RESULT = "notifications-shift-result"
NOT_SHIFT_DONE = "notifications-shift-done"
NOT_SHIFT_OFF = "notifications-shift-off"
NOT_SHIFT_OFF_REASON = "notifications-shift-off-reason"
NOT_SHIFT_OFF_SIGNATURE = "notifications-shift-off-signature"
NOT_SHIFT_OFF_SUBMIT = "notifications-shift-off-submit"
NOT_SHIFT_OFF_RESULT = "notifications-shift-off-result"
NOT_SHIFT_OFF_DONE = "notifications-shift-off-done"
