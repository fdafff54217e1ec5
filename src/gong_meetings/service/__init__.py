"""Business rules: no HTTP and no SQL here."""
