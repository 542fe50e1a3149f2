"""API keys with scopes. Keys are random 256-bit secrets, stored only as SHA-256 hashes.

A slow password hash is not needed: the keys are high-entropy, so a fast hash cannot be
brute-forced, and it keeps each request's lookup to one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from redress_shared.db import PlatformTables
from redress_shared.errors import NotFound, Problem, ProblemDetail

ADMIN_SCOPE = "admin"
KEY_PREFIX = "rdr_"

_BEARER_HELP = "API key: `Authorization: Bearer rdr_...`"


def generate_api_key() -> str:
    """A new random API key (shown to its owner once, never stored in clear)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller, as identified by its API key."""

    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """True if this key may use ``scope`` (the admin scope allows everything)."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


async def seed_admin_key(
    session_factory: async_sessionmaker[AsyncSession], tables: PlatformTables, key: str
) -> None:
    """Make ``key`` a valid admin key of this service (idempotent)."""
    async with session_factory() as session, session.begin():
        await session.execute(
            insert(tables.api_keys)
            .values(id=uuid.uuid4(), name="admin", key_hash=hash_api_key(key), scopes=[ADMIN_SCOPE])
            .on_conflict_do_nothing(index_elements=["key_hash"])
        )


class ApiKeyVerifier:
    """Looks API keys up by hash, remembering answers for a few seconds.

    The cache spares every request a database round trip; the price is that a revoked key
    keeps working for at most ``cache_seconds`` in other processes (the revoking process
    forgets it at once).
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: PlatformTables,
        cache_seconds: float = 10.0,
    ) -> None:
        self._session_factory = session_factory
        self._tables = tables
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def verify(self, key: str) -> Principal | None:
        """The principal of ``key``, or None when it is unknown or revoked."""
        key_hash = hash_api_key(key)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        api_keys = self._tables.api_keys
        async with self._session_factory() as session:
            row = (
                await session.execute(
                    select(api_keys.c.id, api_keys.c.name, api_keys.c.scopes).where(
                        api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        principal = (
            None
            if row is None
            else Principal(key_id=row.id, name=row.name, scopes=frozenset(row.scopes))
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_hash] = (now + self._cache_seconds, principal)
        return principal

    def forget(self) -> None:
        """Drop every cached answer (after a key was revoked here)."""
        self._cache.clear()


def _unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "Authentication is required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="redress"'},
    )


class _ScopeRequirement(HTTPBearer):
    """The bearer API key, checked for one scope: the security scheme the OpenAPI document
    shows and the check in one dependency (nested, FastAPI solved a second level on every
    request)."""

    def __init__(self, scope: str) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_BEARER_HELP)
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None or not credentials.credentials:
            raise _unauthenticated("Send an API key as 'Authorization: Bearer <key>'")
        principal = await request.app.state.runtime.api_keys.verify(credentials.credentials)
        if principal is None:
            raise _unauthenticated("The API key is unknown or revoked")
        if not principal.allows(self.scope):
            raise Problem(
                403,
                "forbidden",
                "The API key lacks the required scope",
                f"This operation needs the '{self.scope}' scope",
                required_scope=self.scope,
            )
        return principal


def require_scope(scope: str) -> _ScopeRequirement:
    """A dependency that admits only callers whose API key carries ``scope``."""
    return _ScopeRequirement(scope)


AUTH_RESPONSES: dict[int | str, dict] = {
    401: {"model": ProblemDetail, "description": "Missing, unknown or revoked API key"},
    403: {"model": ProblemDetail, "description": "The API key lacks the required scope"},
}

AdminPrincipal = Annotated[Principal, Depends(require_scope(ADMIN_SCOPE))]


class ApiKeyCreate(BaseModel):
    """A new API key's name and scopes."""

    name: str = Field(min_length=1, max_length=200, examples=["crm-integration"])
    scopes: list[str] = Field(min_length=1, examples=[["complaints:write"]])


_API_KEY_EXAMPLE = {
    "id": "5b0f3c1e-2d4a-4e6b-9c8d-7a6b5c4d3e2f",
    "name": "crm-integration",
    "scopes": ["complaints:write"],
    "created_at": "2026-11-23T10:00:00Z",
    "revoked_at": None,
}


class ApiKeyRead(BaseModel):
    """An API key as listed (never with its secret)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_API_KEY_EXAMPLE]})

    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    """The answer to creating a key: the only time the secret is shown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_API_KEY_EXAMPLE, "key": "rdr_3q2x7JbVZp0yKc9wq1sT8uHnR4mEoLdAiGfB6XkY5Zs"}
            ]
        }
    )

    key: str = Field(examples=["rdr_3q2-7Jb...kq"])


def api_keys_router(known_scopes: list[str]) -> APIRouter:
    """Admin endpoints to create, list and revoke this service's API keys."""
    router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], responses=AUTH_RESPONSES)
    allowed = set(known_scopes) | {ADMIN_SCOPE}

    @router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key")
    async def create_key(body: ApiKeyCreate, request: Request, _: AdminPrincipal) -> ApiKeyCreated:
        unknown = sorted(set(body.scopes) - allowed)
        if unknown:
            raise Problem(
                422,
                "unknown-scope",
                "Unknown scope",
                f"Unknown scopes: {', '.join(unknown)}",
                allowed_scopes=sorted(allowed),
            )
        runtime = request.app.state.runtime
        key = generate_api_key()
        async with runtime.session_factory() as session, session.begin():
            row = (
                await session.execute(
                    insert(runtime.tables.api_keys)
                    .values(
                        id=uuid.uuid4(),
                        name=body.name,
                        key_hash=hash_api_key(key),
                        scopes=body.scopes,
                    )
                    .returning(runtime.tables.api_keys)
                )
            ).one()
        return ApiKeyCreated(key=key, **row._mapping)

    @router.get("", summary="List API keys")
    async def list_keys(request: Request, _: AdminPrincipal) -> list[ApiKeyRead]:
        runtime = request.app.state.runtime
        async with runtime.session_factory() as session:
            rows = (await session.execute(select(runtime.tables.api_keys))).all()
        return [ApiKeyRead(**row._mapping) for row in rows]

    @router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key")
    async def revoke_key(key_id: uuid.UUID, request: Request, _: AdminPrincipal) -> None:
        runtime = request.app.state.runtime
        api_keys = runtime.tables.api_keys
        async with runtime.session_factory() as session, session.begin():
            result = await session.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=runtime.clock.now())
            )
        if result.rowcount == 0:
            raise NotFound("API key", key_id)
        runtime.api_keys.forget()

    return router
