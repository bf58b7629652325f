"""Opsgenie REST API client: incidents (Incident API v1) and alerts (Alert API v2).

The API host depends on the account's region: ``api.opsgenie.com`` (us) or
``api.eu.opsgenie.com`` (eu). The key is sent as ``Authorization: GenieKey ...``
by the shared :class:`~dagster_project.clients.http.ApiSession`, which retries
5xx answers and waits out ``429`` answers. Listings page with ``offset`` and
``limit`` and end when the response has no ``paging.next`` link. No Dagster imports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from dagster_project.clients.http import ApiError, ApiSession, RetryPolicy
from dagster_project.timeparse import parse_timestamp

REGION_HOSTS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
PAGE_SIZE = 100
PATHS = {"incident": "v1/incidents", "alert": "v2/alerts"}


class OpsgenieError(ApiError):
    """An Opsgenie answer that cannot be used; the message names the URL and the fix."""


def host_for_region(region: str) -> str:
    """Return the API host of a region (``us`` or ``eu``); raise ValueError for others."""
    try:
        return REGION_HOSTS[region.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown Opsgenie region {region!r}; use 'us' (api.opsgenie.com) "
            "or 'eu' (api.eu.opsgenie.com)"
        ) from None


class OpsgenieClient:
    """Read incidents and alerts from one Opsgenie account.

    ``base_url`` overrides the region's host (tests point it at a fake server).
    ``sleep`` replaces ``time.sleep`` so tests never wait.
    """

    def __init__(
        self,
        api_key: str,
        region: str = "us",
        base_url: str | None = None,
        *,
        page_size: int = PAGE_SIZE,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        host = base_url or host_for_region(region)
        if not api_key:
            raise OpsgenieError("Opsgenie API key is empty; set the key variable", url=host)
        self.page_size = page_size
        self.session = ApiSession(
            host,
            token=api_key,
            auth_format="GenieKey {token}",
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            logger=logger,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OpsgenieClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def item_url(self, kind: str, item_id: str) -> str:
        """Return the API URL of one incident or alert (used as a quarantine location)."""
        return self.session.url_for(f"{PATHS[kind]}/{quote(item_id, safe='')}")

    def list_items(
        self, kind: str, query: str | None = None, created_since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield incidents (``kind='incident'``) or alerts, newest first.

        Paging stops at the first item created before ``created_since``, which
        needs the newest-first order the request asks for.
        """
        params: dict[str, str] = {"sort": "createdAt", "order": "desc"}
        if query:
            params["query"] = query
        offset = 0
        while True:
            page_params = {**params, "offset": str(offset), "limit": str(self.page_size)}
            url = f"{self.session.url_for(PATHS[kind])}?{urlencode(page_params)}"
            page = self.session.get(url, use_etag=False)
            body = page.data if isinstance(page.data, dict) else {}
            items = body.get("data")
            if not isinstance(items, list):
                raise OpsgenieError(
                    f"GET {url}: the response has no 'data' list; "
                    "check the region or base URL points at the Opsgenie API",
                    url=url,
                )
            for item in items:
                created = _created_at(item)
                if created_since is not None and created is not None and created < created_since:
                    return
                yield item
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            if not items or not paging.get("next"):
                return
            offset += len(items)

    def get_item(self, kind: str, item_id: str) -> dict[str, Any] | None:
        """Return one incident or alert by id, or None when Opsgenie answers 404."""
        url = f"{self.item_url(kind, item_id)}?identifierType=id"
        page = self.session.get(url, use_etag=False, allow_404=True)
        if page.status == 404:
            return None
        item = (page.data or {}).get("data")
        if not isinstance(item, dict):
            raise OpsgenieError(f"GET {url}: the response has no 'data' object", url=url)
        return item


def _created_at(item: Any) -> datetime | None:
    if not isinstance(item, dict):
        return None
    try:
        return parse_timestamp(item.get("createdAt"), "createdAt")
    except ValueError:
        # The source module quarantines the item with the reason.
        return None
