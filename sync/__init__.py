"""blobpi's sync package."""
