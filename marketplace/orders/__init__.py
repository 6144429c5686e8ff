"""Requirement orders: contract, price schedule, acceptance suites, clarification questions."""
