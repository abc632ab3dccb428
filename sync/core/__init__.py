"""The sync's pure core: allow-list and lock parsing, the plan, lock diffs."""
