"""Vendors, their members, their apps and the uploaded app versions."""
