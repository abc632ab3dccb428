"""Tests in a real headless browser (Debian chromium): the status pages."""
