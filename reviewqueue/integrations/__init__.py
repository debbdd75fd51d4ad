"""Adapters that put Review Queue in the loop of agent frameworks (optional extras)."""
