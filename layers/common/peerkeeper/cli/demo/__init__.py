"""``peerkeeper demo``: the seed lab on an embedded AWS emulator, driven by events, end to end.

moto's server runs in this process on a free loopback port; every client (the demo's own and the
handlers') is pointed at it through ``AWS_ENDPOINT_URL`` with fake credentials, so nothing leaves the
machine. The demo builds the seed lab, then plays a story as the CloudTrail events AWS would put on
EventBridge: part one is the seed lab as written, part two the chapters beyond it. Each event is
routed by the rules of ``template.yaml``, resolved per deployed stack (:mod:`.rules`), to the real
``functions/<name>/app.py`` handler, invoked in-process. peerkeeper's own calls are played back too
(AWS logs them like anyone's), made as the roles of the stack that made them: that stack's rules
drop them (the self-filter), another region's stack hears them like anyone's. The state of the
world is checked after every chapter, and the demo ends with ``plan``: it exits 0 only when every
check held and the plan has no action.

The rooms, bottom to top: :mod:`.lab` (the world: constants, building the lab, reading it back),
:mod:`.emulator` (moto's server, the handlers as Lambda invokes them), :mod:`.cloudtrail` (events in
EventBridge's shape), :mod:`.rules` (the template's rules), :mod:`.story` (the chapters and their
checks), :mod:`.runner` (``main``).

moto and PyYAML (the demo's extra) and rich (the command line's) are imported inside the functions,
never by a handler. An installed package runs the copies of ``template.yaml`` and ``functions/`` it
ships (:func:`.emulator.project_root`).
"""
