"""`python -m emulators.signing --port N [--host 127.0.0.1]`"""

from __future__ import annotations

import sys

from emulators.common.cli import main

from .server import SigningEmulator

if __name__ == "__main__":
    sys.exit(main(SigningEmulator, "signing service emulator (GOST R 34.10-2012 detached signatures)"))
