"""The ChatKit protocol endpoint's machinery: the ``ChatKitServer`` subclass that hands
each turn to a workflow, and the attachment store behind the protocol's two-phase
uploads."""
