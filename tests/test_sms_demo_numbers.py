"""The SMS demo seed and the gateway emulator agree: of the demo subscribers exactly one number is a
failing test number (its report says "unknown subscriber"), the others are delivered."""

from __future__ import annotations

from portal.backends.sms_gateway_emulator.state import GatewayMessage, GatewayState
from portal.sms.demo import DEMO_API_KEY, DEMO_NUMBERS


def test_one_demo_number_fails_and_the_others_are_delivered():
    gateway = GatewayState(api_key=DEMO_API_KEY)
    outcomes = {
        number: gateway.outcome(
            GatewayMessage(
                id="m1",
                to=number,
                sender="DemoShop",
                text="Ciao",
                reference="",
                report_url="",
                unicode=False,
                received_at="",
            )
        )
        for number, _name in DEMO_NUMBERS
    }
    assert outcomes == {
        "+393471110011": ("delivered", ""),
        "+393471110002": ("delivered", ""),
        "+393471110000": ("failed", "unknown subscriber"),
    }
