"""The demo dataset `make run` seeds."""
