"""blobpi's tests: unit (pure), integration (real Azurite and clients), deploy (linters)."""
