"""ser_jax."""
