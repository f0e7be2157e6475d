"""Why a sign-in failed, each with the message id that tells the doctor what to do next."""

from __future__ import annotations

from enum import StrEnum

from services.errors import N_, DomainError


class SignInProblem(StrEnum):
    CANCELLED = "cancelled"
    UNCONFIRMED = "unconfirmed"
    VERIFYING = "verifying"
    NO_SNILS = "no_snils"
    DELETED = "deleted"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    NOT_MEDICAL_WORKER = "not_medical_worker"
    LINK_EXPIRED = "link_expired"
    ALREADY_LINKED = "already_linked"
    BLOCKED = "blocked"
    INVALID_RESPONSE = "invalid_response"


# What the doctor reads, in the chat and on the browser page.
PROBLEM_MESSAGES: dict[SignInProblem, str] = {
    SignInProblem.CANCELLED: N_(
        "Sign-in was cancelled at Gosuslugi (or the login or password was wrong). "
        "Press «Sign in with Gosuslugi» to try again."
    ),
    SignInProblem.UNCONFIRMED: N_(
        "Your Gosuslugi account is not confirmed. Confirm it at a service centre, through online banking "
        "or with an electronic signature (gosuslugi.ru → Profile → Confirm account), then sign in again."
    ),
    SignInProblem.VERIFYING: N_(
        "Your Gosuslugi account is still being confirmed. This usually takes from a few minutes to a few days; "
        "sign in again when Gosuslugi says the account is confirmed."
    ),
    SignInProblem.NO_SNILS: N_(
        "Your Gosuslugi account has no verified SNILS. Add SNILS in your Gosuslugi profile and wait for "
        "the check, then sign in again."
    ),
    SignInProblem.DELETED: N_("This Gosuslugi account has been deleted. Sign in with your current account."),
    SignInProblem.REFUSED: N_(
        "Gosuslugi refused the sign-in for this account. Check your account at gosuslugi.ru or contact "
        "Gosuslugi support (8 800 100-70-10), then try again."
    ),
    SignInProblem.UNAVAILABLE: N_(
        "Gosuslugi is not answering right now. Nothing was changed; please try again in a few minutes."
    ),
    SignInProblem.NOT_MEDICAL_WORKER: N_(
        "You are not in the Federal Register of Medical Workers (FRMR), so the doctor's cabinet is not "
        "available. Ask your clinic's HR department to check your FRMR record."
    ),
    SignInProblem.LINK_EXPIRED: N_(
        "This sign-in link has expired or was already used. Go back to the bot and press "
        "«Sign in with Gosuslugi» again."
    ),
    SignInProblem.ALREADY_LINKED: N_(
        "This Gosuslugi account is already linked to another Telegram account. Sign out there first "
        "(/logout), or contact your clinic's administrator."
    ),
    SignInProblem.BLOCKED: N_(
        "Too many unsuccessful sign-in attempts. Sign-in is paused until {until}; then try again."
    ),
    SignInProblem.INVALID_RESPONSE: N_(
        "Gosuslugi's answer could not be verified, so nothing was linked. Please try again later."
    ),
}


class SignInFailed(DomainError):
    def __init__(self, problem: SignInProblem, **params: object) -> None:
        super().__init__(PROBLEM_MESSAGES[problem], **params)
        self.problem = problem
