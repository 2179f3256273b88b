"""Activation: audiences written per destination, atomically, with a manifest."""
