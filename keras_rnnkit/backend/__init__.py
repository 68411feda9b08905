"""Code that depends on one backend or on Keras internals lives here, and only here."""
