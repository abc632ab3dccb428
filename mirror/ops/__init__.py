"""Write operations that the CLI and the server share: publish, yank and delete, tokens."""
