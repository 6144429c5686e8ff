"""The start page and the navigation every role sees first."""
