"""blobpi's deploy package."""
