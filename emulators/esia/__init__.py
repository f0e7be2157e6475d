"""An emulator of ESIA (Gosuslugi sign-in) for tests and development: `python -m emulators.esia`.

It shares no code with the application's ESIA client, so a misunderstanding of the protocol on
one side shows up as a failure instead of hiding in shared code.
"""

from .clients import DEFAULT_CLIENT_ID, RegisteredClient
from .personas import Address, Contact, IdDocument, Persona, default_personas
from .server import EsiaEmulator
from .settings import EsiaSettings

__all__ = [
    "DEFAULT_CLIENT_ID",
    "Address",
    "Contact",
    "EsiaEmulator",
    "EsiaSettings",
    "IdDocument",
    "Persona",
    "RegisteredClient",
    "default_personas",
]
