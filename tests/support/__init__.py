"""Helpers of the test suite that are not fixtures: throw-away Redis topologies."""
