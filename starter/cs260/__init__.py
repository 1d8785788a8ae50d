"""cs260: layers, models and training tools for the convolutional networks homework."""
