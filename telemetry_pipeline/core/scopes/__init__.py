"""Scopes (SPEC section 10): the dimensions a KPI is broken down by, and the teams file."""
