"""Business operations. Services take the tenant and actor explicitly, flush but never commit, and raise
`DomainError` subclasses with messages fit for the user."""


class DomainError(ValueError):
    """A business rule refused the operation; the message is shown to the user as is."""


class NotFound(DomainError):
    """The object does not exist for this tenant (views answer 404)."""
