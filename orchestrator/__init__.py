"""Schakel: a programmable switch for telephony and contact centres on FreeSWITCH."""

__version__ = "0.1.0"
