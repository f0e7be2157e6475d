"""ESIA's error codes: the `error` value and the `ESIA-0070xx: …` description that go with each.

Where the operator's table gives no OAuth `error` value, the nearest RFC 6749 one is used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    error: str
    text: str


CODES: dict[str, Code] = {
    "007002": Code("invalid_client", "The client certificate does not match the client_id (mnemonic)."),
    "007003": Code("invalid_request", "The request contains an invalid or duplicated parameter"),
    "007004": Code("access_denied", "The resource owner or authorization server denied the request."),
    "007005": Code("unauthorized_client", "The client is not authorized to use this method."),
    "007006": Code("invalid_scope", "The requested scope is invalid, unknown, or malformed"),
    "007007": Code("server_error", "The authorization server encountered an unexpected condition."),
    "007008": Code(
        "temporarily_unavailable",
        "The authorization server is currently unable to handle the request "
        "due to a temporary overloading or maintenance.",
    ),
    "007011": Code(
        "invalid_grant",
        "The provided authorization grant or refresh token is invalid, expired, revoked "
        "or was issued to another client.",
    ),
    "007012": Code("unsupported_grant_type", "The authorization grant type is not supported."),
    "007013": Code("invalid_request", "The request doesn't contain the scope."),
    "007014": Code("invalid_request", "The request doesn't contain the mandatory parameter"),
    "007015": Code("invalid_request", "Invalid request time (timestamp)."),
    "007023": Code("invalid_request", "The redirect_uri is not allowed for this client."),
    "007039": Code("invalid_request", "A code_verifier was sent but the authorization had no code_challenge."),
    "007040": Code("invalid_grant", "The code_verifier does not match the code_challenge."),
    "007053": Code("invalid_client", "Failed to verify the client secret (signature)."),
    "007055": Code("access_denied", "Sign-in with this account is refused."),
}


class EsiaError(Exception):
    """A refusal with an ESIA code; `detail` is appended (e.g. the missing names in […])."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code
        self.error = CODES[code].error
        text = CODES[code].text
        if detail:
            text = f"{text.rstrip('.')} {detail}"
        self.description = f"ESIA-{code}: {text}"
        super().__init__(self.description)

    def to_json(self, state: str | None = None) -> dict[str, str]:
        body = {"error": self.error, "error_description": self.description}
        if state:
            body["state"] = state
        return body


def missing(names: list[str]) -> EsiaError:
    """007014 naming the missing parameters the way ESIA does: `[a, b]`."""
    return EsiaError("007014", f"[{', '.join(names)}].")
