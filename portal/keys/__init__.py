"""Keys and the secrets they protect (checklist G38).

- `rotation.py`: `portal rotate-keys` re-encrypts every stored secret with the newest key of
  PORTAL_ENCRYPTION_KEYS and names the ones no key can read.
- `unreadable.py`: what a page or a job does with a secret no configured key can read — say so once,
  clearly, and stop, instead of failing the same way in a loop.

Links in emails signed with an earlier SECRET_KEY are read by portal/mail/tokens.py (PORTAL_OLD_SECRET_KEYS).
"""
