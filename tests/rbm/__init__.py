"""A fake RBM platform for the RCS tests (see README.md)."""
