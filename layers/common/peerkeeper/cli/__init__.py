"""The operator's side: the ``peerkeeper`` command (never imported by a Lambda handler, not in the layer).

One module per command over the shared pieces, top to bottom (``pyproject.toml``'s import-linter
contracts check the order):

- :mod:`~peerkeeper.cli.app`: parses the arguments, runs one command, turns mistakes into one line;
- the commands: :mod:`~peerkeeper.cli.plan` (``plan``, ``apply``), :mod:`~peerkeeper.cli.why`,
  :mod:`~peerkeeper.cli.graph`, :mod:`~peerkeeper.cli.demo` (the embedded emulator and the story);
- :mod:`~peerkeeper.cli.output`: everything a command prints (tables, lines, the progress display);
- :mod:`~peerkeeper.cli.run`: the sweep's plan/apply over accounts and regions, and its document;
- :mod:`~peerkeeper.cli.common`: exit codes, options, the environment a run reads, one-line errors.
"""
