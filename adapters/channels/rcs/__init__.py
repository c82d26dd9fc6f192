"""RCS over Google's RCS Business Messaging: the REST client, its tokens, the webhook."""
