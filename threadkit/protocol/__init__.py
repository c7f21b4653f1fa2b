"""The ChatKit protocol behind ``POST /chatkit``, apart from HTTP:

* ``requests``: a body as the typed request, validated once;
* ``preconditions``: what a request is refused for before anything is stored or streamed;
* ``server``: the ``ChatKitServer`` subclass that hands each turn to a workflow;
* ``reads``: ``threads.get_by_id``, ``items.list`` and ``threads.list`` answered from the
  stored JSON (``wire``), exactly as ``server`` would answer them;
* ``chatkit_adapter``: the one module calling openai-chatkit's private methods;
* ``attachments``: the attachment store behind the protocol's two-phase uploads.
"""
