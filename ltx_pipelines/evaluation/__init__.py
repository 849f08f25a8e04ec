"""Evaluation of adapters against their base model."""
