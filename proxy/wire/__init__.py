"""Sans-I/O PostgreSQL v3 protocol: framing, messages, codes, value encoding."""
