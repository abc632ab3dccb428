"""blobpi's index: the model, its rendering, the blob store and the server."""
