"""SMS over SMPP 3.4: the link to an aggregator's SMSC and the encodings it needs."""
