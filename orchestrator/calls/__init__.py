"""End-user call features driven by switch events.

- `orchestrator.calls.history`: call lists (placed, answered, missed) and
  the call event log, written through `orchestrator.calls.records`, which
  never loses a record while the store is down;
- `orchestrator.calls.presence`: available, ringing, busy, do not disturb,
  offline, kept in live state and published;
- `orchestrator.calls.service` and `orchestrator.calls.transfer`: hold,
  blind and attended transfer over the injected `Gateway`;
- `orchestrator.calls.api`: the web routes under ``/api/v1/calls``.
"""
