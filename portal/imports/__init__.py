"""Contact imports: reading messy files safely (sources), normalising addresses (addresses), and the
set-based upsert that stores them (engine)."""
