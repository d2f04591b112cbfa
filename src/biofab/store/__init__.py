"""The persistent record of DBTL campaigns: SQLite by default, PostgreSQL by URL.

See ``docs/store.md`` for the schema, URL selection, migrations and audit log.
"""

from biofab.store.store import (
    DEFAULT_URL,
    FAILPOINT_INGEST_SLEEP,
    CampaignRecord,
    DesignRecord,
    EventRecord,
    IngestResult,
    IngestRow,
    MeasurementRecord,
    ModelSnapshot,
    ReadingRecord,
    RunRecord,
    Store,
    WriteCounter,
    head_revision,
    normalize_url,
)

__all__ = [
    "DEFAULT_URL",
    "FAILPOINT_INGEST_SLEEP",
    "CampaignRecord",
    "DesignRecord",
    "EventRecord",
    "IngestResult",
    "IngestRow",
    "MeasurementRecord",
    "ModelSnapshot",
    "ReadingRecord",
    "RunRecord",
    "Store",
    "WriteCounter",
    "head_revision",
    "normalize_url",
]
