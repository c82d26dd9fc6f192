"""Email: out through an SMTP relay, in through our own SMTP server on the reply domain."""
