"""Reliability and security: chaos runs, hostile input, no secret anywhere, TLS."""
