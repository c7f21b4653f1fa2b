"""The HTTP layer: routing, authentication, parameter parsing and error envelopes."""
