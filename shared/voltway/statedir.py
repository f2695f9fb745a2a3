"""Where the local stack keeps its state, and what the running local runtime tells the CLI tools.

The state directory is ``$VOLTWAY_STATE_DIR`` or ``<repo>/.voltway`` (gitignored). The running
``voltway local`` writes ``local.json`` there; ``voltway token``, ``voltway charger`` and
``voltway simulate`` read it to find the endpoints and the JWT issuer/audience.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_INFO_FILE = "local.json"
ISSUER_KEY_FILE = "local-issuer-key.pem"


class LocalInfo(BaseModel):
    """Endpoints and identity settings of a running local stack."""

    model_config = ConfigDict(extra="ignore")

    http_api_url: str
    charger_ws_url: str
    management_url: str
    aws_endpoint_url: str | None = None
    region: str
    stage: str
    jwt_issuer: str
    jwt_audience: str


def state_dir() -> Path:
    configured = os.environ.get("VOLTWAY_STATE_DIR")
    return Path(configured) if configured else REPO_ROOT / ".voltway"


def issuer_key_path(directory: Path | None = None) -> Path:
    return (directory or state_dir()) / ISSUER_KEY_FILE


def read_local_info(directory: Path | None = None) -> LocalInfo:
    """The running local stack's info; ``FileNotFoundError`` with a hint when none is running."""
    path = (directory or state_dir()) / LOCAL_INFO_FILE
    try:
        return LocalInfo.model_validate_json(path.read_text())
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{path} not found: start the local stack first (`make local`)") from e


def write_local_info(info: LocalInfo, directory: Path | None = None) -> Path:
    path = (directory or state_dir()) / LOCAL_INFO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(info.model_dump_json(indent=2))
    tmp.replace(path)
    return path
