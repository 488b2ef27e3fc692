"""The demo tenant `make run` seeds (org 1) and the banner it prints."""
