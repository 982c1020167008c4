"""The observatory's data transfer (seed 002): raw files filed at their source, packed
into tar packages, moved to a buffer and on to long-term archives, verified there, and
deleted at the source only once safe."""
