"""Shared HTTP plumbing for the API clients: one session, retries, rate limits, ETags, paging.

Every API client of the pipeline builds one :class:`ApiSession` per source and
calls :meth:`ApiSession.get` or :meth:`ApiSession.paginate`. The session

- sends the token, which :func:`read_token` takes from the environment
  variable named in the configuration, in a header. The token never appears
  in a log line or an error message, because error text containing it is
  redacted;
- retries connection errors, timeouts and 5xx responses with exponential
  backoff, at most ``max_retries`` times per request;
- honours rate limits: ``Retry-After`` (seconds or an HTTP date), and the
  ``X-RateLimit-Remaining``/``X-RateLimit-Reset`` (GitHub) and
  ``RateLimit-Remaining``/``RateLimit-Reset`` (GitLab) pairs, both on a 403/429
  response and before the next request once the remaining quota is 0;
- sends ``If-None-Match`` when an :class:`EtagStore` holds an ETag for the URL
  and reuses the stored body on ``304 Not Modified`` (GitHub does not count a
  304 against the quota);
- follows ``Link: <...>; rel="next"`` headers and GitLab's ``X-Next-Page``.

Sleeping and the clock are injectable so tests never wait. No Dagster imports.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Network failures worth another attempt; ChunkedEncodingError is a body cut
# short of its Content-Length (the connection broke mid-response).
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_LINK_PART = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')
# Headers kept with a cached page, so paging continues after a 304.
_CACHED_HEADERS = ("link", "x-next-page", "x-total", "x-total-pages")


class ApiError(RuntimeError):
    """An API request that failed for good; the message names the URL and the status."""

    def __init__(self, message: str, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class TokenMissingError(ApiError):
    """The environment variable that should hold the API token is not set."""


@dataclass(frozen=True)
class Page:
    """One API response: the decoded JSON body and the headers paging needs."""

    url: str
    status: int
    data: Any
    headers: Mapping[str, str]
    from_cache: bool = False


class EtagStore(Protocol):
    """Storage of conditional-request validators, one entry per URL."""

    def load(self, url: str) -> tuple[str, str, dict[str, str]] | None:
        """Return ``(etag, body, headers)`` stored for the URL, or None."""

    def save(self, url: str, etag: str, body: str, headers: dict[str, str]) -> None:
        """Store the ETag, the body and the paging headers of a 200 response."""


class MemoryEtagStore:
    """An :class:`EtagStore` in a dict, for tests and one-off scripts."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str, dict[str, str]]] = {}

    def load(self, url: str) -> tuple[str, str, dict[str, str]] | None:
        return self.entries.get(url)

    def save(self, url: str, etag: str, body: str, headers: dict[str, str]) -> None:
        self.entries[url] = (etag, body, headers)


HTTP_CACHE_DDL = """
create table if not exists http_cache (
    _source varchar not null,
    url varchar not null,
    etag varchar not null,
    body varchar,
    headers varchar,
    fetched_at timestamptz not null,
    primary key (_source, url)
)
"""


class WarehouseEtagStore:
    """An :class:`EtagStore` in the warehouse table ``http_cache``, one row per source and URL.

    ``con`` is a DuckDB connection. URLs are stored without credentials
    because tokens travel in headers, never in the query string.
    """

    def __init__(self, con: Any, source: str) -> None:
        self.con = con
        self.source = source
        con.execute(HTTP_CACHE_DDL)

    def load(self, url: str) -> tuple[str, str, dict[str, str]] | None:
        row = self.con.execute(
            "select etag, body, headers from http_cache where _source = ? and url = ?",
            [self.source, url],
        ).fetchone()
        if row is None:
            return None
        return row[0], row[1], json.loads(row[2] or "{}")

    def save(self, url: str, etag: str, body: str, headers: dict[str, str]) -> None:
        self.con.execute(
            "insert or replace into http_cache values (?, ?, ?, ?, ?, ?)",
            [self.source, url, etag, body, json.dumps(headers), datetime.now(UTC)],
        )


@dataclass
class RequestStats:
    """Counters of one session, reported as run metadata."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    slept_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "api_requests": self.requests,
            "not_modified_304": self.not_modified,
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "slept_seconds": round(self.slept_seconds, 3),
        }


@dataclass
class RetryPolicy:
    """Bounds of the retry loop. Delays are in seconds."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    # A rate-limit reset further away than this fails the request instead of waiting.
    max_rate_limit_wait: float = 3600.0
    max_rate_limit_waits: int = 10


def read_token(env_var: str | None) -> str | None:
    """Return the token held by ``env_var``; None when no variable is configured.

    Raises TokenMissingError when a variable is configured but unset or empty.
    """
    if not env_var:
        return None
    token = os.environ.get(env_var, "").strip()
    if not token:
        raise TokenMissingError(
            f"environment variable {env_var} is not set or empty; "
            "export the API token in it before the run",
            url="",
        )
    return token


def next_page_url(page: Page) -> str | None:
    """Return the URL of the next page: the ``Link`` rel="next" or GitLab's ``X-Next-Page``."""
    links = parse_link_header(page.headers.get("link", ""))
    if "next" in links:
        return urljoin(page.url, links["next"])
    next_number = (page.headers.get("x-next-page") or "").strip()
    if next_number:
        return with_query(page.url, {"page": next_number})
    return None


def parse_link_header(value: str) -> dict[str, str]:
    """Return the ``rel -> URL`` pairs of an RFC 8288 ``Link`` header."""
    return {rel: url for url, rel in _LINK_PART.findall(value or "")}


def with_query(url: str, params: Mapping[str, Any]) -> str:
    """Return ``url`` with ``params`` set in its query string (replacing equal names)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({key: str(value) for key, value in params.items() if value is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


class ApiSession:
    """One ``requests.Session`` for one source, with auth, retries, rate limits and ETags.

    ``auth_header`` and ``auth_format`` set how the token is sent, for example
    ``Authorization: Bearer {token}`` (GitHub, GitLab) or
    ``Authorization: Token token={token}`` (PagerDuty). ``sleep`` and ``clock``
    replace ``time.sleep`` and ``time.time`` in tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        auth_header: str = "Authorization",
        auth_format: str = "Bearer {token}",
        default_headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        etag_store: EtagStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.etag_store = etag_store
        self.sleep = sleep
        self.clock = clock
        self.log = logger or log
        self.stats = RequestStats()
        self._pause_until = 0.0
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "dora-pipeline", **(default_headers or {})})
        if token:
            self.session.headers[auth_header] = auth_format.format(token=token)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """Return the absolute URL of an API path (or a full URL) with query parameters."""
        if path_or_url.startswith(("http://", "https://")):
            url = path_or_url
        else:
            url = urljoin(self.base_url, path_or_url.lstrip("/"))
        return with_query(url, params) if params else url

    def get(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        use_etag: bool = True,
        allow_404: bool = False,
    ) -> Page:
        """Fetch one URL and decode its JSON body.

        Returns a Page with status 404 and data None when ``allow_404`` is set
        and the server returns 404. Raises ApiError for any other failure.
        """
        url = self.url_for(path_or_url, params)
        cached = self.etag_store.load(url) if (use_etag and self.etag_store) else None
        headers = {"If-None-Match": cached[0]} if cached else {}
        response = self._send(url, headers)
        if response.status_code == 304 and cached:
            self.stats.not_modified += 1
            return Page(url, 304, json.loads(cached[1]), cached[2], from_cache=True)
        if response.status_code == 404 and allow_404:
            return Page(url, 404, None, {})
        if response.status_code >= 400:
            raise self._error(url, response)
        try:
            data = response.json() if response.content else None
        except ValueError:
            raise ApiError(
                self.redact(
                    f"GET {url} returned {response.status_code} with a body that is not "
                    f"JSON: {response.text[:200]!r}; check the base URL points at the API"
                ),
                url,
                response.status_code,
            ) from None
        kept = {
            name: response.headers[name] for name in _CACHED_HEADERS if name in response.headers
        }
        etag = response.headers.get("ETag")
        if use_etag and self.etag_store and etag:
            self.etag_store.save(url, etag, response.text, kept)
        return Page(url, response.status_code, data, kept)

    def paginate(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        items_key: str | None = None,
        use_etag: bool = True,
    ) -> Iterator[Page]:
        """Yield every page of a listing, following ``Link`` next and ``X-Next-Page``.

        ``items_key`` names the list inside an envelope (``workflow_runs``);
        the yielded pages keep the whole body either way.
        """
        url: str | None = self.url_for(path_or_url, params)
        seen: set[str] = set()
        while url:
            if url in seen:
                raise ApiError(
                    f"GET {url}: the next-page link points back to a page already read", url
                )
            seen.add(url)
            page = self.get(url, use_etag=use_etag)
            yield page
            items = page.data.get(items_key, []) if items_key and page.data else page.data
            url = next_page_url(page) if items else None

    def redact(self, text: str) -> str:
        """Return ``text`` with the token replaced by ``***``."""
        return text.replace(self._token, "***") if self._token else text

    def _send(self, url: str, headers: dict[str, str]) -> requests.Response:
        attempt = 0
        waits = 0
        while True:
            self._wait_for_quota()
            self.stats.requests += 1
            try:
                response = self.session.get(url, headers=headers, timeout=self.timeout)
            except TRANSIENT_ERRORS as exc:
                attempt += 1
                if attempt > self.retry.max_retries:
                    raise ApiError(
                        self.redact(
                            f"GET {url} failed after {attempt} attempts: "
                            f"{type(exc).__name__}: {exc}; check the base URL and the network"
                        ),
                        url,
                    ) from None
                self._backoff(url, attempt, type(exc).__name__)
                continue
            self._note_quota(response)
            rate_wait = self._rate_limit_wait(response)
            if rate_wait is not None:
                waits += 1
                if (
                    waits > self.retry.max_rate_limit_waits
                    or rate_wait > self.retry.max_rate_limit_wait
                ):
                    raise ApiError(
                        f"GET {url}: rate limit still exceeded after {waits} waits "
                        f"(next wait {rate_wait:.0f} s); run again later or raise the quota",
                        url,
                        response.status_code,
                    )
                self.stats.rate_limit_waits += 1
                self.log.warning(
                    "rate limited on GET %s (status %s), waiting %.1f s",
                    url,
                    response.status_code,
                    rate_wait,
                )
                self._sleep(rate_wait)
                continue
            if response.status_code in RETRYABLE_STATUSES:
                attempt += 1
                if attempt > self.retry.max_retries:
                    raise self._error(url, response, attempts=attempt)
                self._backoff(url, attempt, f"status {response.status_code}")
                continue
            return response

    def _backoff(self, url: str, attempt: int, reason: str) -> None:
        delay = min(self.retry.backoff_base * 2 ** (attempt - 1), self.retry.backoff_max)
        self.stats.retries += 1
        self.log.warning(
            "GET %s failed (%s), retry %d of %d in %.1f s",
            url,
            reason,
            attempt,
            self.retry.max_retries,
            delay,
        )
        self._sleep(delay)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.slept_seconds += seconds
            self.sleep(seconds)

    def _wait_for_quota(self) -> None:
        delay = self._pause_until - self.clock()
        if delay > 0:
            if delay > self.retry.max_rate_limit_wait:
                raise ApiError(
                    f"rate limit quota is used up for {delay:.0f} s more; run again later",
                    self.base_url,
                )
            self.stats.rate_limit_waits += 1
            self.log.warning("rate limit quota used up, waiting %.1f s for the reset", delay)
            self._sleep(delay)
        self._pause_until = 0.0

    def _note_quota(self, response: requests.Response) -> None:
        """Remember to pause before the next request when the quota reached 0."""
        remaining, reset = _quota_headers(response.headers)
        if remaining == 0 and reset is not None and response.status_code < 400:
            self._pause_until = max(self._pause_until, reset)

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Return the seconds to wait before retrying a rate-limited response, or None."""
        if response.status_code not in (403, 429):
            return None
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"), self.clock())
        if retry_after is not None:
            return retry_after
        remaining, reset = _quota_headers(response.headers)
        if remaining == 0 and reset is not None:
            return max(reset - self.clock(), 0.0) + 1.0
        if response.status_code == 429 or "rate limit" in response.text.lower():
            # A secondary limit with no header: GitHub documents a wait of at least one minute.
            return 60.0
        return None

    def _error(self, url: str, response: requests.Response, attempts: int = 1) -> ApiError:
        detail = response.text[:300].replace("\n", " ")
        hint = {
            401: "check that the token variable holds a valid token",
            403: "check the token's scopes and the repository permissions",
            404: "check the repository or project name and that the token can see it",
        }.get(response.status_code, "check the API base URL and the server status")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"GET {url} returned {response.status_code}{tries}: {detail}; {hint}"
        return ApiError(self.redact(message), url, response.status_code)


def _quota_headers(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    remaining = headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining")
    reset = headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset")
    try:
        return (
            None if remaining is None else int(remaining),
            None if reset is None else float(reset),
        )
    except ValueError:
        return None, None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - now, 0.0)
