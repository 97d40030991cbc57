"""Actions: the only code that writes state and emits events, each inside one transaction."""
