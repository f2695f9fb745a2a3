"""A small client of the operator HTTP API, for the command-line tools and the local seed.

It goes through the platform's real interface (API Gateway + the API function), never the tables, so the
tools work against the local stack and a deployed stage alike.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class OperatorApiError(Exception):
    """The API answered with an error status, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


class OperatorApi:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        host = urlsplit(self._base_url).hostname or ""
        # The local stack must not be reached through whatever HTTP proxy the environment configures.
        handlers = [urllib.request.ProxyHandler({})] if host in LOOPBACK_HOSTS else []
        self._opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._base_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as e:
            raise OperatorApiError(e.code, e.read().decode(errors="replace")[:500]) from e
        except (urllib.error.URLError, OSError) as e:
            raise OperatorApiError(0, f"cannot reach {self._base_url}: {e}") from e

    def put_charger(self, charge_point_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/v1/chargers/{quote(charge_point_id, safe='')}", body)

    def put_id_tag(self, id_tag: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/v1/id-tags/{quote(id_tag, safe='')}", body)
