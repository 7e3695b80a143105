"""Background work on RQ. Queues are named by purpose so each scales on its own (DESIGN.md §7)."""

QUEUE_MAIL = "mail"  # transactional email (reset, invite)
QUEUE_DEFAULT = "default"  # exports and housekeeping
QUEUE_IMPORTS = "imports"
QUEUE_SENDS = "sends"
QUEUE_SYNC = "sync"  # provider sync (MailUp events, statistics)

# Order is priority: a worker drains mail before anything else.
QUEUES = (QUEUE_MAIL, QUEUE_SENDS, QUEUE_DEFAULT, QUEUE_IMPORTS, QUEUE_SYNC)
