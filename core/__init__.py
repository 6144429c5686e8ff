"""Shared kernel: configuration, extensions, errors, audit log, money, identifiers, time.

Imports nothing from the other packages of the platform.
"""
