"""The second stage: a message -> routed, normalized, hashed, encoded Meta events.

``message`` decides the outcome (routing, event time and window, value, currency, LDU,
event id), ``matchkeys`` builds ``user_data`` (``normalize``, ``places``, ``phones``),
``custom`` builds ``custom_data``, ``payload`` lays an event out in the API's dialect,
``timeparse`` reads times. (Nothing is imported here: ``config`` uses ``normalize`` and
``places`` without loading the rest.)
"""
