"""The vendor SDK for the Open Government App Market. Talks to the platform over HTTP only."""
