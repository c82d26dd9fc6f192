"""The event store read in the ways eventsourcing's recorders do not offer, and its save."""
