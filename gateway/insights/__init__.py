"""The host's analytics: what personalisation earns, what the shop should act on, what lies dormant.

``recorder`` notes every list served and the events sent back from lists;
the figures are made from them (docs/insights.md).
"""
