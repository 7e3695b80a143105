"""How to reach one MailUp account: its credentials, the three REST bases, and how politely to call them.

The defaults are the real hosts of the reference (§1); tests and development point the bases at the
emulator (`MailupConfig.for_base(url, ...)`). The frontend pages live on the account's own console host,
so they have no default: give `frontend_url` (or `console_host`) when they are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

SERVICES = "https://services.mailup.com"
TOKEN_PATH = "/Authorization/OAuth/Token"
CONSOLE_PATH = "/API/v1.1/Rest/ConsoleService.svc"
STATISTICS_PATH = "/API/v1.1/Rest/MailStatisticsService.svc"

DEFAULT_TOKEN_URL = SERVICES + TOKEN_PATH
DEFAULT_CONSOLE_URL = SERVICES + CONSOLE_PATH
DEFAULT_STATISTICS_URL = SERVICES + STATISTICS_PATH

# Where the client id and secret travel on the password grant (§2.1). The official samples send both
# the form fields and a Basic header; some clients only one of them. The refresh grant always sends
# them in the form body, without a Basic header, as every sample does (§2.2).
CREDENTIAL_FORMS = ("both", "body", "basic")


@dataclass(frozen=True)
class MailupConfig:
    username: str
    password: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)
    # Names this connection's token cache in Redis (the portal passes e.g. "connection-42"). Every
    # worker using the same key shares one token, so a second process makes no token call.
    connection_key: str
    token_url: str = DEFAULT_TOKEN_URL
    console_url: str = DEFAULT_CONSOLE_URL
    statistics_url: str = DEFAULT_STATISTICS_URL
    frontend_url: str = ""  # http(s)://{console host}; derived from console_host when empty
    console_host: str = ""
    client_credentials: str = "both"
    # One bucket per MailUp account, whatever the connection: the limit is the account's (§14). Burst 1
    # paces calls evenly: MailUp does not say whether it counts in a sliding or a fixed second, and an
    # even pace stays under both while still using the whole allowance.
    rate_per_s: float = 5.0  # 0 = no limit of our own (the emulator with its rate limit off)
    burst: int = 1
    account_key: str = ""  # default: token host + username
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_retries: int = 5  # further attempts after a 429, a 5xx or a lost connection
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0
    # A Retry-After longer than this is not slept through inside a call: the error carries it and the
    # job that made the call reschedules itself instead of holding a worker.
    max_retry_after_s: float = 60.0

    def __post_init__(self):
        if self.client_credentials not in CREDENTIAL_FORMS:
            raise ValueError(f"client_credentials must be one of {', '.join(CREDENTIAL_FORMS)}")
        if not self.connection_key:
            raise ValueError("connection_key is required (it names the token cache)")
        if self.rate_per_s < 0 or self.max_retries < 0:
            raise ValueError("rate_per_s and max_retries cannot be negative")

    @classmethod
    def for_base(cls, base_url: str, **values) -> MailupConfig:
        """Every REST base under one host, as the emulator serves them."""
        base = base_url.rstrip("/")
        values.setdefault("token_url", base + TOKEN_PATH)
        values.setdefault("console_url", base + CONSOLE_PATH)
        values.setdefault("statistics_url", base + STATISTICS_PATH)
        values.setdefault("frontend_url", base)
        return cls(**values)

    @property
    def bucket_key(self) -> str:
        if self.account_key:
            return f"mailup:{self.account_key}"
        return f"mailup:{urlsplit(self.token_url).netloc.lower()}:{self.username.lower()}"

    @property
    def frontend_base(self) -> str:
        if self.frontend_url:
            return self.frontend_url.rstrip("/")
        if self.console_host:
            return f"https://{self.console_host.strip('/')}"
        return ""

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_s, self.read_timeout_s)
