"""Two-factor sign-in (TOTP, RFC 6238) and its recovery codes.

totp.py      secrets, codes and the matching time step (pyotp), the enrolment QR code (segno)
recovery.py  the ten single-use recovery codes: generation, normalising, argon2 hashes
policy.py    who must have a second factor (operators always; agency staff / client users by agency)
service.py   enrol, check a sign-in code, disable, reset by an owner or operator, agency requirements
forms.py     the agency's two requirements (agency Security page and the operator's agency page)

The sign-in steps themselves (password → code → session, the enrolment gate) live in portal/auth/ and
portal/guards.py; this package holds the rules and the stored state.
"""
