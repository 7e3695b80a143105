"""Sending campaigns exactly once (DESIGN.md §6): the database decides who gets what, Redis only rings.

control.py   start / pause / resume / cancel (request side: flush, never commit)
audience.py  the final audience in SQL, materialised as Delivery rows
batches.py   the worker loop: claim with a lease, re-check suppression, send, mark sent
sweeper.py   periodic repair: expired leases, campaigns without a live job, due schedules, finishing
smtp.py      the SMTP relay backend (connection reuse, TLS, auth, rate limit)
"""
