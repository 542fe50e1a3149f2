"""Telling an infrastructure fault from a bad record.

A database failover, a dropped connection, a broker that is restarting or a serialization
conflict says nothing about the record being handled: the same record will succeed once the
infrastructure is back, so it is retried for as long as the fault lasts, in order. Anything
else (a handler's own exception on this record's data) is deterministic and, after bounded
retries, makes the record poison.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
)
from aiokafka.errors import RequestTimedOutError as KafkaRequestTimedOut
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes that describe the server or the connection, not the statement:
# 08 connection exception, 40 transaction rollback (serialization failure, deadlock),
# 53 insufficient resources, 57 operator intervention (shutdown, cannot connect now),
# 58 system error.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")

# File-system errors are OSErrors too, but say something about the record or the code.
_NOT_TRANSIENT_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    DisconnectionError,
    PoolTimeout,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
    KafkaRequestTimedOut,
    NotLeaderForPartitionError,
)


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_transient(error: BaseException) -> bool:
    """True when ``error`` (or anything it was raised from) is an infrastructure fault."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_TYPES) and not isinstance(
            current, _NOT_TRANSIENT_OS_ERRORS
        ):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, KafkaError) and current.retriable:
            return True
        sqlstate = _sqlstate(current)
        if sqlstate and sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES):
            return True
        orig = getattr(current, "orig", None)
        pending.extend([current.__cause__, current.__context__])
        if isinstance(orig, BaseException):
            pending.append(orig)
    return False


__all__ = ["TRANSIENT_SQLSTATE_CLASSES", "is_transient"]
