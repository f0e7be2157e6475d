"""Where the clinic system's FHIR API is and how to call it: one HTTP session, the API key, a timeout.

Shared by the documents' delivery (``services/clinic_exchange.py``) and the change requests' sync
(``services/schedule/clinic_requests.py``), which speak to the same endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class FhirApi:
    http: aiohttp.ClientSession
    base_url: str
    api_key: str = ""
    seconds: float = 10.0
    timeout: aiohttp.ClientTimeout = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "timeout", aiohttp.ClientTimeout(total=self.seconds))

    def url(self, path: str = "") -> str:
        """``/fhir`` + ``path`` on the clinic system (``url("/Task/7")``)."""
        return f"{self.base_url}/fhir{path}"

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/fhir+json", **extra}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        return headers
