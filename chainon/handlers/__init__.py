"""Command handlers, one module per concern: each loads, asks the domain, and returns
what it changed; the unit of work saves it."""
