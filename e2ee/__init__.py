"""End-to-end encryption: the Signal protocol core and its Django glue."""
