"""pytest plugin exposing the AEP emulator as fixtures (filled in by the emulator work)."""
