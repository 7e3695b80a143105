"""The SMTP relay backend against a real SMTP server: the `ready` gate after 354 (the loop's way to hold a
message's content until the previous message is recorded as sent), answers to the DATA command itself,
and DATA content carried byte for byte."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from portal.backends.base import BackendUnavailable, OutgoingMessage, RecipientRefused, TryLater, Withdrawn
from portal.backends.smtp import RelayConfig, SmtpRelay

from .relay_sink import ScriptedRelay, running


@contextmanager
def _backend(relay: ScriptedRelay):
    """The relay served on a free port, and our backend connected to it (closed afterwards)."""
    with running(relay) as port:
        backend = SmtpRelay(RelayConfig("127.0.0.1", port))
        try:
            yield backend
        finally:
            backend.close()


def _message(to: str, body: bytes = b"Hello\r\n") -> OutgoingMessage:
    payload = (
        b"From: a@example.org\r\nTo: " + to.encode() + b"\r\nX-Send-Id: " + to.encode() + b"\r\n\r\n" + body
    )
    return OutgoingMessage(sender="b@bounces.example.org", recipient=to, payload=payload)


def test_a_message_withdrawn_at_the_gate_is_never_delivered_and_the_next_one_goes_through():
    relay = ScriptedRelay()
    asked = []
    with _backend(relay) as backend:

        def not_ready() -> bool:
            asked.append(dict(relay.rcpt_seen))  # by now the relay has the envelope
            return False

        with pytest.raises(Withdrawn):
            backend.send(_message("anna@example.org"), not_ready)
        answer = backend.send(_message("bruno@example.org"), lambda: True)
    assert asked == [{"anna@example.org": 1}]
    assert relay.accepted == {"bruno@example.org": 1}  # anna's transaction was abandoned mid-DATA
    assert answer.startswith("2.0.0 Ok: queued")


def test_a_failing_gate_abandons_the_message_and_its_error_comes_out():
    relay = ScriptedRelay()
    with _backend(relay) as backend:

        def broken() -> bool:
            raise RuntimeError("the database went away")

        with pytest.raises(RuntimeError, match="database went away"):
            backend.send(_message("anna@example.org"), broken)
        backend.send(_message("bruno@example.org"))
    assert relay.accepted == {"bruno@example.org": 1}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("554 5.3.4 message refused", RecipientRefused),
        ("451 4.3.0 try again later", TryLater),
        ("503 5.5.1 bad sequence of commands", BackendUnavailable),
    ],
)
def test_a_refusal_of_the_data_command_is_about_that_recipient(reply, error):
    """A 4xx/5xx to DATA (before any content) is the recipient's answer like one to RCPT — except a
    protocol error (500-503), which says nothing about the recipient — never a raw protocol exception;
    the connection stays usable."""
    relay = ScriptedRelay(data_command_replies={"anna@example.org": reply})
    with _backend(relay) as backend:
        with pytest.raises(error) as caught:
            backend.send(_message("anna@example.org"))
        backend.send(_message("bruno@example.org"))
    assert reply.split()[1] in caught.value.detail
    assert relay.accepted == {"bruno@example.org": 1}


def test_content_with_leading_dots_arrives_unchanged():
    body = b".hidden line\r\n..two dots\r\n.\r\nnot the end\r\n"
    relay = ScriptedRelay()
    received = []
    with _backend(relay) as backend:
        original = relay.handle_DATA

        async def keep(server, session, envelope):
            received.append(envelope.original_content or envelope.content)
            return await original(server, session, envelope)

        relay.handle_DATA = keep
        backend.send(_message("anna@example.org", body))
    assert received and received[0].endswith(b"\r\n\r\n" + body)


def test_an_address_that_could_break_the_command_line_never_reaches_the_relay():
    relay = ScriptedRelay()
    with _backend(relay) as backend:
        with pytest.raises(RecipientRefused) as caught:
            backend.send(_message("anna@example.org>\r\nRCPT TO:<eve@example.org"))
        backend.send(_message("bruno@example.org"))
    assert caught.value.bounce is False
    assert dict(relay.rcpt_seen) == {"bruno@example.org": 1}
