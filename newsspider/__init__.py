"""newsspider."""
