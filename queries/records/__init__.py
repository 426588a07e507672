"""Records: users, the audit trail, e-signatures, display tokens and recorded settings."""
