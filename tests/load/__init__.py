"""The bounded load test (``make load``, ``make soak``): not collected by pytest."""
