"""The organizing-data warehouse: dlt sources, a sandbox of fake vendors, dbt marts."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# dlt reads `.dlt/` from the project dir; pin it so commands work from any directory
os.environ.setdefault("DLT_PROJECT_DIR", str(REPO_ROOT))
# nothing here may phone home: this runs where only loopback is reachable
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
