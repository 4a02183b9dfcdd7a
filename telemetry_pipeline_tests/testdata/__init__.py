"""Catalog files the tests run against instead of the shipped ones."""

from pathlib import Path

#: SPEC section 6 as a test fixture (the shipped slos.yaml may be tuned freely).
TEST_SLOS_FILE = Path(__file__).with_name("slos.yaml")
