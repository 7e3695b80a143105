"""Building campaign email: merge tags, CSS inlining, tracking, headers, DKIM."""
