"""Envelope encryption of exchange secrets and the signer, the only code that decrypts."""
