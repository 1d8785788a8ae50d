"""Models built from the layers in cs260.layers and cs260.layer_utils."""
