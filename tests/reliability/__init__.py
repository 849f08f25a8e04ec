"""Reliability: hostile media, manifests, configs and weights, each refused with its exact reason."""
