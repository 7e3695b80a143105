"""Outbound webhooks (issue 10). `endpoints` (create, rotate with overlap, enable, delete), `signing`
(Standard Webhooks), `dispatch` (events feed → deliveries; one attempt with backoff, 410 and persistent
failure disable the endpoint with a notice; replay). Every request leaves through portal/netguard.py;
the worker runs them (portal/jobs/webhooks.py), never a web request."""
