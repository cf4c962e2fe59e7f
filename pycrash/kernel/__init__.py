"""Kernel knowledge over drgn: small helpers that take and return drgn Objects or records."""
