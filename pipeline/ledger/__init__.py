"""The claim ledger (issue 15): claims of many articles linked into measures, compared, and
grouped into clusters of one figure with its first-seen outlet and how it spread."""
