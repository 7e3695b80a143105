"""Delivery backends (DESIGN.md §6): the bottom floor of sending. They speak their protocol and answer in
the neutral outcomes of `base.py`; they import nothing from the portal above them (models, services, web).

base.py       outcomes and errors, the per-message and provider-side campaign protocols
smtp.py       the SMTP relay: a per-message backend
ratelimit.py  a token bucket in Redis, shared by every worker that uses the same account or relay
addresses.py  recipient addresses on the wire (IDN domains as A-labels, SMTPUTF8 local parts)
mailup/       the MailUp REST client and, in mailup/emulator/, a faithful local emulator of its API
"""
