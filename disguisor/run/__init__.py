"""``disguisor run``: every stage from a recording to anonymized views, resumable and fail-closed."""
