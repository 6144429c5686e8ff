"""The catalogue: departments as stores, service items as products with their guide."""
