"""The audit log: one table (EventLog) and one function (`audit.services.record`).

The bottom floor of the house: it imports no other app, and every app uses it.
"""
