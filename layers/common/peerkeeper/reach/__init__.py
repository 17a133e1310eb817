"""``peerkeeper why``: can SOURCE reach DESTINATION, and if not, what blocks it.

- :mod:`.model`: plain data for what was observed (interfaces, security groups, network ACLs, route
  tables, peering connections) parsed from the API's own shapes;
- :mod:`.analysis`: the reachability model, pure functions over that data (AWS's semantics: longest
  prefix match, first-matching ACL rule, stateful security groups, the peering connection's state);
- :mod:`.packets`: port sets and the packet a hop is asked about;
- :mod:`.fixes`: the change a person could make for each blocking component (pure);
- :mod:`.observe`: the reads, in bulk (one filtered describe per kind and region) and counted;
- :mod:`.command`: find the ends, observe, analyse: the answer and its ``--json`` document (drawn on a
  terminal by :mod:`peerkeeper.cli.output`).

Nothing here makes a mutating call. The Lambda handlers never import this package.
"""
