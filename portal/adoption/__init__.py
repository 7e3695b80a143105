"""Adopting an existing provider account (issue 13): its lists, groups, personal fields, recipients and
opt-outs brought into the portal in one resumable job, so the portal becomes the system of record
without a CSV by hand and without losing an opt-out. Agencies and clients see it as "import from your
previous provider account"; only the back-office names the provider.

preview.py   what the account holds and what the portal will create (a few calls, nothing written)
remote.py    the paged collections an adoption walks, and what one item of each becomes
reading.py   the resumable reading: every page stored with the cursor after it, in one commit
types.py     field types inferred from the values
targets.py   fields, lists, group lists or segments created (or found again) before contacts arrive
apply.py     the records applied set-based through the import stage and the bulk suppression
optouts.py   the provider's opt-out reasons as suppression reasons
report.py    the report, on the page and as a CSV
service.py   preview, start, the job, the sweeper
views.py     the agency area (a client's page) and the back-office (a connection's page)
"""
