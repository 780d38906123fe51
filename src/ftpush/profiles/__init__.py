"""Profile attribute schema and typed coercion."""
