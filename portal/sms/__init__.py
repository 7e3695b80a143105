"""SMS campaigns (issue 9). A map of the package:
- segments.py: GSM-7 / UCS-2 segment counting, the one source of truth (server, browser, ledger);
- credits.py: the append-only credit ledger (pool → client → reserved → consumed/released);
- pricing.py: credits per segment per destination country; senders.py: sender ids and their approval;
- sending.py: starting an SMS campaign (audience, per-recipient segments, reservation); settle.py: moving
  reserved credits once per delivery; reports.py / inbound.py: delivery reports and replies (STOP);
- web.py and *_views.py: the client's and the agency's pages; hooks.py: the gateway's callbacks.
The delivery loop itself is the generic one (portal/sending/batches.py with sending/sms_content.py).
"""
