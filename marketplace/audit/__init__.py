"""Browsing the audit log (the table itself lives in core.audit)."""
