"""End-user telephony settings: hunt group login, do-not-disturb, forwarding.

``service`` changes them (from the web app, the API or a feature code) and
publishes the configuration; ``parked`` answers the feature-code calls the
dialplan parks.
"""
