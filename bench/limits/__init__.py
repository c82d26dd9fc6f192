"""Raw limits: what the machine does with the same data and no Chainon in the way."""
