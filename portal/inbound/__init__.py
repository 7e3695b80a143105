"""What comes back: bounces (DSN, RFC 3464), complaints (ARF, RFC 5965), classified and recorded."""
