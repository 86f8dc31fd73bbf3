"""Contract tests: the official ``lightfield`` SDK proves the emulator speaks the real API."""
