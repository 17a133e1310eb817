"""``peerkeeper intent``: declare which VPCs talk; peerkeeper builds and keeps the peering network.

A room of its own, read-only analysis beside ``reach`` and ``graph`` until it applies, and then only
through :func:`peerkeeper.reconcile.execute`:

- :mod:`~peerkeeper.intent.model`: the file's networks and the plain values the checks speak of;
- :mod:`~peerkeeper.intent.spec`: the network file (YAML) read into a :class:`~.model.Intent`, every
  mistake one line naming the file, the line and the fix;
- :mod:`~peerkeeper.intent.membership`: members and declared pairs from what one read of each
  account-region saw (pure);
- :mod:`~peerkeeper.intent.check`: every declared pair judged before any call (pure);
- :mod:`~peerkeeper.intent.plan`: the smallest change, and each pair's state (pure);
- :mod:`~peerkeeper.intent.observe`: the reads (the inventory's region-wide listings);
- :mod:`~peerkeeper.intent.run`: observe, check, plan, apply, verify: what the CLI, the demo and the
  ``IntentFunction`` call.

It never deletes a connection or a route.
"""
