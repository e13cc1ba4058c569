"""The integration-events outbox (EVT-01…EVT-05).

``event_publish`` (in :mod:`integrations.outbox.services`) writes an event in
the caller's transaction; ``integrations.tasks.outbox_deliver`` hands it to
every subscriber (:mod:`integrations.outbox.subscribers`) at least once,
retrying on the EVT-04 ladder until the event is sent or dead.
"""
