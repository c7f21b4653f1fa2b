"""Domain services: scoping, validation and pagination rules, shared by the REST API,
the ChatKit protocol endpoint and the command line. They speak to a store and
know nothing of HTTP."""
