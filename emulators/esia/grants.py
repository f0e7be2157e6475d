"""What ESIA remembers between requests: pending sign-in pages, authorization codes, refresh
tokens, browser sessions (SSO) and logouts."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from .personas import Persona


def new_code() -> str:
    # Opaque to the client; long like ESIA's, so nobody is tempted to parse it.
    return secrets.token_urlsafe(48)


@dataclass
class AuthorizeRequest:
    """A request that passed every authorize check and waits for the person's choice."""

    client_id: str
    redirect_uri: str
    scopes: list[str]
    scope_org: str
    state: str
    access_type: str
    code_challenge: str | None
    created: float
    rid: str = field(default_factory=lambda: secrets.token_urlsafe(16))


@dataclass
class AuthorizationCode:
    code: str
    request: AuthorizeRequest
    persona: Persona
    sid: str
    auth_time: int
    issued_at: float


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    persona: Persona
    sid: str
    auth_time: int
    issued_at: float


@dataclass
class Session:
    """An ESIA browser session: one sign-in, reused by SSO until logout."""

    sid: str
    persona: Persona
    auth_time: int
    client_ids: set[str] = field(default_factory=set)
    active: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "persona": self.persona.key,
            "oid": self.persona.oid,
            "auth_time": self.auth_time,
            "client_ids": sorted(self.client_ids),
            "active": self.active,
        }


@dataclass
class Logout:
    time: float
    client_id: str
    redirect_url: str | None
    ended_sids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "client_id": self.client_id,
            "redirect_url": self.redirect_url,
            "ended_sids": self.ended_sids,
        }


class GrantStore:
    def __init__(self) -> None:
        self.pending: dict[str, AuthorizeRequest] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.sessions: dict[str, Session] = {}
        self.logouts: list[Logout] = []

    def open_session(self, persona: Persona, client_id: str, now: float) -> Session:
        session = Session(str(uuid.uuid4()), persona, int(now), {client_id})
        self.sessions[session.sid] = session
        return session

    def active_session(self, sid: str | None) -> Session | None:
        session = self.sessions.get(sid or "")
        return session if session is not None and session.active else None

    def issue_code(self, request: AuthorizeRequest, session: Session, now: float) -> AuthorizationCode:
        code = AuthorizationCode(new_code(), request, session.persona, session.sid, session.auth_time, now)
        self.codes[code.code] = code
        return code

    def take_code(self, code: str) -> AuthorizationCode | None:
        """Single use: a code is gone once presented, whatever the outcome."""
        return self.codes.pop(code, None)

    def issue_refresh(self, code_or_grant: AuthorizationCode | RefreshGrant, now: float) -> RefreshGrant:
        if isinstance(code_or_grant, AuthorizationCode):
            request = code_or_grant.request
            client_id, redirect_uri, scopes = request.client_id, request.redirect_uri, request.scopes
        else:
            client_id, redirect_uri, scopes = code_or_grant.client_id, code_or_grant.redirect_uri, code_or_grant.scopes
        grant = RefreshGrant(
            str(uuid.uuid4()),
            client_id,
            redirect_uri,
            list(scopes),
            code_or_grant.persona,
            code_or_grant.sid,
            code_or_grant.auth_time,
            now,
        )
        self.refresh[grant.token] = grant
        return grant

    def end_sessions(self, sids: list[str]) -> list[str]:
        ended = []
        for sid in sids:
            session = self.sessions.get(sid)
            if session is not None and session.active:
                session.active = False
                ended.append(sid)
        return ended

    def clear(self) -> None:
        self.pending.clear()
        self.codes.clear()
        self.refresh.clear()
        self.sessions.clear()
        self.logouts.clear()
