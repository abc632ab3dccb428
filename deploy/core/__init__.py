"""The Azure ML helper's pure core: targets, pinned requirements."""
