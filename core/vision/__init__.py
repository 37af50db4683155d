"""Pictures: folders and zips of images, the image classifier, video and its bundle script."""
