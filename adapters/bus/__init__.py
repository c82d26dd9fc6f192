"""The bus: keyed, ordered, durable records between Chainon's parts and its users' systems."""
