"""Signed webhooks: a brand's endpoints, what each is owed, and its delivery."""
