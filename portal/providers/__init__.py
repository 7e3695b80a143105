"""Provider-side campaigns (DESIGN.md §6): clients bound to a connection whose provider sends whole
campaigns itself (MailUp email), and everything that comes back from it. The portal stays the system of
record: audiences, consent and suppression are computed here; the provider only carries the mail.

connection.py  the provider client for a connection (credentials, token cache and rate limit in Redis)
binding.py     binding a client: its list at the provider and the map of its fields to personal fields
translate.py   merge tags → the provider's dynamic fields; what cannot be translated is refused at review
send.py        the resumable send job: push the audience, create the message, send, mark deliveries
pull.py        the periodic pull-back per connection: events, suppression, the list's opt-outs
suppress.py    suppression entries learned in bulk, set-based
webhooks.py    the callback receiver (unsubscribes, profile updates) on a per-binding secret URL
views.py       its public route
progress.py    which step a provider-side send is at, for the campaign page
"""
