"""Plumbing shared by the Wan-based methods (stcdit, simplegvr, litevsr)."""
