"""The outside world behind small interfaces, each with a local and an AWS implementation.

No dagster imports here: the Dagster layer wraps these in resources.
"""
