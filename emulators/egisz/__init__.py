"""An emulator of ЕГИСЗ, starting with ФРМР (the register of medical workers), for tests and
development: `python -m emulators.egisz`. Shares no code with the application."""

from .register import Accreditation, Certificate, Organization, Position, RegisterPerson, default_register
from .server import DEFAULT_API_KEY, EgiszEmulator

__all__ = [
    "DEFAULT_API_KEY",
    "Accreditation",
    "Certificate",
    "EgiszEmulator",
    "Organization",
    "Position",
    "RegisterPerson",
    "default_register",
]
