"""Process-wide IMS access-token cache, shared by the sync hook and the async trigger client.

Every hook and trigger in a process shares one token per (IMS URL, client id, scopes); a
fingerprint of the client secret is part of the key too, so a connection with a different secret
never reuses a token obtained with another one. Tokens are refreshed ahead of expiry and can be
invalidated after a 401.

Fetches for one key are serialised, so there is one IMS call however many callers meet an expired
token at once:

* threads (:meth:`TokenCache.get`) wait on the key's ``threading.Lock``;
* coroutines (:meth:`TokenCache.aget`) first queue on an ``asyncio.Lock`` of their event loop, so
  one coroutine per loop competes for the key; that one takes the same ``threading.Lock`` without
  ever blocking (``acquire(blocking=False)``, polled with ``asyncio.sleep`` while a thread holds it)
  and fetches with ``await``. The event loop never blocks on the lock, and a thread and a coroutine
  never fetch the same key at the same time.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Refresh this long before expiry at most ...
MAX_REFRESH_LEAD_SECONDS = 300.0
#: ... and at most this fraction of the token lifetime (short emulator TTLs).
REFRESH_LEAD_FRACTION = 0.1
#: Lifetime assumed when IMS omits ``expires_in``.
DEFAULT_TOKEN_LIFETIME = 3600.0

#: Longest lifetime believed (IMS issues 24 h tokens); longer or unusable values are clamped.
MAX_TOKEN_LIFETIME = 86400.0

TokenKey = tuple[str, str, str, str]


def token_lifetime(expires_in: object) -> float:
    """Seconds a fresh token lives, from IMS ``expires_in`` (seconds; the legacy JWT exchange
    answered milliseconds). Missing, non-numeric, NaN, infinite or non-positive values give
    :data:`DEFAULT_TOKEN_LIFETIME`; values above a week are read as milliseconds; a day at most."""
    try:
        lifetime = float(expires_in) if not isinstance(expires_in, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_TOKEN_LIFETIME
    if not math.isfinite(lifetime) or lifetime <= 0:
        return DEFAULT_TOKEN_LIFETIME
    if lifetime > 7 * 86400:  # legacy JWT exchange answered in milliseconds
        lifetime /= 1000.0
    return min(lifetime, MAX_TOKEN_LIFETIME)


def monotonic() -> float:
    """Clock used for expiry (a module function so tests can move time)."""
    return time.monotonic()


def token_key(ims_url: str, client_id: str, scopes: str, client_secret: str | None) -> TokenKey:
    """Cache key; the secret only enters as a short SHA-256 fingerprint."""
    fingerprint = hashlib.sha256((client_secret or "").encode()).hexdigest()[:16]
    return (ims_url.rstrip("/"), client_id, scopes, fingerprint)


def refresh_lead(lifetime: float) -> float:
    """How long before expiry a token is considered stale."""
    return min(MAX_REFRESH_LEAD_SECONDS, REFRESH_LEAD_FRACTION * max(lifetime, 0.0))


@dataclass(frozen=True)
class CachedToken:
    """An access token and the monotonic time after which it must be refreshed."""

    token: str
    refresh_at: float


class TokenCache:
    """Thread-safe token cache keyed by :func:`token_key`."""

    #: How often a coroutine looks again while a thread is fetching the same key.
    ASYNC_LOCK_POLL = 0.02

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, CachedToken] = {}
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()  # held for dict operations only, never across I/O
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[TokenKey, asyncio.Lock]]
        self._loop_locks = weakref.WeakKeyDictionary()
        #: IMS fetches started (sync and async), for tests and benchmarks.
        self.fetches = 0

    def _lock_for(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fresh(self, key: TokenKey) -> str | None:
        cached = self._tokens.get(key)
        if cached and monotonic() < cached.refresh_at:
            return cached.token
        return None

    def _store(self, key: TokenKey, started: float, token: str, lifetime: float) -> None:
        self._tokens[key] = CachedToken(token, started + lifetime - refresh_lead(lifetime))

    def get(self, key: TokenKey, fetch: Callable[[], tuple[str, float]]) -> str:
        """Return a fresh token for ``key``; ``fetch`` returns ``(token, lifetime_seconds)``."""
        cached = self._tokens.get(key)
        if cached and monotonic() < cached.refresh_at:
            return cached.token
        with self._lock_for(key):
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh
            started = monotonic()
            self.fetches += 1
            token, lifetime = fetch()
            self._store(key, started, token, lifetime)
            return token

    async def aget(self, key: TokenKey, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """:meth:`get` for coroutines: one fetch per key, and the event loop never blocks."""
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        loop = asyncio.get_running_loop()
        with self._guard:
            per_loop = self._loop_locks.setdefault(loop, {})
            loop_lock = per_loop.setdefault(key, asyncio.Lock())
        async with loop_lock:
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh
            thread_lock = self._lock_for(key)
            while not thread_lock.acquire(blocking=False):
                await asyncio.sleep(self.ASYNC_LOCK_POLL)  # a thread is fetching this key
            try:
                fresh = self._fresh(key)
                if fresh is not None:
                    return fresh
                started = monotonic()
                self.fetches += 1
                token, lifetime = await fetch()
                self._store(key, started, token, lifetime)
                return token
            finally:
                thread_lock.release()

    def peek(self, key: TokenKey) -> str | None:
        """The cached token for ``key`` (fresh or not), without fetching."""
        cached = self._tokens.get(key)
        return cached.token if cached else None

    def invalidate(self, key: TokenKey, token: str | None = None) -> None:
        """Drop the cached token (only if it is still ``token``, when given); never blocks on a fetch."""
        with self._guard:
            cached = self._tokens.get(key)
            if cached and (token is None or cached.token == token):
                del self._tokens[key]

    def clear(self) -> None:
        """Forget every token (tests, credential rotation)."""
        with self._guard:
            self._tokens.clear()


#: The cache shared by every hook in the process.
TOKEN_CACHE = TokenCache()
