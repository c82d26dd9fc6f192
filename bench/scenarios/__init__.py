"""Scenarios: Chainon itself under a load, in the embedded or the distributed mode."""
