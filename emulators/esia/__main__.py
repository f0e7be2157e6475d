"""`python -m emulators.esia --port N [--host 127.0.0.1]`"""

from __future__ import annotations

import sys

from emulators.common.cli import main

from .server import EsiaEmulator

if __name__ == "__main__":
    sys.exit(main(EsiaEmulator, "ESIA (Gosuslugi sign-in) emulator"))
