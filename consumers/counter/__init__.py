"""The counter desk web app."""
