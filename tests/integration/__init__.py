"""Real stores (a directory, Azurite), the server, real clients and a local upstream."""
