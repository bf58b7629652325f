"""PagerDuty REST API v2 client: incidents and their log entries.

The token is sent as ``Authorization: Token token=...`` by the shared
:class:`~dagster_project.clients.http.ApiSession`, which also retries 5xx
answers and waits out ``429`` answers as their ``Retry-After`` header asks.
Listings use PagerDuty's classic pagination (``offset``, ``limit`` and the
``more`` flag). No Dagster imports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from dagster_project.clients.http import ApiError, ApiSession, RetryPolicy

DEFAULT_BASE_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_SIZE = 100
# PagerDuty rejects classic pagination past offset + limit = 10000.
MAX_OFFSET = 10_000
# PagerDuty accepts at most six months between `since` and `until`.
MAX_WINDOW = timedelta(days=179)
# A window this short that still exceeds MAX_OFFSET is not split further.
MIN_WINDOW = timedelta(hours=1)


class PagerDutyError(ApiError):
    """A PagerDuty answer that cannot be used; the message names the URL and the fix."""


class _OffsetLimitReached(Exception):
    """A listing that has more items than classic pagination can reach."""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class PagerDutyClient:
    """Read incidents and log entries from one PagerDuty account.

    ``sleep`` replaces ``time.sleep`` (tests pass a recorder so they never wait).
    """

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        page_size: int = PAGE_SIZE,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        if not token:
            raise PagerDutyError("PagerDuty token is empty; set the token variable", url=base_url)
        self.page_size = page_size
        self.session = ApiSession(
            base_url or DEFAULT_BASE_URL,
            token=token,
            auth_format="Token token={token}",
            default_headers={"Accept": ACCEPT, "Content-Type": "application/json"},
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            logger=logger,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PagerDutyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return self.session.base_url.rstrip("/")

    def incident_url(self, incident_id: str) -> str:
        """Return the API URL of one incident (used as a quarantine location)."""
        return f"{self.base_url}/incidents/{quote(incident_id, safe='')}"

    def list_incidents(
        self, since: datetime, until: datetime, service_ids: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Yield every incident created in ``[since, until)``, oldest first.

        The range is cut into windows PagerDuty accepts. A window holding more
        incidents than classic pagination reaches is split in halves.
        """
        start = since
        while start < until:
            end = min(start + MAX_WINDOW, until)
            yield from self._list_window(start, end, service_ids)
            start = end

    def _list_window(
        self, since: datetime, until: datetime, service_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [
            ("since", _iso(since)),
            ("until", _iso(until)),
            ("time_zone", "UTC"),
            ("sort_by", "created_at:asc"),
        ]
        params += [("service_ids[]", service_id) for service_id in service_ids]
        try:
            return list(self._paginate("incidents", params, "incidents", stop_at_cap=True))
        except _OffsetLimitReached:
            if until - since <= MIN_WINDOW:
                raise PagerDutyError(
                    f"PagerDuty lists more than {MAX_OFFSET} incidents created between "
                    f"{_iso(since)} and {_iso(until)}; narrow service_ids",
                    url=f"{self.base_url}/incidents",
                ) from None
            middle = since + (until - since) / 2
            return self._list_window(since, middle, service_ids) + self._list_window(
                middle, until, service_ids
            )

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        """Return one incident, or None when PagerDuty no longer has it (404)."""
        page = self.session.get(self.incident_url(incident_id), allow_404=True)
        if page.status == 404:
            return None
        incident = (page.data or {}).get("incident")
        if not isinstance(incident, dict):
            raise PagerDutyError(
                f"GET {page.url}: the response has no 'incident' object; "
                "check the base URL points at the PagerDuty REST API",
                url=page.url,
            )
        return incident

    def list_log_entries(self, incident_id: str) -> list[dict[str, Any]]:
        """Return every log entry of one incident, in the order PagerDuty lists them."""
        path = f"incidents/{quote(incident_id, safe='')}/log_entries"
        params = [("time_zone", "UTC"), ("is_overview", "false")]
        return list(self._paginate(path, params, "log_entries"))

    def _paginate(
        self,
        path: str,
        params: list[tuple[str, str]],
        items_key: str,
        stop_at_cap: bool = False,
    ) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            query = [*params, ("limit", str(self.page_size)), ("offset", str(offset))]
            url = f"{self.session.url_for(path)}?{urlencode(query)}"
            page = self.session.get(url, use_etag=False)
            body = page.data if isinstance(page.data, dict) else {}
            items = body.get(items_key)
            if not isinstance(items, list):
                raise PagerDutyError(
                    f"GET {url}: the response has no {items_key!r} list; "
                    "check the base URL points at the PagerDuty REST API",
                    url=url,
                )
            yield from items
            if not body.get("more") or not items:
                return
            offset += len(items)
            if offset + self.page_size > MAX_OFFSET:
                if stop_at_cap:
                    raise _OffsetLimitReached
                raise PagerDutyError(
                    f"GET {url}: more than {MAX_OFFSET} {items_key} to page through; "
                    "PagerDuty's classic pagination stops there",
                    url=url,
                )
