"""`make bench`: otp-service against its stack's limit (see bench/README.md)."""
