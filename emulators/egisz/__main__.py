"""`python -m emulators.egisz --port N [--host 127.0.0.1]`"""

from __future__ import annotations

import sys

from emulators.common.cli import main

from .server import EgiszEmulator

if __name__ == "__main__":
    sys.exit(main(EgiszEmulator, "ЕГИСЗ / ФРМР (register of medical workers) emulator"))
