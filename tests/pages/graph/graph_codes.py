"""Graph's throttling codes and the default pause for each (graph-api.md §5.3), as the tests
expect them: written out here, not imported from the client, so that a change there shows."""

THROTTLE_DEFAULTS = {
    4: 300.0,
    17: 300.0,
    32: 900.0,
    341: 300.0,
    613: 60.0,
    80001: 900.0,
    80006: 900.0,
}
