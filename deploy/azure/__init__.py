"""The Azure ML helper's edges: the SDKs, environments, the python_feed connection, SAS URLs."""
