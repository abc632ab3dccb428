"""Offline checks of the Bicep, the Dockerfile and the CI workflows."""
