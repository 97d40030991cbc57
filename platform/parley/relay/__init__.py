"""The relay: the platform server every Signal client talks to. It holds public keys,
ciphertext envelopes and metadata only, and forgets the metadata after 30 days."""
