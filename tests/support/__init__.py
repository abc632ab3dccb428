"""Test support: real processes (Azurite, the server, pip, uv) and real distributions."""
