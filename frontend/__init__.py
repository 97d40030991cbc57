"""The staff web console (and, later, the handset simulator page)."""
