"""MailUp: the REST client the portal talks through, and a local emulator of the API for tests and development."""
