"""OpenLive: a self-hosted server for the Live API (BidiGenerateContent) on local models."""

__version__ = "0.1.0"
