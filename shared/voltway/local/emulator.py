"""The AWS endpoint of the local stack: the embedded moto server, or whatever ``AWS_ENDPOINT_URL`` names.

- ``AWS_ENDPOINT_URL`` unset: start moto's ``ThreadedMotoServer`` in-process on 127.0.0.1:5000
  (configurable; port 0 picks a free port). moto serves everything the template uses, DynamoDB included.
- ``AWS_ENDPOINT_URL`` set to LocalStack (``http://127.0.0.1:4566``): used as is. LocalStack community
  without Docker lacks DynamoDB offline and API Gateway v2 (see ../shared/docs/field-notes.md); the
  gateways here do not need API Gateway v2, but the tables will not be created.
- ``AWS_ENDPOINT_URL`` set to an ``amazonaws.com`` URL: real AWS with the caller's credentials.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


_DYNAMODB_LOCK = threading.RLock()


def serialise_dynamodb() -> None:
    """One DynamoDB request at a time in the embedded moto server, as DynamoDB itself applies each write
    atomically. moto's server answers requests on threads without a lock around its tables: two racing
    conditional writes could both succeed, and TransactWriteItems fails with a 500 when another request
    changes a table meanwhile (measured: "dictionary changed size during iteration" under 1,000 simulated
    chargers). moto's work is GIL-bound anyway, so the lock costs no throughput. Also makes
    TransactWriteItems snapshot only the items it touches (``_transactions_snapshot_items``). Idempotent;
    the embedded server only."""
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[..., Any] = DynamoHandler.call_action
    if getattr(original, "_voltway_serialised", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    call_action._voltway_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _transactions_snapshot_items()


def _transactions_snapshot_items() -> None:
    """moto's TransactWriteItems deep-copies every table it touches before writing, to roll back on a
    cancelled transaction: its cost grows with the table, not the transaction (measured: StartTransaction
    reached the 10 s function timeout once TransactionsTable held a few thousand items under 1,000
    simulated chargers, and under the lock above it stalled every other request). Here the transaction
    copies only the items it names, and a cancelled one puts those back. The tables themselves are not
    copied (``Table.__deepcopy__`` answers the table itself while the transaction runs: safe because every
    DynamoDB request holds ``_DYNAMODB_LOCK``). Stream records of a rolled-back write are not withdrawn:
    the template declares no DynamoDB streams."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original: Callable[..., Any] = DynamoDBBackend.transact_write_items
    if getattr(original, "_voltway_item_snapshots", False):
        return

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _DYNAMODB_LOCK:
            before = _touched_items(self.tables, transact_items)
            Table.__deepcopy__ = _the_table_itself  # type: ignore[attr-defined]
            try:
                return original(self, transact_items)
            except Exception:
                _put_back(self.tables, before)
                raise
            finally:
                del Table.__deepcopy__  # type: ignore[attr-defined]

    transact_write_items._voltway_item_snapshots = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _the_table_itself(table: Any, memo: dict[int, Any]) -> Any:
    return table


_Touched = dict[tuple[str, Any, Any], Any]


def _touched_items(tables: dict[str, Any], transact_items: list[dict[str, Any]]) -> _Touched:
    """(table, hash key, range key) → a deep copy of the item as it is now, or None where there is none."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    touched: _Touched = {}
    for entry in transact_items:
        for op in entry.values():
            table = tables.get(op.get("TableName", ""))
            key = op.get("Key") or op.get("Item") or {}
            if table is None or table.hash_key_attr not in key:
                continue  # moto answers these with a validation error before writing anything
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    continue
                range_value = DynamoType(key[table.range_key_attr])
            current = table.get_item(hash_value, range_value)
            touched[(table.name, hash_value, range_value)] = copy.deepcopy(current)
    return touched


def _put_back(tables: dict[str, Any], touched: _Touched) -> None:
    for (table_name, hash_value, range_value), item in touched.items():
        table = tables[table_name]
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item


@dataclass(frozen=True)
class EmulatorInfo:
    endpoint_url: str
    embedded: bool

    @property
    def is_real_aws(self) -> bool:
        return "amazonaws.com" in self.endpoint_url


class Emulator:
    """Start (or find) the AWS endpoint; a context manager that stops what it started."""

    def __init__(
        self, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, endpoint_url: str | None = None
    ) -> None:
        self._port = port
        self._host = host
        self._configured = endpoint_url if endpoint_url is not None else os.environ.get("AWS_ENDPOINT_URL")
        self._server: object | None = None
        self.info: EmulatorInfo | None = None

    def start(self) -> EmulatorInfo:
        if self._configured:
            self.info = EmulatorInfo(endpoint_url=self._configured.rstrip("/"), embedded=False)
            logger.info("using the configured AWS endpoint %s", self.info.endpoint_url)
            return self.info
        from moto.server import ThreadedMotoServer

        serialise_dynamodb()
        # moto's server logs every request through werkzeug; one line per AWS call drowns the runtime's log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self.info = EmulatorInfo(endpoint_url=f"http://{host}:{port}", embedded=True)
        logger.info("embedded AWS emulator (moto server) on %s", self.info.endpoint_url)
        return self.info

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
            logger.info("embedded AWS emulator stopped")

    def __enter__(self) -> EmulatorInfo:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
